"""What every command prints: one `--format`, one `--lang`, and what a table shows."""

# `--format` is table for people, json or csv for programs; `--lang` (zh or en) is for the tables; a
# table shows the words, money and Beijing times written here.

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from subsidy.domain.beijing import beijing_iso, in_beijing
from subsidy.domain.enums import DISTRICT_NAMES_EN, DISTRICT_NAMES_ZH, District
from subsidy.domain.money import format_fen, wan
from subsidy.domain.payouts.orders import HOLDS_ZH, Hold
from subsidy.domain.words import CHECK_LABELS, FIGURE_LABELS, REASON_WORDS, STATUS_WORDS
from subsidy.infra.spreadsheet_cells import safe_row


class OutputFormat(StrEnum):
    """How a command prints: a table for people (the default everywhere), JSON or CSV for
    programs (codes, integer fen, ISO-8601 instants with their offset)."""

    table = "table"
    json = "json"
    csv = "csv"


class Lang(StrEnum):
    """The language of a table's words (JSON and CSV keep the contract's codes)."""

    zh = "zh"
    en = "en"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="table (for people), json or csv (for programs)."),
]
LangOption = Annotated[
    Lang,
    typer.Option("--lang", envvar="SUBSIDY_LANG", help="The table's language: zh or en."),
]

# Wide enough that a piped table (a file, a pager, a CI log) never wraps an id or an amount.
PIPED_WIDTH = 240


def console(width: int | None = None) -> Console:
    """A terminal at its width; anything else (a pipe, a file) as wide as PIPED_WIDTH, so
    that the terminal's COLUMNS never cuts what a program or a file receives. Text is shown
    as it is: no markup, no emoji codes (an id `x:100:1` keeps its `:100:`)."""
    if width is None and not sys.stdout.isatty():
        width = PIPED_WIDTH
    return Console(width=width, markup=False, emoji=False, highlight=False)


# ---- the words ---------------------------------------------------------------------------------


def pick(lang: Lang, zh: str, en: str) -> str:
    """The text of the language."""
    return zh if lang is Lang.zh else en


def status(code: str, lang: Lang) -> str:
    """`已拨付` / `Paid` for the contract's status code; an unknown code stands for itself."""
    words = STATUS_WORDS.get(code)
    return code if words is None else words[lang.value]


def reasons(codes: Iterable[str], lang: Lang) -> str:
    """Each reason code in words, `；` (zh) or `; ` (en) between them."""
    said = [REASON_WORDS.get(c, {}).get(lang.value, c) for c in codes]
    return pick(lang, "；", "; ").join(said)


def district(code: str, lang: Lang) -> str:
    """`苏州工业园区` / `Suzhou Industrial Park`; an unknown code stands for itself."""
    try:
        d = District(code)
    except ValueError:
        return code
    return (DISTRICT_NAMES_ZH if lang is Lang.zh else DISTRICT_NAMES_EN)[d]


def measure(number: int, lang: Lang) -> str:
    """`第3条` / `Measure 3`."""
    return pick(lang, f"第{number}条", f"Measure {number}")


# The commands' own codes in words, code -> (zh, en): written here once, so that every table
# says the same thing of the same code.
Words = Mapping[str, tuple[str, str]]

CHECKS: Words = CHECK_LABELS
FIGURES: Words = FIGURE_LABELS
OUTCOMES: Words = {
    "ok": ("通过", "passed"),
    "approved": ("已批准", "approved"),
    "AWAITING_SECOND_APPROVAL": ("待另一位审核人批准", "awaiting a second approval"),
    "CORRECTED": ("已更正", "corrected"),
}
REMEDIES: Words = {
    "REOPENED": ("重新审核", "reopened for review"),
    "SOURCE_CORRECTION": ("由数据来源更正", "to be corrected by the source"),
}
SUBMITTED_VIA: Words = {
    "GRPC_API": ("gRPC 接口", "gRPC API"),
    "FEED_WATCHER": ("目录监听", "feed watcher"),
    "CLI_FILE": ("命令行文件", "CLI file"),
    "PORTAL": ("门户网站", "the portal"),
    "SUBMISSION_CHANNEL_UNSPECIFIED": ("未知渠道", "an unknown channel"),
}
_HOLDS_EN = {
    Hold.NEW: "new",
    Hold.PUBLICITY: "on public notice",
    Hold.OBJECTION: "objection under review",
    Hold.BUDGET: "no budget room",
    Hold.NO_ACCOUNT: "no payee account",
    Hold.RETURNED: "returned by the bank",
}
HOLDS: Words = {h.value: (HOLDS_ZH[h], _HOLDS_EN[h]) for h in Hold}
CREDENTIAL_STATES: Words = {
    "active": ("有效", "active"),
    "revoked": ("已吊销", "revoked"),
    "expired": ("已过期", "expired"),
    "revoking": ("待吊销", "revoking"),
}
ROLES: Words = {
    "enterprise": ("企业", "enterprise"),
    "reviewer": ("审核人", "reviewer"),
    "approver": ("审批人", "approver"),
    "auditor": ("审计", "auditor"),
    "admin": ("管理员", "admin"),
}
DELIVERY_CHANNELS: Words = {"webhook": ("网络回调", "webhook"), "email": ("邮件", "email")}
SUBSCRIBERS: Words = {"enterprise": ("企业", "enterprise"), "bureau": ("主管部门", "bureau")}
LANGUAGES: Words = {"zh": ("中文", "Chinese"), "en": ("英文", "English")}
# What a payout or appeal notice tells (a notice PAID says what the status PAID says).
NOTICE_KINDS: Words = {
    "SENT": ("已推送国库", "sent to the treasury"),
    "RETURNED": ("银行退回", "returned by the bank"),
    "BUDGET_ALERT": ("预算预警", "budget alert"),
    "OBJECTION": ("异议待复核", "objection under review"),
    "APPEAL_FILED": ("已提交复核申请", "appeal filed"),
    "APPEAL_DISMISSED": ("复核申请驳回", "appeal dismissed"),
    "APPEAL_UPHELD_BY_CORRECTION": ("复核支持，待数据来源更正", "appeal upheld, source to correct"),
    "APPEAL_REOPENED": ("复核支持，重新审核", "appeal upheld, reopened for review"),
}


