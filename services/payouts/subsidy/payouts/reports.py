"""What the payouts print: the reconciliation, the ageing report and the accounts' balances."""

# As a table for people (zh or en, ¥ amounts) or JSON for machines (fen).

import dataclasses
import fnmatch
import functools
from typing import Any

from rich.console import Console
from rich.table import Table

from subsidy.domain.money import format_fen, wan
from subsidy.domain.payouts.accounts import Accounts
from subsidy.domain.payouts.orders import Hold
from subsidy.domain.payouts.reconcile import (
    NOT_TAKEN_IN,
    UNEXPLAINED,
    Difference,
    Reconciliation,
    Row,
)
from subsidy.domain.payouts.recovery import BUCKETS, AgeingRow
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Column, Lang


def _waiting(hold: Hold) -> Any:
    return lambda r: r.waiting[hold.value]


# The reconciliation's two tables: (column, the row's figure), in 万元.
_PAYMENTS: list[tuple[Column, Any]] = [
    (Column("已核定", "granted", "money"), lambda r: r.granted),
    (Column("已发放", "paid", "money"), lambda r: r.paid_out),
    (Column("发放中", "in batch", "money"), lambda r: r.in_batches),
    (Column("待推送", "payable", "money"), lambda r: r.payable),
    *[(Column(*out.HOLDS[h.value], "money"), _waiting(h)) for h in Hold],
    (Column("已抵扣", "set off", "money"), lambda r: r.set_off),
    (Column("预算", "budget", "money"), lambda r: r.budget),
]
_RECEIVABLES: list[tuple[Column, Any]] = [
    (Column("应收", "receivable", "money"), lambda r: r.receivables),
    (Column("已收回", "collected", "money"), lambda r: r.collected),
    (Column("抵扣收回", "set off", "money"), lambda r: r.recovered_by_set_off),
    (Column("已核销", "written off", "money"), lambda r: r.written_off),
    (Column("未收回", "outstanding", "money"), lambda r: r.outstanding),
]


def reconciliation_json(rec: Reconciliation) -> dict[str, Any]:
    """The reconciliation as JSON (fen), with every difference and its cause."""
    return {
        "rows": [dataclasses.asdict(r) for r in rec.rows],
        "differences": [dataclasses.asdict(d) for d in rec.differences],
        "unexplained": len(rec.unexplained),
        "debitsFen": rec.debits_fen,
        "creditsFen": rec.credits_fen,
    }


def print_reconciliation(console: Console, rec: Reconciliation, lang: Lang = Lang.zh) -> None:
    """Payments, then receivables, one row per channel and year (万元); then the accounts'
    sum and every difference with its cause."""
    title = out.pick(lang, "对账（万元）：已核定 = 已发放 + 发放中 + 待推送 + 等待 + 已抵扣",
                     "Reconciliation (10,000 yuan): granted = paid + in batch + payable"
                     " + waiting + set off")  # fmt: skip
    say = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    say(title)  # above the table, whole: a table's title wraps at the table's width
    out.show(console, _table(rec.rows, _PAYMENTS, lang))
    owed = [r for r in rec.rows if r.receivables]
    if owed:
        title = out.pick(lang, "应收（万元）= 已收回 + 抵扣收回 + 已核销 + 未收回",
                         "Receivables (10,000 yuan) = collected + set off + written off"
                         " + outstanding")  # fmt: skip
        say(title)
        out.show(console, _table(owed, _RECEIVABLES, lang))
    debits, credits = format_fen(rec.debits_fen), format_fen(rec.credits_fen)
    even = rec.debits_fen == rec.credits_fen
    balanced = out.pick(lang, "平衡" if even else "不平衡", "balanced" if even else "NOT BALANCED")
    say(out.pick(lang, f"账户：借方 {debits} = 贷方 {credits}（{balanced}）",
                 f"accounts: debits {debits} = credits {credits} ({balanced})"))  # fmt: skip
    if not rec.differences:
        say(out.pick(lang, "差异：无（无未解释差异）", "differences: none (zero unexplained)"))
    for d in rec.differences:
        say(difference_line(d, lang))


# The reconciliation's figures and causes (subsidy.domain.payouts.reconcile) in Chinese; the
# domain's own words are the English, and JSON keeps them.
_FIGURES_ZH = {
    "granted": "已核定",
    "granted = paid out + in batches + payable + waiting + set off":
        "已核定 = 已发放 + 发放中 + 待推送 + 暂缓 + 已抵扣",
    "receivables = collected + set off + written off + outstanding":
        "应收 = 已收回 + 抵扣收回 + 已核销 + 未收回",
    "paid out (orders vs accounts)": "已发放（指令与账户）",
    "in batches (orders vs accounts)": "发放中（指令与账户）",
    "committed, not sent (orders vs accounts)": "已承诺未推送（指令与账户）",
    "committed from budget (orders vs accounts)": "预算已承诺（指令与账户）",
    "receivables raised (records vs accounts)": "已立应收（记录与账户）",
    "outstanding (records vs accounts)": "未收回（记录与账户）",
    "collected (records vs accounts)": "已收回（记录与账户）",
    "written off (records vs accounts)": "已核销（记录与账户）",
    "order vs the ledger's decision": "支付指令与账本决定",
}  # fmt: skip
_CAUSES_ZH = {UNEXPLAINED: "未解释", NOT_TAKEN_IN: "账本已作决定，支付尚未纳入（下次纳入时消除）"}


