"""What the payouts take in from the ledger: new grants, clawbacks, payee accounts, objections."""

# Grants not yet ordered, clawbacks not yet receivable, the enterprises' payee accounts and the
# objections filed.

from datetime import date

import asyncpg

from subsidy.domain.payouts.orders import Clawback, Grant, Objection, PayeeAccount

# The day a decision was made is the day of the event that caused it (the inbox keeps the event
# as decided); rows from before the inbox kept events fall back to the day it was booked, in
# Beijing. First come is the order the ledger took the events in (the inbox's arrival).
_GRANTS = """
SELECT d.decision_id, d.entitlement_id, d.enterprise_id, e.enterprise_name, d.district,
       d.rule_id, d.year, d.cash_delta_fen, e.occurred_on,
       coalesce((i.event::jsonb ->> 'occurredOn')::date,
                (d.decided_at AT TIME ZONE 'Asia/Shanghai')::date) AS decided_on
FROM decisions d
JOIN entitlements e ON e.entitlement_id = d.entitlement_id
LEFT JOIN inbox i ON i.event_id = d.caused_by_event_id
WHERE d.cash_delta_fen > 0
  AND NOT EXISTS (SELECT FROM payout_intake p WHERE p.source_id = d.decision_id)
ORDER BY i.arrival, d.decided_at, d.decision_id
"""

_CLAWBACKS = """
SELECT n.enterprise_id || '#' || n.seq AS clawback_id, n.entitlement_id, n.enterprise_id,
       n.district, n.rule_id, n.year, n.amount_fen, e.occurred_on,
       coalesce((i.event::jsonb ->> 'occurredOn')::date,
                (n.booked_at AT TIME ZONE 'Asia/Shanghai')::date) AS raised_on
FROM entries n
JOIN entitlements e ON e.entitlement_id = n.entitlement_id
LEFT JOIN inbox i ON i.event_id = n.caused_by_event_id
WHERE n.kind = 'CLAWBACK'
  AND NOT EXISTS (SELECT FROM payout_intake p WHERE p.source_id = n.enterprise_id || '#' || n.seq)
ORDER BY i.arrival, n.booked_at, n.enterprise_id, n.seq
"""


async def new_grants(conn: asyncpg.Connection) -> list[Grant]:
    """Decisions that gave cash and have no payment order yet, first decided first."""
    return [
        Grant(
            r["decision_id"],
            r["entitlement_id"],
            r["enterprise_id"],
            r["enterprise_name"],
            r["district"],
            r["rule_id"],
            r["year"],
            r["cash_delta_fen"],
            r["occurred_on"],
            r["decided_on"],
        )
        for r in await conn.fetch(_GRANTS)
    ]


async def new_clawbacks(conn: asyncpg.Connection) -> list[Clawback]:
    """CLAWBACK entries with no receivable yet, in booking order."""
    return [
        Clawback(
            r["clawback_id"],
            r["entitlement_id"],
            r["enterprise_id"],
            r["district"],
            r["rule_id"],
            r["year"],
            r["amount_fen"],
            r["occurred_on"],
            r["raised_on"],
        )
        for r in await conn.fetch(_CLAWBACKS)
    ]


async def last_event_day(conn: asyncpg.Connection) -> date | None:
    """The day of the latest event the ledger took (None before any): a replay's business day
    is the one after it."""
    day: date | None = await conn.fetchval(
        "SELECT max((event::jsonb ->> 'occurredOn')::date) FROM inbox WHERE event IS NOT NULL"
    )
    return day


async def payees(conn: asyncpg.Connection) -> list[PayeeAccount]:
    """Every registration, oldest first (the last of an enterprise's is its account)."""
    rows = await conn.fetch(
        "SELECT enterprise_id, bank_name, account_number, account_name, registered_on, event_id"
        " FROM payee_accounts ORDER BY seq"
    )
    return [PayeeAccount(*r) for r in rows]


async def objections(conn: asyncpg.Connection) -> list[Objection]:
    """Every objection filed."""
    rows = await conn.fetch(
        "SELECT event_id, entitlement_id, filed_on, reason FROM objections ORDER BY event_id"
    )
    return [Objection(*r) for r in rows]
