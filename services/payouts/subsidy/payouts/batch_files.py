"""Treasury batch files: the CSV and XLSX sent to the bank and the manifest of their digests."""

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from subsidy.domain.money import FEN_PER_YUAN, format_fen, parse_yuan
from subsidy.domain.payouts.batches import Batch, BatchLine
from subsidy.domain.payouts.errors import BatchRefused
from subsidy.infra.signing_keys import Signer

HEADER: Final = (
    "收款单位",
    "统一社会信用代码",
    "开户银行",
    "账号",
    "金额",
    "用途",
    "资金渠道",
    "业务流水号",
)
# The columns kept as text in the XLSX: Excel would turn an 18-digit number into 1.23E+17.
_TEXT_COLUMNS: Final = frozenset({"统一社会信用代码", "账号"})
_AMOUNT_FORMAT: Final = "#,##0.00"
_WIDTHS: Final = (36, 22, 28, 26, 16, 48, 24, 26)
_SHEET: Final = "批次明细"


@dataclass(frozen=True, slots=True)
class Manifest:
    """What `<batch_id>.manifest.json` says: the batch's figures and its files' digests.

    `files` is (file name, SHA-256 hex) for the CSV then the XLSX; `sha256` is the digest of
    the batch as a whole, the one the bank echoes back in its return file."""

    batch_id: str
    channel: str
    pay_date: date
    count: int
    total_fen: int
    total_yuan: str
    files: tuple[tuple[str, str], ...]
    sha256: str
    # The treasury's Ed25519 signature over the rest (signed_bytes), when it signs batches.
    key_id: str = ""
    signature: str = ""

    def signed_bytes(self) -> bytes:
        """What the signature covers: every figure and digest, as compact sorted JSON."""
        body = _body(self)
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    def digest_of(self, name: str) -> str:
        """The SHA-256 the manifest records for one of its files."""
        for file_name, digest in self.files:
            if file_name == name:
                return digest
        raise KeyError(name)


def plain_yuan(fen: int) -> str:
    """Fen as the bank files write yuan: two decimals, no separator (123456 → "1234.56")."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{yuan}.{cents:02d}"


def sha256_file(path: Path) -> str:
    """The SHA-256 hex of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def batch_digest(csv_sha: str, xlsx_sha: str) -> str:
    """The batch's digest: SHA-256 over the ASCII text `<csv sha256>\\n<xlsx sha256>\\n`
    (lower-case hex, CSV first), so a bank can recompute it from the two files alone."""
    return hashlib.sha256(f"{csv_sha}\n{xlsx_sha}\n".encode("ascii")).hexdigest()


def write_batch(batch: Batch, out_dir: Path, signer: Signer | None = None) -> Manifest:
    """The batch's three files in `out_dir`, named by its id, the manifest signed when a
    signer is given; the same batch always gives the same bytes (no clock is read, Ed25519
    signatures are deterministic), so a batch written again matches what the bank got."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_name, xlsx_name = f"{batch.batch_id}.csv", f"{batch.batch_id}.xlsx"
    csv_bytes, xlsx_bytes = batch_csv(batch), batch_xlsx(batch)
    (out_dir / csv_name).write_bytes(csv_bytes)
    (out_dir / xlsx_name).write_bytes(xlsx_bytes)
    csv_sha = hashlib.sha256(csv_bytes).hexdigest()
    xlsx_sha = hashlib.sha256(xlsx_bytes).hexdigest()
    manifest = Manifest(
        batch_id=batch.batch_id,
        channel=batch.channel,
        pay_date=batch.pay_date,
        count=len(batch.lines),
        total_fen=batch.total_fen,
        total_yuan=format_fen(batch.total_fen),
        files=((csv_name, csv_sha), (xlsx_name, xlsx_sha)),
        sha256=batch_digest(csv_sha, xlsx_sha),
    )
    if signer is not None:
        signature = signer.sign_b64(manifest.signed_bytes())
        manifest = replace(manifest, key_id=signer.key_id, signature=signature)
    (out_dir / f"{batch.batch_id}.manifest.json").write_bytes(_manifest_json(manifest))
    return manifest


def _row(ln: BatchLine) -> tuple[str, ...]:
    return (ln.payee_name, ln.enterprise_id, ln.bank_name, ln.account_number,
            plain_yuan(ln.amount_fen), ln.purpose, ln.channel, ln.order_id)  # fmt: skip


def batch_csv(batch: Batch) -> bytes:
    """The CSV: UTF-8 with a BOM (Excel reads it as UTF-8 only then) and CRLF line ends."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(_row(ln) for ln in batch.lines)
    return text.getvalue().encode("utf-8-sig")


