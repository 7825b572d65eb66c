"""Budget files: each channel's envelope for a year, read from a finance bureau's CSV."""

import csv
import hashlib
import io
import re
from pathlib import Path
from typing import Final

from subsidy.domain.money import parse_yuan
from subsidy.domain.payouts.budget import EnvelopeLine
from subsidy.domain.payouts.errors import BudgetRefused

COL_CHANNEL: Final = "资金渠道"
COL_YEAR: Final = "年度"
COL_AMOUNT: Final = "预算金额(元)"
# People type the parentheses full-width as often as not.
_AMOUNT_HEADERS: Final = frozenset({COL_AMOUNT, "预算金额（元）"})
_YEAR = re.compile(r"[0-9]{4}")
YEAR_MIN: Final = 2000
YEAR_MAX: Final = 2100


def _refused(line: int, column: str, message: str) -> BudgetRefused:
    return BudgetRefused(f"line {line}, {column}: {message}")


def read_budget(path: Path) -> tuple[str, list[EnvelopeLine]]:
    """(the file's SHA-256 hex, its envelope lines). BudgetRefused, its message starting
    `line N, <column>:`, at the first fault; a channel and year named twice is one."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _refused(1, "编码", f"不是 UTF-8 / not UTF-8: {err}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise _refused(1, "表头", "空文件 / the file is empty")
    cells = tuple(h.strip() for h in header)
    if len(cells) != 3 or cells[:2] != (COL_CHANNEL, COL_YEAR) or cells[2] not in _AMOUNT_HEADERS:
        raise _refused(
            1, "表头", f"表头应为 / the header must be {COL_CHANNEL},{COL_YEAR},{COL_AMOUNT}"
        )
    lines: list[EnvelopeLine] = []
    seen: dict[tuple[str, int], int] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # a blank line (Excel leaves some at the end)
        ln = _line(reader.line_num, row)
        first = seen.setdefault((ln.channel, ln.year), ln.line)
        if first != ln.line:
            raise _refused(
                ln.line,
                COL_CHANNEL,
                f"{ln.channel} {ln.year} 与第 {first} 行重复 / also on line {first}",
            )
        lines.append(ln)
    if not lines:
        raise _refused(2, COL_CHANNEL, "预算文件没有任何行 / the file has no lines")
    return hashlib.sha256(data).hexdigest(), lines


def _line(number: int, row: list[str]) -> EnvelopeLine:
    """One line, its columns checked in the header's order."""
    if len(row) != 3:
        column = (COL_CHANNEL, COL_YEAR, COL_AMOUNT)[len(row)] if len(row) < 3 else "列数"
        raise _refused(
            number, column, f"应有 3 列，实有 {len(row)} 列 / {len(row)} columns, 3 expected"
        )
    channel, year_text, amount_text = (c.strip() for c in row)
    if not channel:
        raise _refused(number, COL_CHANNEL, "不能为空 / must not be empty")
    if ":" in channel:
        # The channel is part of account names, where ':' separates the parts.
        raise _refused(number, COL_CHANNEL, f"{channel!r} 不能含 ':' / must not contain ':'")
    if not _YEAR.fullmatch(year_text) or not YEAR_MIN <= int(year_text) <= YEAR_MAX:
        raise _refused(
            number,
            COL_YEAR,
            f"{year_text!r} 须为 {YEAR_MIN} 至 {YEAR_MAX} 的年份"
            f" / must be a year {YEAR_MIN} to {YEAR_MAX}",
        )
    try:
        amount = parse_yuan(amount_text)
    except ValueError as err:
        raise _refused(
            number,
            COL_AMOUNT,
            f"{amount_text!r} 须为不小于零的元金额 / not an amount ≥ 0 in yuan: {err}",
        ) from None
    return EnvelopeLine(number, channel, int(year_text), amount)
