"""The main job's money: budgets, the day's treasury batches, the bank's returns, reconciliation."""

# The sample's budgets loaded, the day's treasury batches made, a bank that returns a few payments,
# the returns confirmed, and the reconciliation printed.

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
from rich.console import Console

from subsidy.devstack.db_logins import login_url
from subsidy.domain.catalog import Catalog
from subsidy.domain.money import format_fen
from subsidy.domain.payouts.reconcile import Reconciliation
from subsidy.infra.signing_keys import (
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    Signer,
    Verifier,
    write_key_pair,
)
from subsidy.payouts import actions, intake, reports, returns
from subsidy.payouts.bank_simulator import simulate_bank
from subsidy.payouts.persist import Operation
from subsidy.payouts.verify import verify_accounts

BUDGET = Path(__file__).resolve().parents[3] / "data" / "sample-budget.csv"
OPERATOR = "demo-treasurer"
# A few returned payments, as a bank's day brings (户名不符, 账户已销户, …).
RETURN_RATE = Decimal("0.03")
SET_OFF = True  # the platform's default reading (docs/payouts.md)


@dataclass(frozen=True, slots=True)
class MoneyResult:
    """What the money step found: the reconciliation, and what verify said of the accounts."""

    reconciliation: Reconciliation
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Zero unexplained differences and accounts that verify."""
        return not self.reconciliation.unexplained and not self.problems


async def pay_date(owner_url: str) -> date:
    """The sample's business day: the day after its last event (the notices are over)."""
    conn = await asyncpg.connect(owner_url)
    try:
        last = await intake.last_event_day(conn)
    finally:
        await conn.close()
    return (last or date.today()) + timedelta(days=1)


def _treasury_keys(work: Path) -> tuple[Signer, Verifier]:
    """The run's treasury key pair (made once in the work folder): it signs the manifests,
    the simulated bank checks them."""
    keys = work / "treasury-key"
    if not (keys / PRIVATE_KEY_NAME).exists():
        write_key_pair(keys)
    return Signer.from_file(keys / PRIVATE_KEY_NAME), Verifier.from_file(keys / PUBLIC_KEY_NAME)


async def run_money(owner_url: str, catalog: Catalog, work: Path, console: Console) -> MoneyResult:
    """Budgets, batches, the bank, its returns confirmed, then the reconciliation, as the
    payouts' own login."""
    day = await pay_date(owner_url)
    conn = await asyncpg.connect(login_url(owner_url, "payouts"))
    try:
        digest, count, _ = await actions.load_budget_file(
            conn, catalog, SET_OFF, BUDGET, OPERATOR, day
        )
        console.print(f"budget: {BUDGET.name}, {count} envelopes (sha256 {digest[:12]}…)")
        out = work / "batches"
        shutil.rmtree(out, ignore_errors=True)  # this run's batches only, not an earlier run's
        signer, verifier = _treasury_keys(work)
        manifests = await actions.make_batches(
            conn, catalog, SET_OFF, OPERATOR, day, out, signer=signer
        )
        total, count = sum(m.total_fen for m in manifests), sum(m.count for m in manifests)
        console.print(
            f"treasury batches of {day}: {len(manifests)} channels, {count} payments,"
            f" {format_fen(total)} → {out}"
        )
        for seed, m in enumerate(manifests, 1):
            manifest = out / f"{m.batch_id}.manifest.json"
            back = simulate_bank(manifest, RETURN_RATE, seed, verifier=verifier)
            confirmed = await returns.confirm_file(
                conn, catalog, SET_OFF, back, Operation("confirm", OPERATOR)
            )
            console.print(f"  bank return {back.name}: {confirmed}")
        rec = await returns.reconciliation(conn, catalog, SET_OFF)
    finally:
        await conn.close()
    # Wide enough for its columns: a log is read with a wide window, a table cut is not read.
    reports.print_reconciliation(Console(width=max(console.width, 190)), rec)
    owner = await asyncpg.connect(owner_url)
    try:
        problems = await verify_accounts(owner, catalog)
    finally:
        await owner.close()
    console.print("accounts: " + ("verified (chain, balances, debits = credits)" if not problems
                                  else "; ".join(problems)))  # fmt: skip
    return MoneyResult(rec, problems)