def batch_xlsx(batch: Batch) -> bytes:
    """The XLSX: the CSV's header and rows, 金额 a number shown as #,##0.00, the account and
    the credit code as text; its times are the pay date's midnight, never the clock's."""
    wb = Workbook()
    ws = wb.active
    ws.title = _SHEET
    ws.append(HEADER)
    for ln in batch.lines:
        row = _row(ln)  # 金额 as the number, not its text
        ws.append((*row[:4], Decimal(ln.amount_fen) / FEN_PER_YUAN, *row[5:]))
    for row in ws.iter_rows(min_row=2):
        for name, cell in zip(HEADER, row, strict=True):
            _format_cell(name, cell)
    for letter, width in zip("ABCDEFGH", _WIDTHS, strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    stamp = datetime.combine(batch.pay_date, time())
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.creator = "subsidy payouts"
    raw = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() stamps the clock into docProps/core.xml.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return _fixed_zip(raw.getvalue(), stamp)


def _format_cell(name: str, cell: Any) -> None:
    """One data cell: 金额 as a number; every other column as text (never a formula: a name
    beginning with "=" stays the name)."""
    if name == "金额":
        cell.number_format = _AMOUNT_FORMAT
        return
    cell.data_type = "s"
    if name in _TEXT_COLUMNS:
        cell.number_format = "@"


def _fixed_zip(data: bytes, stamp: datetime) -> bytes:
    """The archive again with every entry's time set to `stamp` (zip entries carry the time
    they were written, which would make every write differ)."""
    out = io.BytesIO()
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def _body(m: Manifest) -> dict[str, object]:
    return {
        "batchId": m.batch_id,
        "channel": m.channel,
        "payDate": m.pay_date.isoformat(),
        "count": m.count,
        "totalFen": m.total_fen,
        "totalYuan": m.total_yuan,
        "files": dict(m.files),
        "sha256": m.sha256,
    }


def _manifest_json(m: Manifest) -> bytes:
    body = _body(m)
    if m.signature:
        body |= {"keyId": m.key_id, "signature": m.signature}
    return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def read_manifest(path: Path) -> Manifest:
    """A manifest written by write_batch; BatchRefused naming the file when it is not one."""
    try:
        body = json.loads(path.read_bytes())
        files = tuple((str(k), str(v)) for k, v in body["files"].items())
        return Manifest(
            batch_id=str(body["batchId"]),
            channel=str(body["channel"]),
            pay_date=date.fromisoformat(body["payDate"]),
            count=int(body["count"]),
            total_fen=int(body["totalFen"]),
            total_yuan=str(body["totalYuan"]),
            files=files,
            sha256=str(body["sha256"]),
            key_id=str(body.get("keyId", "")),
            signature=str(body.get("signature", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise BatchRefused(f"批次清单无法读取 / not a batch manifest: {path}: {err!r}") from None


def read_batch_lines(path: Path) -> list[BatchLine]:
    """The lines of a batch CSV written by write_batch (its header checked)."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    if not rows or tuple(rows[0]) != HEADER:
        raise BatchRefused(f"批次文件表头不符 / not a batch file header: {path}")
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(HEADER):
            raise BatchRefused(f"{path} line {number}: 列数不符 / {len(row)} columns")
        payee, enterprise, bank, account, amount, purpose, channel, order = row
        lines.append(BatchLine(order, payee, enterprise, bank, account, parse_yuan(amount),
                               purpose, channel))  # fmt: skip
    return lines
