"""Reviews parked until their event arrives: listed, and expired when they wait too long."""

# Expiry is operational, by the clock (an approval whose event never comes must not wait for ever,
# nor silently vanish): an expired review becomes a rejected event naming its eventRef. It locks the
# enterprise rows like a batch and bumps their version, so that a worker's cached book (which still
# holds the review) is reloaded before it is used again.

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from subsidy.ledger.batch_rows import record_rejections

# Reviews settled per transaction: keeps the enterprise locks short when a backlog expires.
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class ParkedReview:
    """A review waiting for its event."""

    event_id: str
    enterprise_id: str
    event_ref: str
    parked_at: datetime


async def waiting(conn: asyncpg.Connection) -> list[ParkedReview]:
    """Every review still waiting, oldest first."""
    rows = await conn.fetch(
        "SELECT event_id, enterprise_id, event_ref, parked_at FROM parked_reviews"
        " WHERE state = 'waiting' ORDER BY seq"
    )
    return [ParkedReview(**r) for r in rows]


async def expire(conn: asyncpg.Connection, ttl: timedelta, now: datetime) -> list[ParkedReview]:
    """Settle, as rejected, reviews parked before `now - ttl`; returns them. One transaction
    per call of at most SWEEP_BATCH reviews; call again while it returns a full batch."""
    async with conn.transaction():
        candidates = await conn.fetch(
            "SELECT DISTINCT enterprise_id FROM (SELECT enterprise_id FROM parked_reviews"
            " WHERE state = 'waiting' AND parked_at < $1 ORDER BY parked_at LIMIT $2) AS p",
            now - ttl, SWEEP_BATCH,
        )  # fmt: skip
        enterprises = sorted(r["enterprise_id"] for r in candidates)
        if not enterprises:
            return []
        # The batches' lock order (sorted ids), so a sweep and a batch never deadlock.
        await conn.execute(
            "SELECT 1 FROM enterprises WHERE enterprise_id = ANY($1::text[])"
            " ORDER BY enterprise_id FOR UPDATE",
            enterprises,
        )
        rows = await conn.fetch(
            "UPDATE parked_reviews SET state = 'expired', settled_at = $3"
            " WHERE state = 'waiting' AND parked_at < $1 AND enterprise_id = ANY($2::text[])"
            " RETURNING event_id, enterprise_id, event_ref, parked_at",
            now - ttl, enterprises, now,
        )  # fmt: skip
        expired = [ParkedReview(**r) for r in rows]
        await conn.execute(
            "UPDATE inbox SET outcome = 'rejected' WHERE event_id = ANY($1::text[])",
            [r.event_id for r in expired],
        )
        days = ttl / timedelta(days=1)
        await record_rejections(
            conn,
            {
                r.event_id: f"reviewDecided.eventRef: no event {r.event_ref!r} for this"
                f" enterprise arrived within {days:g} days"
                for r in expired
            },
            now,
        )
        await conn.execute(
            "UPDATE enterprises SET version = version + 1 WHERE enterprise_id = ANY($1::text[])",
            enterprises,
        )
    return expired
