"""The pipeline's state in the contract's shape: what `subsidy ledger export` prints."""

from collections.abc import Iterable
from typing import Any

import asyncpg

from subsidy.domain.export import distinct_rejections, entitlement_view, parked_view
from subsidy.ledger.repository import STATE_COLUMNS, state_from_row


async def export_contract(conn: asyncpg.Connection) -> dict[str, Any]:
    """`{"entitlements": […], "rejectedEvents": […], "parkedEvents": […]}` like `subsidy
    simulate`, sorted the same way (entitlements by id, distinct rejections by (eventId,
    error), parked reviews by id), from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(f"SELECT {STATE_COLUMNS} FROM entitlements")
        rejected = await conn.fetch("SELECT event_id, error FROM rejected_events")
        parked = await conn.fetch(
            "SELECT event_id, event_ref FROM parked_reviews WHERE state = 'waiting'"
        )
        # The platform's rejections are the ledger's and, where the ingest API shares this
        # database (the embedded default), those it refused at the door.
        if await conn.fetchval("SELECT to_regclass('ingest_rejections') IS NOT NULL"):
            rejected += await conn.fetch("SELECT event_id, error FROM ingest_rejections")
    return contract_of(rows, rejected, parked)


def contract_of(
    rows: Iterable[asyncpg.Record],
    rejected: Iterable[asyncpg.Record],
    parked: Iterable[asyncpg.Record],
) -> dict[str, Any]:
    """The contract's document from the rows read: entitlements (STATE_COLUMNS), rejections
    (event_id, error), waiting parked reviews (event_id, event_ref)."""
    # Sorted here, not in SQL: the database's collation need not be Python's code-point order.
    states = sorted((state_from_row(r) for r in rows), key=lambda s: s.ent.entitlement_id)
    return {
        "entitlements": [entitlement_view(s) for s in states],
        # Rows are per refused content (event id + hash); the contract lists each distinct
        # (eventId, error) once, as simulate does.
        "rejectedEvents": distinct_rejections(
            {"eventId": r["event_id"], "error": r["error"]} for r in rejected
        ),
        "parkedEvents": parked_view((r["event_id"], r["event_ref"]) for r in parked),
    }
