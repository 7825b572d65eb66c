"""Helpers of the dashboard's payouts tests."""

# Orders, receivables, envelopes and alerts written as the database owner into a schema with every
# component migrated (the fixture payouts_schema).

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from tests.factories import enterprise_id

YUAN = 100
SCI, PARK, MIIT = "市科技局", "苏州工业园区财政局", "市工信局"


@dataclass(frozen=True)
class Order:
    """One payment order as the payouts would have stored it (amounts in yuan for reading)."""

    channel: str
    year: int
    state: str
    hold: str | None
    committed: bool
    amount_fen: int
    set_off_fen: int = 0
    updated_at: str = "2025-07-10 09:00:00+08"


ORDERS = [
    # 市科技局 2025: every state, a hold of each kind, a partial set-off and a whole one.
    Order(SCI, 2025, "PAID_OUT", None, True, 500_000 * YUAN),
    Order(SCI, 2025, "PAID_OUT", None, True, 300_000 * YUAN, 100_000 * YUAN),
    Order(SCI, 2025, "IN_BATCH", None, True, 120_000 * YUAN),
    Order(SCI, 2025, "PAYABLE", None, True, 80_000 * YUAN),
    Order(SCI, 2025, "WAITING", "NEW", False, 10_000 * YUAN),
    Order(SCI, 2025, "WAITING", "PUBLICITY", False, 20_000 * YUAN),
    Order(SCI, 2025, "WAITING", "OBJECTION", False, 30_000 * YUAN),
    Order(SCI, 2025, "WAITING", "BUDGET", False, 40_000 * YUAN),
    Order(SCI, 2025, "WAITING", "NO_ACCOUNT", True, 50_000 * YUAN, 5_000 * YUAN),
    Order(SCI, 2025, "WAITING", "RETURNED", True, 60_000 * YUAN,
          updated_at="2025-07-12 09:00:00+08"),
    Order(SCI, 2025, "SETTLED", None, True, 70_000 * YUAN, 70_000 * YUAN),
    # 苏州工业园区财政局 2025: paid, and one waiting for an account (with fen).
    Order(PARK, 2025, "PAID_OUT", None, True, 250_000 * YUAN),
    Order(PARK, 2025, "WAITING", "NO_ACCOUNT", True, 2_500_012),
    # 苏州工业园区财政局 2026: waiting for a budget that was never loaded.
    Order(PARK, 2026, "WAITING", "BUDGET", False, 1_000 * YUAN,
          updated_at="2026-01-05 10:00:00+08"),
    # 市科技局 2024: paid, its envelope used to 99.999…%.
    Order(SCI, 2024, "PAID_OUT", None, True, 9_999_999, updated_at="2024-12-30 16:00:00+08"),
]  # fmt: skip

# (channel, year, amount, set off, collected, written off), fen.
RECEIVABLES = [
    (SCI, 2025, 250_000 * YUAN, 175_000 * YUAN, 30_000 * YUAN, 10_000 * YUAN),
    (PARK, 2025, 15_000 * YUAN, 0, 0, 0),
]
ENVELOPES = [
    (SCI, 2025, 1_400_000 * YUAN),
    (PARK, 2025, 2_000_000 * YUAN),
    (MIIT, 2025, 1_000_000 * YUAN),
    (SCI, 2024, 100_000 * YUAN),
]
# (channel, year, threshold, raised at)
ALERTS = [
    (SCI, 2025, 100, "2025-07-11 11:30:00+08"),
    (SCI, 2025, 80, "2025-07-10 10:00:00+08"),
]


def _order_row(n: int, o: Order) -> tuple[Any, ...]:
    decision = f"dec-{n}"
    return (
        f"PO{n:04d}", n, decision, f"ent-{n}", enterprise_id(930_000 + n), f"苏州企业{n}号",
        "SIP", "m03.provincial_key_lab", o.year, o.channel,
        "city" if o.channel != PARK else "district", o.amount_fen, date(o.year, 1, 2),
        o.state, o.hold, o.committed, o.set_off_fen, "", "", "",
        datetime.fromisoformat(o.updated_at + ":00"),
    )  # fmt: skip


async def insert_payouts(owner_url: str, orders: list[Order] = ORDERS) -> None:
    """Write the rows above as the owner, as the payouts' own operations would have left them."""
    conn = await asyncpg.connect(owner_url)
    try:
        async with conn.transaction():
            await _insert(conn, orders)
    finally:
        await conn.close()


async def _insert(conn: asyncpg.Connection, orders: list[Order]) -> None:
    rows = [_order_row(n, o) for n, o in enumerate(orders, 1)]
    await conn.executemany(
        "INSERT INTO payout_intake (source_id, kind) VALUES ($1, 'grant')", [(r[2],) for r in rows]
    )
    await conn.executemany(
        "INSERT INTO payment_orders (order_id, seq, decision_id, entitlement_id, enterprise_id,"
        " enterprise_name, district, rule_id, year, channel, level, amount_fen, decided_on,"
        " state, hold, committed, set_off_fen, batch_id, return_reason, returned_account,"
        " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
        " $16, $17, $18, $19, $20, $21)",
        rows,
    )
    await conn.executemany(
        "INSERT INTO receivables (receivable_id, seq, entitlement_id, enterprise_id, channel,"
        " year, amount_fen, raised_on, set_off_fen, collected_fen, written_off_fen)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [(f"RC{n}", n, f"ent-{n}", enterprise_id(930_000 + n), ch, year, amount,
          date(year, 8, 1), set_off, collected, written)
         for n, (ch, year, amount, set_off, collected, written) in enumerate(RECEIVABLES, 1)],
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO budget_loads (version, digest, file_name, lines, loaded_by)"
        " VALUES (1, 'digest-1', 'budget.csv', '[]', 'test')"
    )
    await conn.executemany(
        "INSERT INTO budget_envelopes (channel, year, amount_fen, version) VALUES ($1, $2, $3, 1)",
        ENVELOPES,
    )
    await add_alerts(conn, ALERTS)


async def add_alerts(conn: asyncpg.Connection, alerts: list[tuple[str, int, int, str]]) -> None:
    """Alerts as the desk raises them (used and amount are not shown by the dashboard)."""
    await conn.executemany(
        "INSERT INTO budget_alerts (channel, year, threshold, used_fen, amount_fen, raised_at)"
        " VALUES ($1, $2, $3, 0, 0, $4)",
        [(ch, year, t, datetime.fromisoformat(at + ":00")) for ch, year, t, at in alerts],
    )
