"""One payouts operation, under the desk lock and in one transaction."""

# The ledger's new grants and clawbacks taken in, the pure desk's step run, and its changes written
# back (or nothing).

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.payouts.desk import Changes, PayoutDesk
from subsidy.payouts import intake
from subsidy.payouts.persist import Operation, write_changes
from subsidy.payouts.store import load_desk, lock_desk

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """What a step returned, and what it changed."""

    result: T
    changes: Changes


async def take_in(conn: asyncpg.Connection, desk: PayoutDesk) -> None:
    """The ledger's decisions and clawbacks the desk has not taken in yet."""
    for g in await intake.new_grants(conn):
        desk.take_grant(g)
    for c in await intake.new_clawbacks(conn):
        desk.take_clawback(c)


async def operate(
    conn: asyncpg.Connection,
    catalog: Catalog,
    set_off: bool,
    op: Operation,
    step: Callable[[PayoutDesk], T],
) -> Done[T]:
    """Run `step` on the whole desk; its changes committed with the intake, or none at all
    (a guard's PayoutError, a crash, a database refusal all leave nothing)."""
    async with conn.transaction():
        head = await lock_desk(conn)
        desk = await load_desk(conn, catalog, set_off)
        await take_in(conn, desk)
        result = step(desk)
        changes = await write_changes(conn, desk, head, op)
    return Done(result, changes)


async def read_desk(conn: asyncpg.Connection, catalog: Catalog, set_off: bool) -> PayoutDesk:
    """The desk as stored, in a read-only snapshot (reports: reconcile, ageing, balances)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await load_desk(conn, catalog, set_off)
