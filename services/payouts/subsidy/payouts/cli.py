"""`subsidy payouts …`: orders, treasury batches, the bank's returns, recovery, reconciliation."""

# Orders go through their holds; every change is made in one transaction under the desk lock.

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from rich.console import Console

from subsidy.domain.beijing import BEIJING
from subsidy.domain.catalog import Catalog
from subsidy.domain.money import format_fen, parse_yuan
from subsidy.domain.payouts import recovery
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import PayoutError
from subsidy.domain.payouts.orders import OrderState
from subsidy.infra.cli_output import (
    FormatOption,
    Lang,
    LangOption,
    OutputFormat,
    console,
    write_json,
    write_records,
)
from subsidy.infra.commands import database_command, load_settings, service_policy
from subsidy.infra.db_roles import check_role
from subsidy.infra.postgres import connect
from subsidy.infra.signing_keys import Verifier
from subsidy.payouts import actions, reports, returns
from subsidy.payouts.bank_simulator import simulate_bank
from subsidy.payouts.db import ROLE
from subsidy.payouts.operations import operate, read_desk
from subsidy.payouts.persist import Operation
from subsidy.payouts.settings import PayoutsSettings
from subsidy.payouts.verify import verify_accounts

T = TypeVar("T")
MIGRATED_BY = "subsidy db migrate"
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


DAY_HELP = "The business day (YYYY-MM-DD); default today in Beijing."
Day = Annotated[str | None, typer.Option("--date", help=DAY_HELP)]
BY_HELP = "Who runs it (kept with every change)."
By = Annotated[str, typer.Option("--by", envvar="SUBSIDY_OPERATOR", help=BY_HELP)]


def business_day(text: str | None) -> date:
    """--date, or today in Beijing."""
    if text is None:
        return datetime.now(BEIJING).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--date: not YYYY-MM-DD: {text!r}") from None


def require_operator(by: str, does: str = "runs it") -> None:
    """Every change names who made it: --by, or SUBSIDY_OPERATOR."""
    if not by.strip():
        raise typer.BadParameter(f"--by (or SUBSIDY_OPERATOR): who {does}")


def run_on_desk(work: Callable[[asyncpg.Connection, Catalog, PayoutsSettings], Awaitable[T]]) -> T:
    """Connect as the payouts' login and run `work`; a refused step is one line, exit 1."""
    settings = load_settings(PayoutsSettings)
    catalog = service_policy(settings)

    async def main() -> T:
        conn = await connect(settings.database_url)
        try:
            await check_role(conn, ROLE)
            return await work(conn, catalog, settings)
        finally:
            await conn.close()

    try:
        return asyncio.run(main())
    except PayoutError as err:
        typer.echo(f"refused: {err}", err=True)
        raise typer.Exit(1) from None


def step(op: str, by: str, fn: Callable[[PayoutDesk], T]) -> T:
    """One operation on the desk (intake first); its result."""
    require_operator(by)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> T:
        return (await operate(conn, catalog, s.set_off, Operation(op, by), fn)).result

    return run_on_desk(work)


@app.command("advance")
@database_command(MIGRATED_BY)
def advance_command(by: By = "", day: Day = None) -> None:
    """Take in the ledger's new grants and clawbacks and move every open order through its
    holds (公示, objection, budget, set-off, account) as of the day."""
    as_of = business_day(day)

    def advance(desk: PayoutDesk) -> dict[str, int]:
        desk.advance(as_of)
        return _states(desk)

    counts = step("advance", by, advance)
    typer.echo("orders: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _states(desk: PayoutDesk) -> dict[str, int]:
    counts = {s.value: 0 for s in OrderState}
    for o in desk.orders.values():
        counts[o.state.value] += 1
    return counts


@app.command("batch")
@database_command(MIGRATED_BY)
def batch_command(
    out: Annotated[Path, typer.Option("--out", help="Where the batch files are written.")],
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel", help="A channel (repeat); default every channel with payable orders."
        ),
    ] = None,
    by: By = "",
    day: Day = None,
) -> None:
    """The day's treasury batch of each channel: CSV and XLSX with Chinese headers and a
    manifest. Made once per channel and day; run again, it writes the same files."""
    pay_date = business_day(day)
    require_operator(by)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> Any:
        return await actions.make_batches(
            conn, catalog, s.set_off, by, pay_date, out, channel, s.after_commit(), s.signer()
        )

    manifests = run_on_desk(work)
    for m in manifests:
        typer.echo(f"{m.batch_id}  {m.channel}  {m.count} 笔  {format_fen(m.total_fen)}  "
                   f"sha256 {m.sha256}  → {out / (m.batch_id + '.csv')}")  # fmt: skip
    if not manifests:
        typer.echo("nothing payable (无待发订单)")


