"""The two implementations of the ledger rules, behind one call."""

# Events (JSONL lines) and a catalog in, the contract's export out.

from collections.abc import Iterable
from typing import Any, Protocol

import asyncpg

from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.export import distinct_rejections
from subsidy.domain.simulate import simulate
from subsidy.harness.databases import create_schema
from subsidy.ledger.batch_writer import Source
from subsidy.ledger.db import migrate_ledger
from subsidy.ledger.export import export_contract
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache


class Backend(Protocol):
    """Decides a stream of events from scratch and exports the result."""

    async def run(self, lines: Iterable[str], catalog: Catalog) -> dict[str, Any]: ...


class MemoryBackend:
    """`subsidy simulate`: the in-memory ledger, no database."""

    async def run(self, lines: Iterable[str], catalog: Catalog) -> dict[str, Any]:
        return simulate(lines, catalog).to_contract()


class PostgresBackend:
    """The ledger service's path: each event evaluated as eligibility does, applied as a
    one-message batch in its own transaction as the worker does, then `ledger export`; every
    run in a new, migrated schema of `database_url`'s database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def run(self, lines: Iterable[str], catalog: Catalog) -> dict[str, Any]:
        _, url = await create_schema(self.database_url, "ledger_rules")
        conn = await asyncpg.connect(url)
        try:
            await migrate_ledger(conn)
            refused = await _apply(conn, lines, catalog)
            contract = await export_contract(conn)
        finally:
            await conn.close()
        contract["rejectedEvents"] = distinct_rejections([*contract["rejectedEvents"], *refused])
        return contract


async def _apply(
    conn: asyncpg.Connection, lines: Iterable[str], catalog: Catalog
) -> list[dict[str, Any]]:
    """Apply the events one batch each; returns the events refused before the ledger (the
    platform's ingest refuses and logs those; the ledger never sees them)."""
    # No cached books: every event's book is read back from the rows the last one wrote, so
    # what the tables keep is what the rules are checked against.
    cache = BookCache(0)
    refused: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            event = parse_event_json(line)
            # Who submitted it goes on the inbox row, as the worker keeps the provenance it
            # read: a correction's replay reads reviewers and appeal deciders back from there.
            who = event.submitted_by
            source = Source(submitted_by=who.model_dump_json(by_alias=True) if who else None)
            message = Message(evaluate(event, catalog), event.content_hash(), source)
        except InvalidEvent as err:
            refused.append({"eventId": err.event_id, "error": str(err)})
            continue
        async with conn.transaction():
            prepared = await apply_batch(conn, [message], cache)
        prepared.committed(cache)
    return refused