def difference_line(d: Difference, lang: Lang) -> str:
    """`差异 市科技局 2026 已发放（指令与账户）：应为 ¥…，实为 ¥… — 未解释`, or in English."""
    expected, found = format_fen(d.expected_fen), format_fen(d.found_fen)
    if lang is Lang.en:
        of = f" {d.order_id}" if d.order_id else ""
        return (f"difference {d.channel} {d.year} {d.figure}{of}: expected {expected},"
                f" found {found} — {d.cause}")  # fmt: skip
    figure, cause = _FIGURES_ZH.get(d.figure, d.figure), _CAUSES_ZH.get(d.cause, d.cause)
    of = f"（{d.order_id}）" if d.order_id else ""
    return f"差异 {d.channel} {d.year} {figure}{of}：应为 {expected}，实为 {found} — {cause}"


def _table(rows: list[Row], columns: list[tuple[Column, Any]], lang: Lang) -> Table:
    """The rows under the columns that are not all zero, with a total."""
    shown = [(c, f) for c, f in columns if any(f(r) for r in rows)]
    heads = [Column("资金渠道", "channel", "id"), Column("年度", "year"), *(c for c, _ in shown)]
    table = out.table(heads, lang)
    for r in rows:
        table.add_row(r.channel, str(r.year), *(_wan(f(r)) for _, f in shown))
    if rows:
        total = _total(rows)
        table.add_row(out.pick(lang, "合计", "total"), "", *(_wan(f(total)) for _, f in shown),
                      style="bold")  # fmt: skip
    return table


def _wan(fen: int) -> str:
    return wan(fen).removesuffix("万元") if fen else "-"


def _total(rows: list[Row]) -> Row:
    total = Row("", 0)
    for r in rows:
        for f in dataclasses.fields(Row):
            value = getattr(r, f.name)
            if isinstance(value, int) and f.name != "year":
                setattr(total, f.name, getattr(total, f.name) + value)
        for hold, fen in r.waiting.items():
            total.waiting[hold] += fen
    return total


def _money(fen: int) -> str:
    return format_fen(fen) if fen else "-"


def print_ageing(console: Console, rows: list[AgeingRow], lang: Lang = Lang.zh) -> None:
    """Outstanding receivables by channel and days outstanding."""
    if not rows:
        console.print(out.pick(lang, "应收账龄：无未收回应收款",
                               "receivables ageing: nothing outstanding"))  # fmt: skip
        return
    columns = [Column("资金渠道", "channel", "id"),
               *(Column(f"{name} 天", f"{name} days", "money") for name, _ in BUCKETS),
               Column("合计", "total", "money")]  # fmt: skip
    title = out.pick(lang, "应收账龄（未收回天数）", "Receivables ageing (days outstanding)")
    table = out.table(columns, lang, title)
    for r in rows:
        table.add_row(r.channel, *(_money(r.buckets[n]) for n, _ in BUCKETS), _money(r.total_fen))
    out.show(console, table)


def balances_rows(accounts: Accounts, pattern: str | None) -> list[dict[str, Any]]:
    """Accounts whose name matches the glob `pattern` (all when None), by name."""
    return [
        {
            "account": name,
            "debitsFen": b.debits_fen,
            "creditsFen": b.credits_fen,
            "balanceFen": b.credit_balance,
        }
        for name, b in sorted(accounts.balances.items())
        if pattern is None or fnmatch.fnmatchcase(name, pattern)
    ]


_BALANCES = (Column("账户", "account", "id"), Column("借方", "debits", "money"),
             Column("贷方", "credits", "money"), Column("余额", "balance", "money"))  # fmt: skip


def print_balances(console: Console, rows: list[dict[str, Any]], lang: Lang = Lang.zh) -> None:
    """The accounts as a table (balance = credits − debits)."""
    title = out.pick(lang, "账户余额（余额 = 贷方 − 借方）",
                     "Account balances (balance = credits − debits)")  # fmt: skip
    table = out.table(_BALANCES, lang, title)
    for r in rows:
        table.add_row(r["account"], format_fen(r["debitsFen"]), format_fen(r["creditsFen"]),
                      format_fen(r["balanceFen"]))  # fmt: skip
    out.show(console, table)
