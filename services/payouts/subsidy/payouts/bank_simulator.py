"""A bank for tests and demos: reads a batch as the bank would and writes its return file."""

import base64
import binascii
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final

from subsidy.domain.payouts.batches import ReturnLine
from subsidy.domain.payouts.errors import PayoutError
from subsidy.infra.signing_keys import Verifier
from subsidy.payouts.batch_files import (
    Manifest,
    batch_digest,
    read_batch_lines,
    read_manifest,
    sha256_file,
)
from subsidy.payouts.return_files import write_return

# Why banks send payments back, as their return files word it.
RETURN_REASONS: Final = ("户名与账号不符", "账号不存在", "账户已销户", "账户已冻结", "收款行退汇")


class BankRefused(PayoutError):
    """The simulated bank will not process a batch (its files changed, or a bad rate)."""


def simulate_bank(
    manifest_path: Path,
    return_rate: Decimal,
    seed: int,
    day: date | None = None,
    verifier: Verifier | None = None,
) -> Path:
    """Process the batch beside `manifest_path`: each line paid or, with probability
    `return_rate`, returned with a reason, drawn from `random.Random(seed)` (the same inputs
    give the same file). Writes `<batch_id>.return.csv` beside the manifest, dated `day`
    (default: the day after the pay date), and returns its path. Given the treasury's public
    key, a manifest it did not sign is refused, as a bank holding the key would."""
    if not return_rate.is_finite() or not Decimal(0) <= return_rate <= Decimal(1):
        raise BankRefused(f"退回率须在 0 至 1 之间 / return rate must be 0 to 1: {return_rate}")
    manifest = read_manifest(manifest_path)
    if verifier is not None:
        _signed(manifest, verifier)
    csv_path = _verified(manifest_path.parent, manifest)
    rng = random.Random(seed)
    lines = []
    for number, ln in enumerate(read_batch_lines(csv_path), start=2):
        returned = Decimal(rng.random()) < return_rate
        reason = rng.choice(RETURN_REASONS) if returned else ""
        lines.append(
            ReturnLine(number, ln.order_id, ln.account_number, ln.amount_fen, not returned, reason)
        )
    out = manifest_path.parent / f"{manifest.batch_id}.return.csv"
    answered = day if day is not None else manifest.pay_date + timedelta(days=1)
    write_return(out, manifest.batch_id, manifest.sha256, lines, answered)
    return out


def _signed(manifest: Manifest, verifier: Verifier) -> None:
    """The manifest carries the treasury's valid signature."""
    try:
        signature = base64.b64decode(manifest.signature, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if manifest.key_id != verifier.key_id or not verifier.valid(signature, manifest.signed_bytes()):
        raise BankRefused(f"批次清单未经签名或签名无效 / manifest not signed by key "
                          f"{verifier.key_id}: {manifest.batch_id}")  # fmt: skip


def _verified(folder: Path, manifest: Manifest) -> Path:
    """The batch CSV, once both data files match the manifest's digests (a bank refuses a
    batch changed after it was signed off)."""
    names = tuple(name for name, _ in manifest.files)
    if names != (f"{manifest.batch_id}.csv", f"{manifest.batch_id}.xlsx"):
        raise BankRefused(f"批次清单的文件不符 / manifest lists other files: {names}")
    for name, digest in manifest.files:
        path = folder / name
        if not path.is_file():
            raise BankRefused(f"批次文件缺失 / batch file missing: {path}")
        if sha256_file(path) != digest:
            raise BankRefused(f"批次文件被改动 / batch file changed since the manifest: {path}")
    if batch_digest(*(d for _, d in manifest.files)) != manifest.sha256:
        raise BankRefused(f"批次清单的 sha256 不符 / manifest digest wrong: {manifest.batch_id}")
    return folder / f"{manifest.batch_id}.csv"
