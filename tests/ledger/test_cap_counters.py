"""The cap counters a batch moves (subsidy.ledger.tables.bump) add up, and the CHECK holds."""

# Raised counters are written by one upsert, lowered ones created at zero and moved: either
# way the totals are the deltas' sums and the CHECK (0 ≤ used ≤ cap) refuses the same ones.

import asyncpg
import pytest

from subsidy.ledger.tables import Counters, bump
from tests.ledger.database import LedgerDb

RULE = "m08.compute_voucher"


async def _counters(conn: asyncpg.Connection) -> dict[tuple[str, int], tuple[int, int | None]]:
    """Every annual counter: (enterprise, year) → (used, cap)."""
    rows = await conn.fetch("SELECT enterprise_id, year, used_fen, cap_fen FROM annual_usage")
    return {(r["enterprise_id"], r["year"]): (r["used_fen"], r["cap_fen"]) for r in rows}


def _bare(ledger_db: LedgerDb) -> None:
    """Counters moved without entries: the invariants checked after each test would say so."""
    ledger_db.tampered = True


async def _bump(conn: asyncpg.Connection, counters: Counters) -> None:
    """The annual counters moved in a transaction of their own, as a batch moves them."""
    async with conn.transaction():
        await bump(conn, "annual_usage", "year", "integer", counters)


async def test_raised_lowered_and_new_counters_add_up(ledger_db: LedgerDb) -> None:
    """New, raised and lowered counters end at their deltas' sums, with the last raise's cap."""
    _bare(ledger_db)
    conn = await asyncpg.connect(ledger_db.url)
    try:
        await conn.execute("INSERT INTO enterprises (enterprise_id) VALUES ('a'), ('b')")
        # New counters, raised: written at their delta with the cap of the raise.
        await _bump(conn, {("a", RULE, 2026): [300, 1_000], ("b", RULE, 2026): [50, None]})
        assert await _counters(conn) == {("a", 2026): (300, 1_000), ("b", 2026): (50, None)}
        # Raised again (the cap of the last raise kept), lowered (the cap stays), a new one
        # and a zero delta (not written) in the same batch.
        await _bump(conn, {("a", RULE, 2026): [200, 900], ("b", RULE, 2026): [-20, None],
                           ("a", RULE, 2027): [10, 10], ("b", RULE, 2027): [0, None]})  # fmt: skip
        assert await _counters(conn) == {
            ("a", 2026): (500, 900), ("b", 2026): (30, None), ("a", 2027): (10, 10),
        }  # fmt: skip
        # Lowered to zero: the row stays, at zero.
        await _bump(conn, {("a", RULE, 2027): [-10, None]})
        assert (await _counters(conn))[("a", 2027)] == (0, 10)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "counters",
    [
        {("a", RULE, 2026): [1_001, 1_000]},  # a new counter raised past its cap
        {("a", RULE, 2025): [600, 1_000]},  # an existing one raised past it (500 + 600)
        {("a", RULE, 2025): [-501, None]},  # an existing one lowered below zero
        {("a", RULE, 2024): [-1, None]},  # one never raised, lowered
    ],
)
async def test_the_check_refuses_totals_beyond_the_cap_or_below_zero(
    ledger_db: LedgerDb, counters: Counters
) -> None:
    """A total above its cap or below zero fails the batch, and nothing of it is kept."""
    _bare(ledger_db)
    conn = await asyncpg.connect(ledger_db.url)
    try:
        await conn.execute("INSERT INTO enterprises (enterprise_id) VALUES ('a')")
        await _bump(conn, {("a", RULE, 2025): [500, 1_000]})
        with pytest.raises(asyncpg.CheckViolationError):
            await _bump(conn, counters)
        assert await _counters(conn) == {("a", 2025): (500, 1_000)}
    finally:
        await conn.close()
