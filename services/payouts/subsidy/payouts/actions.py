"""The payouts' operations as the commands and the main job run them."""

# A budget file loaded, the day's batches made and written, each on the desk in one transaction.

from collections.abc import Callable
from datetime import date
from pathlib import Path

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts import recovery, treasury
from subsidy.domain.payouts.batches import Batch
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import RecoveryRefused
from subsidy.domain.payouts.orders import OrderState
from subsidy.infra.signing_keys import Signer
from subsidy.payouts import batch_files, returns
from subsidy.payouts.budget_file import read_budget
from subsidy.payouts.operations import operate
from subsidy.payouts.persist import Operation


async def load_budget_file(
    conn: asyncpg.Connection, catalog: Catalog, set_off: bool, path: Path, by: str, day: date
) -> tuple[str, int, int]:
    """A budget file as the envelopes' next version, then the orders moved as of the day:
    (its digest, its envelopes, the envelopes it changed)."""
    digest, lines = read_budget(path)

    def load(desk: PayoutDesk) -> int:
        moved = desk.load_budget(digest, lines)
        desk.advance(day)
        return moved

    done = await operate(conn, catalog, set_off, Operation(f"budget load {path.name}", by), load)
    return digest, len(lines), done.result


async def make_batches(
    conn: asyncpg.Connection,
    catalog: Catalog,
    set_off: bool,
    by: str,
    day: date,
    out: Path,
    channels: list[str] | None = None,
    after_commit: Callable[[], None] = lambda: None,
    signer: Signer | None = None,
) -> list[batch_files.Manifest]:
    """The day's batch of each channel (every channel with payable orders by default), written
    to `out` after the transaction that made them; their digests kept. Files are written from
    the stored batch, so a crash between the two is mended by running it again."""

    def make(desk: PayoutDesk) -> list[Batch]:
        desk.advance(day)
        payable = {o.channel for o in desk.orders.values() if o.state is OrderState.PAYABLE}
        made = {b.channel for b in desk.batches.values() if b.pay_date == day}
        return [treasury.make_batch(desk, c, day) for c in channels or sorted(payable | made)]

    batches = (await operate(conn, catalog, set_off, Operation("batch", by), make)).result
    after_commit()
    manifests = [batch_files.write_batch(b, out, signer) for b in batches]
    await returns.record_manifests(conn, manifests)
    return manifests


async def collect_refund(
    conn: asyncpg.Connection, catalog: Catalog, set_off: bool, receivable: str, fen: int,
    voucher: str, op: Operation,
) -> bool:  # fmt: skip
    """A refund by the treasury's voucher, kept in `receivable_refunds` (one voucher, one
    refund): the same voucher again on the same receivable is a no-op (False), on another
    receivable or for another amount it is refused."""
    async with conn.transaction():
        kept = await conn.fetchrow(
            "SELECT receivable_id, amount_fen FROM receivable_refunds WHERE voucher = $1", voucher
        )
        if kept is not None and (kept["receivable_id"], kept["amount_fen"]) != (receivable, fen):
            raise RecoveryRefused(
                f"voucher {voucher!r} was collected on {kept['receivable_id']}"
                f" ({kept['amount_fen']} fen) already"
            )

        def apply(desk: PayoutDesk) -> bool:
            return recovery.collect(desk, receivable, fen, voucher)

        done = await operate(conn, catalog, set_off, op, apply)
        if done.result:
            await conn.execute(
                "INSERT INTO receivable_refunds (voucher, receivable_id, amount_fen, recorded_by)"
                " VALUES ($1, $2, $3, $4)",
                voucher, receivable, fen, op.principal,
            )  # fmt: skip
        return done.result
