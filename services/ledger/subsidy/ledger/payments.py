"""An enterprise's payment orders and what it owes back, read from the payouts' tables."""

import asyncpg

from subsidy.api.v1 import api_pb2
from subsidy.domain.payouts.order_status import status_en, status_zh

# By the payment_orders_enterprise index; the year is the order's (its entitlement's year).
_ORDERS = """
SELECT entitlement_id, order_id, level, channel, amount_fen, state, hold, paid_on,
       notice_until, return_reason, set_off_fen
FROM payment_orders
WHERE enterprise_id = $1 AND ($2::integer IS NULL OR year = $2)
ORDER BY seq"""

_OWED_BACK = """
SELECT coalesce(sum(amount_fen - set_off_fen - collected_fen - written_off_fen), 0)::bigint
FROM receivables
WHERE enterprise_id = $1 AND ($2::integer IS NULL OR year = $2)"""


async def payouts_present(conn: asyncpg.Connection) -> bool:
    """Are the payouts' tables there? `subsidy db migrate` makes them beside the ledger's;
    `subsidy ledger migrate` alone does not, and such a ledger has paid nothing out yet."""
    found: bool = await conn.fetchval(
        "SELECT to_regclass('payment_orders') IS NOT NULL"
        " AND to_regclass('receivables') IS NOT NULL"
    )
    return found


def _payment(r: asyncpg.Record) -> api_pb2.EntitlementPayment:
    where = {
        "notice_until": r["notice_until"],
        "paid_on": r["paid_on"],
        "return_reason": r["return_reason"],
    }
    return api_pb2.EntitlementPayment(
        entitlement_id=r["entitlement_id"],
        order_id=r["order_id"],
        level=r["level"],
        channel=r["channel"],
        amount_fen=r["amount_fen"],
        state=r["state"],
        hold=r["hold"] or "",
        paid_on=r["paid_on"].isoformat() if r["paid_on"] else "",
        notice_until=r["notice_until"].isoformat() if r["notice_until"] else "",
        return_reason=r["return_reason"],
        set_off_fen=r["set_off_fen"],
        status_zh=status_zh(r["state"], r["hold"], **where),
        status_en=status_en(r["state"], r["hold"], **where),
    )


async def payments_of(
    conn: asyncpg.Connection, enterprise_id: str, year: int | None
) -> tuple[list[api_pb2.EntitlementPayment], int]:
    """The enterprise's payment orders in the order the payouts took them in, and the total of
    its open receivables; of one year if given. Runs in the caller's snapshot."""
    if not await payouts_present(conn):
        return [], 0
    rows = await conn.fetch(_ORDERS, enterprise_id, year)
    owed: int = await conn.fetchval(_OWED_BACK, enterprise_id, year)
    return [_payment(r) for r in rows], owed