def word(words: Words, code: str, lang: Lang) -> str:
    """The code in the language's words; an unknown code stands for itself."""
    pair = words.get(code)
    return code if pair is None else pick(lang, *pair)


def outcome(code: str, lang: Lang) -> str:
    """A ledger check's outcome: a status, a reason or one of OUTCOMES, in words."""
    if code in STATUS_WORDS:
        return status(code, lang)
    if code in REASON_WORDS:
        return reasons([code], lang)
    return word({**OUTCOMES, **REMEDIES}, code, lang)


def money(fen: int) -> str:
    """`¥1,234,567.89`: yuan with thousands separators, never rounded."""
    return format_fen(fen)


def summary_money(fen: int, lang: Lang) -> str:
    """A total: `¥12,345,678.00（1,234.57万元）`, with ASCII brackets in English."""
    return pick(lang, f"{format_fen(fen)}（{wan(fen)}）", f"{format_fen(fen)} ({wan(fen)})")


def beijing(moment: datetime | None) -> str:
    """`2026-01-02 09:30:00 +08:00`: Beijing time to the second, its offset shown; naive refused."""
    if moment is None:
        return ""
    return in_beijing(moment).strftime("%Y-%m-%d %H:%M:%S +08:00")


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in Beijing time with its offset, to the second (JSON, CSV); naive refused."""
    return None if moment is None else beijing_iso(moment)


# ---- the tables --------------------------------------------------------------------------------

# id: never wrapped (an id cut in two is another id); money: never wrapped, right-aligned;
# text: folds onto more lines, so the ids and amounts keep their width at 80 columns.
Kind = Literal["id", "money", "text"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table: its header in both languages, and what it holds."""

    zh: str
    en: str
    kind: Kind = "text"


def table(columns: Sequence[Column], lang: Lang, title: str | None = None) -> Table:
    """A rich table whose ids and amounts are never cut, whatever the width."""
    grid = Table(title=title)
    for c in columns:
        if c.kind == "text":
            grid.add_column(pick(lang, c.zh, c.en), overflow="fold")
        else:
            justify: Literal["left", "right"] = "right" if c.kind == "money" else "left"
            grid.add_column(pick(lang, c.zh, c.en), no_wrap=True, justify=justify)
    return grid


def show(console: Console, grid: Table) -> None:
    """Print the table; when its ids and amounts do not fit the terminal, as wide as they need
    (the terminal then wraps the lines it cannot hold, but cuts nothing)."""
    needed = _least_width(grid)
    if needed <= console.width:
        console.print(grid)
        return
    before = console.width
    console.width = needed
    try:
        console.print(grid)
    finally:
        console.width = before


# A folding column can be this narrow and still read as words.
_FOLDED_WIDTH = 10


def _least_width(grid: Table) -> int:
    """Columns the table needs with its ids and amounts whole: theirs in full, the folding
    columns at _FOLDED_WIDTH, each with its padding (2) and a border (1), and the last border."""
    total = 1
    for column in grid.columns:
        longest = max((cell_len(str(c)) for c in [column.header, *column.cells]), default=0)
        total += (longest if column.no_wrap else min(longest, _FOLDED_WIDTH)) + 3
    return total


# ---- the machine formats -----------------------------------------------------------------------


def write_json(document: Any) -> None:
    """The document as JSON on stdout (UTF-8 text kept as is; instants as `iso` writes them,
    calendar days as YYYY-MM-DD)."""
    json.dump(document, sys.stdout, ensure_ascii=False, indent=1, default=_json_value)
    sys.stdout.write("\n")


def _json_value(value: object) -> str | None:
    """What json cannot write itself. Anything else is refused as json refuses it: a str() of
    an unknown type would put text where a program expects the contract's value."""
    if isinstance(value, datetime):  # before date: a datetime is a date
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A header row and the rows as CSV on stdout, every cell safe to open in a spreadsheet."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(header)
    for row in rows:
        out.writerow(safe_row("" if v is None else v for v in row))


def write_records(records: Sequence[dict[str, Any]], output_format: OutputFormat) -> bool:
    """Flat records as JSON (a list) or CSV (their keys as the header); False for a table,
    which the command draws itself."""
    if output_format is OutputFormat.json:
        write_json(list(records))
        return True
    if output_format is OutputFormat.csv:
        header = list(records[0]) if records else []
        write_csv(header, ([_cell(r.get(k)) for k in header] for r in records))
        return True
    return False


def _cell(value: object) -> object:
    """A CSV cell: lists joined by `;`, instants as ISO-8601 with their offset."""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return iso(value)
    return value
