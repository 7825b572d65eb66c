"""A batch manifest signed with the treasury's key."""

# The same bytes when written again, and a bank holding the public key refuses one unsigned, signed
# by another key, or changed after.

import json
from decimal import Decimal
from pathlib import Path

import pytest

from subsidy.infra.signing_keys import Signer, Verifier, write_key_pair
from subsidy.payouts.bank_simulator import BankRefused, simulate_bank
from subsidy.payouts.batch_files import read_manifest, write_batch
from tests.payouts.sample import sample_batch


def _keys(folder: Path) -> tuple[Signer, Verifier]:
    private, public = write_key_pair(folder)
    return Signer.from_file(private), Verifier.from_file(public)


def test_a_signed_manifest_is_accepted_and_rewritten_byte_for_byte(tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path / "key")
    batch = sample_batch()
    m = write_batch(batch, tmp_path / "out", signer)
    path = tmp_path / "out" / f"{batch.batch_id}.manifest.json"
    first = path.read_bytes()
    write_batch(batch, tmp_path / "out", signer)
    assert path.read_bytes() == first
    assert read_manifest(path).signature == m.signature != ""
    assert simulate_bank(path, Decimal("0.5"), 1, verifier=verifier).is_file()


def test_the_bank_refuses_unsigned_foreign_and_changed_manifests(tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path / "key")
    stranger, _ = _keys(tmp_path / "other")
    batch = sample_batch()
    path = tmp_path / "out" / f"{batch.batch_id}.manifest.json"
    write_batch(batch, tmp_path / "out")
    with pytest.raises(BankRefused, match="not signed"):
        simulate_bank(path, Decimal(0), 1, verifier=verifier)
    write_batch(batch, tmp_path / "out", stranger)
    with pytest.raises(BankRefused, match="not signed"):
        simulate_bank(path, Decimal(0), 1, verifier=verifier)
    write_batch(batch, tmp_path / "out", signer)
    body = json.loads(path.read_bytes())
    body["totalFen"] += 100
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(BankRefused, match="not signed"):
        simulate_bank(path, Decimal(0), 1, verifier=verifier)
