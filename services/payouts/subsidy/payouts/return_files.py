"""The bank's (treasury's) return file: read and checked against the batch manifest, and written."""

import csv
import io
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Final

from subsidy.domain.money import parse_yuan
from subsidy.domain.payouts.batches import ReturnLine
from subsidy.domain.payouts.errors import ReturnRefused
from subsidy.payouts.batch_files import Manifest, plain_yuan

RETURN_HEADER: Final = (
    "批次号",
    "批次文件SHA-256",
    "业务流水号",
    "账号",
    "金额",
    "处理结果",
    "退回原因",
    "处理日期",
)
PAID: Final = "成功"
RETURNED: Final = "退回"
_ACCOUNT = re.compile(r"[0-9]{8,32}")  # as a payee registers it: 8 to 32 ASCII digits
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HEADER_LINE: Final = 1


def read_return(path: Path, manifest: Manifest) -> tuple[str, date, list[ReturnLine]]:
    """(batch id, latest 处理日期, the lines) of a return file for the manifest's batch.

    Each line is checked on its own here (columns, formats, the batch and its digest); the
    lines against the batch's orders are the domain's check_return. ReturnRefused names the
    line (the header is line 1) and the column of the first fault."""
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        raise ReturnRefused(_HEADER_LINE, "表头", "空文件 / the file is empty")
    if tuple(h.strip() for h in header) != RETURN_HEADER:
        raise ReturnRefused(
            _HEADER_LINE, "表头", f"表头应为 / the header must be {','.join(RETURN_HEADER)}"
        )
    lines: list[ReturnLine] = []
    latest: date | None = None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # a blank line (Excel leaves some at the end)
        ret, day = _line(reader.line_num, row, manifest)
        lines.append(ret)
        latest = day if latest is None or day > latest else latest
    if latest is None:
        raise ReturnRefused(
            _HEADER_LINE + 1, "业务流水号", "退回文件没有明细行 / the file has no lines"
        )
    return manifest.batch_id, latest, lines


def _text(path: Path) -> str:
    """The file as text: UTF-8, with or without a BOM."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ReturnRefused(_HEADER_LINE, "编码", f"不是 UTF-8 / not UTF-8: {err}") from None


def _line(number: int, row: list[str], manifest: Manifest) -> tuple[ReturnLine, date]:
    """One line as a ReturnLine and its 处理日期, every column checked in the header's order."""
    if len(row) != len(RETURN_HEADER):
        missing = RETURN_HEADER[len(row)] if len(row) < len(RETURN_HEADER) else "列数"
        raise ReturnRefused(
            number,
            missing,
            f"应有 {len(RETURN_HEADER)} 列，实有 {len(row)} 列"
            f" / {len(row)} columns, {len(RETURN_HEADER)} expected",
        )
    cells = dict(zip(RETURN_HEADER, (c.strip() for c in row), strict=True))
    if cells["批次号"] != manifest.batch_id:
        raise ReturnRefused(
            number, "批次号", f"{cells['批次号']!r} 不是本批次 / is not batch {manifest.batch_id}"
        )
    if cells["批次文件SHA-256"].lower() != manifest.sha256:
        raise ReturnRefused(
            number,
            "批次文件SHA-256",
            f"{cells['批次文件SHA-256']!r} 与批次清单不符 / is not the"
            f" manifest's {manifest.sha256}",
        )
    if not cells["业务流水号"]:
        raise ReturnRefused(number, "业务流水号", "不能为空 / must not be empty")
    if not _ACCOUNT.fullmatch(cells["账号"]):
        raise ReturnRefused(
            number, "账号", f"{cells['账号']!r} 须为 8 至 32 位数字 / must be 8 to 32 digits"
        )
    amount = _amount(number, cells["金额"])
    paid = _outcome(number, cells["处理结果"])
    if not paid and not cells["退回原因"]:
        raise ReturnRefused(number, "退回原因", "退回须写明原因 / a return needs the reason")
    day = _day(number, cells["处理日期"], manifest)
    reason = "" if paid else cells["退回原因"]
    return ReturnLine(number, cells["业务流水号"], cells["账号"], amount, paid, reason), day


def _amount(number: int, text: str) -> int:
    """金额 in yuan to fen: a plain number with at most two decimals (whether it is what the
    batch sent is check_return's)."""
    try:
        return parse_yuan(text)
    except ValueError as err:
        raise ReturnRefused(number, "金额", f"{text!r} 不是金额 / not an amount: {err}") from None


def _outcome(number: int, text: str) -> bool:
    """处理结果: True for 成功 (paid), False for 退回 (returned)."""
    if text not in (PAID, RETURNED):
        raise ReturnRefused(
            number, "处理结果", f"{text!r} 须为 {PAID} 或 {RETURNED} / must be {PAID} or {RETURNED}"
        )
    return text == PAID


def _day(number: int, text: str, manifest: Manifest) -> date:
    """处理日期 as YYYY-MM-DD, not before the batch's pay date (the bank cannot answer early)."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError("not YYYY-MM-DD")
        day = date.fromisoformat(text)
    except ValueError as err:
        raise ReturnRefused(
            number, "处理日期", f"{text!r} 须为 YYYY-MM-DD 日期 / not a date: {err}"
        ) from None
    if day < manifest.pay_date:
        raise ReturnRefused(
            number,
            "处理日期",
            f"{day} 早于付款日 {manifest.pay_date} / before the batch's pay date",
        )
    return day


def write_return(
    path: Path, batch_id: str, manifest_sha: str, lines: Sequence[ReturnLine], day: date
) -> None:
    """A return file as a bank writes it (UTF-8 with a BOM, CRLF), every line dated `day`."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(RETURN_HEADER)
    for ln in lines:
        writer.writerow(
            (
                batch_id,
                manifest_sha,
                ln.order_id,
                ln.account_number,
                plain_yuan(ln.amount_fen),
                PAID if ln.paid else RETURNED,
                ln.reason,
                day.isoformat(),
            )
        )
    path.write_bytes(text.getvalue().encode("utf-8-sig"))
