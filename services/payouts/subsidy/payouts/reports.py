"""What the payouts print: the reconciliation, the ageing report and the accounts' balances,
as a table for people (Chinese first, ¥ amounts) or JSON for machines (fen)."""

import dataclasses
import fnmatch
from typing import Any

from rich.console import Console
from rich.table import Table

from subsidy.domain.money import format_fen, wan
from subsidy.domain.payouts.accounts import Accounts
from subsidy.domain.payouts.orders import HOLDS_ZH, Hold
from subsidy.domain.payouts.reconcile import Reconciliation, Row
from subsidy.domain.payouts.recovery import BUCKETS, AgeingRow

# The reconciliation's columns: (label, the row's figure).


def _waiting(hold: Hold) -> Any:
    return lambda r: r.waiting[hold.value]


# The reconciliation's two tables: (label, the row's figure), in 万元.
_PAYMENTS: list[tuple[str, Any]] = [
    ("已核定 granted", lambda r: r.granted),
    ("已发放 paid", lambda r: r.paid_out),
    ("发放中 in batch", lambda r: r.in_batches),
    ("待推送 payable", lambda r: r.payable),
    *[(HOLDS_ZH[h], _waiting(h)) for h in Hold],
    ("已抵扣 set off", lambda r: r.set_off),
    ("预算 budget", lambda r: r.budget),
]
_RECEIVABLES: list[tuple[str, Any]] = [
    ("应收 receivable", lambda r: r.receivables),
    ("已收回 collected", lambda r: r.collected),
    ("抵扣收回 set off", lambda r: r.recovered_by_set_off),
    ("已核销 written off", lambda r: r.written_off),
    ("未收回 outstanding", lambda r: r.outstanding),
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


def print_reconciliation(console: Console, rec: Reconciliation) -> None:
    """Payments, then receivables, one row per channel and year (万元); then the accounts'
    sum and every difference with its cause."""
    title = "对账 reconciliation (万元): granted = paid + in batch + payable + waiting + set off"
    console.print(_table(title, rec.rows, _PAYMENTS))
    owed = [r for r in rec.rows if r.receivables]
    if owed:
        title = "应收 receivables (万元) = collected + set off + written off + outstanding"
        console.print(_table(title, owed, _RECEIVABLES))
    balanced = "balanced" if rec.debits_fen == rec.credits_fen else "NOT BALANCED"
    console.print(f"accounts: debits {format_fen(rec.debits_fen)} = credits "
                  f"{format_fen(rec.credits_fen)} ({balanced})")  # fmt: skip
    if not rec.differences:
        console.print("差异 differences: none (无未解释差异 / zero unexplained)")
    for d in rec.differences:
        console.print(f"差异 {d.channel} {d.year} {d.figure}: expected {format_fen(d.expected_fen)}"
                      f", found {format_fen(d.found_fen)} — {d.cause}")  # fmt: skip


def _table(title: str, rows: list[Row], columns: list[tuple[str, Any]]) -> Table:
    """The rows under the columns that are not all zero, with a total."""
    table = Table(title=title, title_justify="left")
    table.add_column("资金渠道 channel")
    table.add_column("年度")
    shown = [(label, f) for label, f in columns if any(f(r) for r in rows)]
    for label, _ in shown:
        table.add_column(label, justify="right")
    for r in rows:
        table.add_row(r.channel, str(r.year), *(_wan(f(r)) for _, f in shown))
    if rows:
        total = _total(rows)
        table.add_row("合计 total", "", *(_wan(f(total)) for _, f in shown), style="bold")
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


def print_ageing(console: Console, rows: list[AgeingRow]) -> None:
    """Outstanding receivables by channel and days outstanding."""
    table = Table(title="应收账龄 receivables ageing (days outstanding)")
    table.add_column("资金渠道 channel")
    for name, _ in BUCKETS:
        table.add_column(f"{name} 天", justify="right")
    table.add_column("合计 total", justify="right")
    for r in rows:
        table.add_row(r.channel, *(_money(r.buckets[n]) for n, _ in BUCKETS), _money(r.total_fen))
    console.print(table if rows else "应收账龄: nothing outstanding (无未收回应收款)")


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


def print_balances(console: Console, rows: list[dict[str, Any]]) -> None:
    """The accounts as a table (balance = credits − debits)."""
    table = Table(title="账户余额 account balances (balance = credits − debits)")
    for col in ("账户 account", "借方 debits", "贷方 credits", "余额 balance"):
        table.add_column(col, justify="left" if col.startswith("账户") else "right")
    for r in rows:
        table.add_row(r["account"], format_fen(r["debitsFen"]), format_fen(r["creditsFen"]),
                      format_fen(r["balanceFen"]))  # fmt: skip
    console.print(table)
