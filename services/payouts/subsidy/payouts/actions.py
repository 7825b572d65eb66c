"""The payouts' operations as the commands and the main job run them."""

# A budget file loaded, the day's batches made and written, each on the desk in one transaction.

from collections.abc import Callable
from datetime import date
from pathlib import Path

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts import treasury
from subsidy.domain.payouts.batches import Batch
from subsidy.domain.payouts.desk import PayoutDesk
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
