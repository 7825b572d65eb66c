"""Helpers of the dashboard tests: decisions written through the ledger's own batch writer."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from subsidy.dashboard.settings import DashboardSettings
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.ledger.database import as_role
from tests.ledger.events import CATALOG, EventMix


def mix(seed: int, enterprises: int, events_per_enterprise: int) -> list[dict[str, Any]]:
    """A seeded event stream over enterprises of their own. EventMix numbers event ids per
    stream, so they are prefixed with the seed: two streams in concurrent transactions must
    not contend for the same inbox rows."""
    events = EventMix(seed, enterprises, events_per_enterprise).events()
    for event in events:
        event["eventId"] = f"s{seed}-{event['eventId']}"
        review = event.get("reviewDecided")
        if review is not None:
            review["eventRef"] = f"s{seed}-{review['eventRef']}"
    return events


def messages(events: list[dict[str, Any]]) -> list[Message]:
    """The events as eligibility would hand them to the ledger."""
    out = []
    for raw in events:
        event = parse_event(raw)
        out.append(Message(evaluate(event, CATALOG), event.content_hash()))
    return out


class OpenBatch:
    """A decided batch whose transaction is still open."""

    def __init__(self, conn: asyncpg.Connection, tx: Any) -> None:
        self.conn = conn
        self.tx = tx
        self.done = False

    async def rollback(self) -> None:
        """Abandon it (its outbox ids are never used)."""
        await self.tx.rollback()
        self.done = True


@asynccontextmanager
async def open_batch(url: str, events: list[dict[str, Any]]) -> AsyncIterator[OpenBatch]:
    """Decide the events as the ledger worker does, in a transaction left open for the block;
    it commits when the block ends, unless the block rolled it back."""
    conn = await asyncpg.connect(url)
    try:
        batch = OpenBatch(conn, conn.transaction())
        await batch.tx.start()
        try:
            prepared = await apply_batch(conn, messages(events), BookCache(0))
            assert prepared.report.applied > 0
            yield batch
        except BaseException:
            if not batch.done:
                await batch.tx.rollback()
            raise
        if not batch.done:
            await batch.tx.commit()
    finally:
        await conn.close()


async def decide(url: str, events: list[dict[str, Any]]) -> None:
    """Decide the events and commit, as one ledger batch."""
    async with open_batch(url, events):
        pass


async def totals(url: str) -> dict[str, Any]:
    """What the page must show, computed here independently of the dashboard's query."""
    conn = await asyncpg.connect(url)
    try:
        by_measure = {
            r["measure"]: r["granted"]
            for r in await conn.fetch(
                "SELECT measure, sum(granted_fen)::bigint AS granted FROM entitlements"
                " GROUP BY measure"
            )
        }
        by_district = {
            r["district"]: r["granted"]
            for r in await conn.fetch(
                "SELECT district, sum(granted_fen)::bigint AS granted FROM entitlements"
                " GROUP BY district"
            )
        }
        by_status = {
            r["status"]: r["n"]
            for r in await conn.fetch("SELECT status, count(*) AS n FROM entitlements GROUP BY 1")
        }
        return {
            "granted": await conn.fetchval(
                "SELECT coalesce(sum(granted_fen), 0)::bigint FROM entitlements"
            ),
            "decisions": await conn.fetchval("SELECT count(*) FROM decisions"),
            "by_measure": by_measure,
            "by_district": by_district,
            "by_status": by_status,
        }
    finally:
        await conn.close()


def dashboard_settings(url: str, **overrides: Any) -> DashboardSettings:
    """A dashboard on this test's ledger (as the dashboard's login, a member of
    subsidy_auditor), on a free loopback port, looking often."""
    values: dict[str, Any] = {
        "database_url": as_role(url, "dashboard"),
        "host": "127.0.0.1",
        "port": 0,
        "poll_seconds": 0.5,
        "min_refresh_seconds": 0.1,
        "keepalive_seconds": 1.0,
    }
    values.update(overrides)
    return DashboardSettings(**values)