@app.command("confirm")
@database_command(MIGRATED_BY)
def confirm_command(
    file: Annotated[Path, typer.Argument(help="The bank's / treasury's return file (CSV).")],
    by: By = "",
) -> None:
    """Apply a return file: each order PAID_OUT or RETURNED (with the bank's reason). Every
    line is checked before any is applied; the same file twice is applied once."""
    require_operator(by)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> str:
        op = Operation("confirm", by)
        return await returns.confirm_file(conn, catalog, s.set_off, file, op, s.after_commit())

    typer.echo(run_on_desk(work))


@app.command("bank-simulator")
def bank_simulator_command(
    batch: Annotated[Path, typer.Argument(help="The batch's manifest (<batch>.manifest.json).")],
    return_rate: Annotated[
        str, typer.Option("--return-rate", help="Share returned, 0…1.")
    ] = "0.05",
    seed: Annotated[int, typer.Option("--seed")] = 1,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The treasury's public key: refuse unsigned batches."),
    ] = None,
) -> None:
    """A realistic return file for a batch, as a bank would send it (for the demo and tests)."""
    try:
        verifier = None if public_key is None else Verifier.from_file(public_key)
        path = simulate_bank(batch, Decimal(return_rate), seed, verifier=verifier)
    except (PayoutError, ArithmeticError, ValueError) as err:
        typer.echo(f"refused: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(path))


@app.command("reconcile")
@database_command(MIGRATED_BY)
def reconcile_command(
    year: Annotated[int | None, typer.Option("--year")] = None,
    fmt: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
) -> None:
    """Per channel and year: granted = paid out + in batches + payable + waiting (by reason) +
    set off, receivables = collected + set off + written off + outstanding; orders against
    accounts against the ledger, every difference with its cause. Exit 1 on an unexplained one."""
    rec = run_on_desk(lambda conn, catalog, s: returns.reconciliation(conn, catalog, s.set_off))
    if year is not None:
        rec.rows = [r for r in rec.rows if r.year == year]
        rec.differences = [d for d in rec.differences if d.year == year]
    if fmt is OutputFormat.json:
        write_json(reports.reconciliation_json(rec))
    elif fmt is OutputFormat.csv:  # one row per channel and year; the differences are in JSON
        write_records(reports.reconciliation_json(rec)["rows"], fmt)
    else:
        reports.print_reconciliation(_console(), rec, lang)
    if rec.unexplained:
        raise typer.Exit(1)


@app.command("ageing")
@database_command(MIGRATED_BY)
def ageing_command(day: Day = None, lang: LangOption = Lang.zh) -> None:
    """Outstanding receivables by channel and days outstanding."""
    as_of = business_day(day)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> Any:
        return recovery.ageing(await read_desk(conn, catalog, s.set_off), as_of)

    reports.print_ageing(_console(), run_on_desk(work), lang)


@app.command("collect")
@database_command(MIGRATED_BY)
def collect_command(
    receivable: Annotated[str, typer.Argument()],
    amount: Annotated[str, typer.Option("--amount", help="Yuan refunded, e.g. 1234.50.")],
    voucher: Annotated[str, typer.Option("--voucher", help="The treasury's refund voucher.")],
    by: By = "",
) -> None:
    """A refund collected (its voucher is applied once)."""
    fen = parse_yuan(amount)
    require_operator(by)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> bool:
        return await actions.collect_refund(conn, catalog, s.set_off, receivable, fen, voucher,
                                            Operation("collect", by))  # fmt: skip

    if run_on_desk(work):
        typer.echo(f"collected {format_fen(fen)} on {receivable}")
    else:
        typer.echo(f"voucher {voucher} collected on {receivable} before, nothing to do")


def _console() -> Console:
    return console()


@database_command(MIGRATED_BY)
def balances_command(
    pattern: Annotated[
        str | None, typer.Option("--account", help="A glob, e.g. 'budget:*:2026'.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
) -> None:
    """The double-entry accounts' balances (balance = credits − debits); all accounts' debits
    equal their credits."""

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> Any:
        return (await read_desk(conn, catalog, s.set_off)).accounts

    accounts = run_on_desk(work)
    rows = reports.balances_rows(accounts, pattern)
    if fmt is OutputFormat.csv:
        write_records(rows, fmt)
    elif fmt is OutputFormat.json:
        debits, credits = accounts.totals()
        write_json({"accounts": rows, "debitsFen": debits, "creditsFen": credits})
    else:
        reports.print_balances(_console(), rows, lang)


async def verify_check(conn: asyncpg.Connection, anchored: Mapping[int, str] | None) -> list[str]:
    """`ledger verify`'s check of the accounts (subsidy.payouts.verify), against the anchored
    transfer hashes when given."""
    settings = load_settings(PayoutsSettings)
    return await verify_accounts(conn, service_policy(settings), anchored)
