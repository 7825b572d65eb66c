"""The bureaus' side of the payouts: `subsidy budget …`, `subsidy publicity …`, the write-off."""

# The write-off takes two approvers.

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from subsidy.domain.catalog import Catalog
from subsidy.domain.money import format_fen, parse_yuan
from subsidy.domain.payouts import recovery
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.infra.commands import database_command
from subsidy.payouts import actions, publicity
from subsidy.payouts.cli import MIGRATED_BY, By, Day, business_day, require_operator, run_on_desk
from subsidy.payouts.operations import operate, read_desk
from subsidy.payouts.persist import Operation
from subsidy.payouts.settings import PayoutsSettings

budget_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
publicity_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@budget_app.command("load")
@database_command(MIGRATED_BY)
def budget_load_command(
    file: Annotated[Path, typer.Argument(help="CSV: 资金渠道,年度,预算金额(元)")],
    by: By = "",
    day: Day = None,
) -> None:
    """Load a budget file as the envelopes' next version (validated whole first; a file loaded
    before is a no-op), then move the orders that waited for room, first come first."""
    require_operator(by, "loads it")
    as_of = business_day(day)
    digest, count, moved = run_on_desk(lambda conn, catalog, s: actions.load_budget_file(
        conn, catalog, s.set_off, file, by, as_of))  # fmt: skip
    typer.echo(f"{file.name}: {count} envelopes, {moved} changed (sha256 {digest})")


class NoticeFormat(StrEnum):
    """How the notice list is written."""

    CSV = "csv"
    HTML = "html"


@publicity_app.command("list")
@database_command(MIGRATED_BY)
def publicity_list_command(
    day: Day = None,
    fmt: Annotated[NoticeFormat, typer.Option("--format")] = NoticeFormat.CSV,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """The awards on public notice (公示) on the day, as the list a bureau publishes."""
    as_of = business_day(day)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> str:
        desk = await read_desk(conn, catalog, s.set_off)
        notices = publicity.on_notice(desk, catalog, as_of)
        if fmt is NoticeFormat.HTML:
            return publicity.as_html(notices, as_of, catalog.title)
        return publicity.as_csv(notices)

    text = run_on_desk(work)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8-sig" if fmt is NoticeFormat.CSV else "utf-8")
        typer.echo(f"wrote {out}")


@publicity_app.command("dismiss")
@database_command(MIGRATED_BY)
def publicity_dismiss_command(
    objection: Annotated[str, typer.Argument(help="The objectionFiled event's id.")],
    reason: Annotated[str, typer.Option("--reason")],
    by: By = "",
    day: Day = None,
) -> None:
    """A bureau reviewed an objection and dismissed it: the award's orders go on."""
    as_of = business_day(day)

    require_operator(by, "dismisses it")

    def dismiss(desk: PayoutDesk) -> None:
        desk.dismiss_objection(objection)
        desk.advance(as_of)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> None:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO objection_dismissals (event_id, dismissed_by, reason)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                objection, by, reason,
            )  # fmt: skip
            await operate(conn, catalog, s.set_off, Operation(f"dismiss {objection}", by), dismiss)

    run_on_desk(work)
    typer.echo(f"objection {objection} dismissed by {by}")


def write_off_command(
    receivable: Annotated[str, typer.Argument()],
    amount: Annotated[str, typer.Option("--amount", help="Yuan to write off.")],
    reason: Annotated[str, typer.Option("--reason")],
    by: By = "",
) -> None:
    """Approve writing a receivable off; the second approval, by another person for the same
    amount, writes it off (two approvers, docs/payouts.md)."""
    fen = parse_yuan(amount)
    mine = recovery.WriteOffApproval(receivable, fen, by, reason)

    async def work(conn: asyncpg.Connection, catalog: Catalog, s: PayoutsSettings) -> str:
        async with conn.transaction():
            other = await conn.fetchrow(
                "SELECT id, principal, reason FROM write_off_approvals WHERE receivable_id = $1"
                " AND amount_fen = $2 AND NOT applied AND principal <> $3 ORDER BY id LIMIT 1"
                " FOR UPDATE",
                receivable, fen, by,
            )  # fmt: skip
            if other is None:
                await _approval(conn, mine, applied=False)
                return f"first approval of {format_fen(fen)} on {receivable} recorded"
            first = recovery.WriteOffApproval(receivable, fen, other["principal"], other["reason"])
            await operate(conn, catalog, s.set_off, Operation("write-off", by),
                          lambda desk: recovery.write_off(desk, first, mine))  # fmt: skip
            await conn.execute("UPDATE write_off_approvals SET applied = true WHERE id = $1",
                               other["id"])  # fmt: skip
            await _approval(conn, mine, applied=True)
            return f"{format_fen(fen)} of {receivable} written off ({other['principal']}, {by})"

    require_operator(by, "approves")
    typer.echo(run_on_desk(work))


async def _approval(conn: asyncpg.Connection, a: recovery.WriteOffApproval, applied: bool) -> None:
    """Keep one approver's consent (applied: it was the second, and wrote the amount off)."""
    await conn.execute(
        "INSERT INTO write_off_approvals (receivable_id, amount_fen, principal, reason, applied)"
        " VALUES ($1, $2, $3, $4, $5)",
        a.receivable_id, a.amount_fen, a.principal, a.reason, applied,
    )  # fmt: skip
