"""The scale run's large ledger: other enterprises' events decided by the ledger's batch code."""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import asyncpg
from rich.console import Console

from bench.platform import ACCEPTED, Platform
from subsidy.contract.codec import decode_event
from subsidy.demo.generator import generate
from subsidy.devstack.paths import layout
from subsidy.devstack.postgres_server import PostgresServer
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.events.v1 import events_pb2 as epb
from subsidy.harness.principals import REVIEWER, demo_principals, principal_of
from subsidy.infra.signing_keys import Signer
from subsidy.ingest.service import event_record
from subsidy.ledger.anchoring import Anchorer, AnchorLog
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.settings import LedgerSettings

# The seed's generator seed: the measured feed's own, so an enterprise number is the same story
# in both; the measured feed's enterprises are left out of the seed.
SEED = 11
# Messages per transaction: the worker's batches are at most 500; larger ones only cut the
# seeding's round trips (the rows are the same).
BATCH = 2_000
# Batches in flight at once, each on its own connection and enterprises (as the worker's
# partitions): one lane's transaction runs in PostgreSQL while another is decided here.
LANES = 2


@dataclass
class Seeded:
    """What the seed put in the ledger, and what it took."""

    events: int = 0
    entitlements: int = 0
    enterprises: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, int | float]:
        return {
            "seeded_events": self.events,
            "seeded_entitlements": self.entitlements,
            "seeded_enterprises": len(self.enterprises),
            **{f"seed_{k}_s": round(v, 1) for k, v in self.seconds.items()},
        }


def seed_messages(skip: set[str], catalog: Catalog) -> Iterator[Message]:
    """The generated feed's valid events of enterprises not in `skip`, each as the ledger
    worker would take it off entitlements.v1: carried in its protobuf record with the
    provenance ingest gives it (reviews by their reviewer: four eyes counts them), evaluated
    with eligibility's trace."""
    principals, who = demo_principals(), REVIEWER
    for text in generate(10_000_000, SEED):  # lazily, a chunk of enterprises at a time
        line = text.encode()
        who = principal_of(line, principals, who)
        try:
            event = parse_event_json(line)
        except InvalidEvent:
            continue
        if event.enterprise_id in skip:
            continue
        provenance = epb.Provenance(principal=who, channel=epb.GRPC_API, accepted_at=ACCEPTED)
        event = decode_event(event_record(event, provenance)[1])
        yield Message(evaluate(event, catalog), event.content_hash())


class _Lane:
    """One connection deciding its enterprises' batches in order, with the worker's cache."""

    def __init__(self, conn: asyncpg.Connection, catalog: Catalog) -> None:
        settings = LedgerSettings()  # type: ignore[call-arg]  # as the worker reads it
        self.conn = conn
        self.catalog = catalog
        self.cache = BookCache(settings.book_cache_size, settings.book_cache_records)
        self.pending: list[Message] = []
        self.running: asyncio.Task[int] | None = None

    async def _apply(self, messages: list[Message]) -> int:
        async with self.conn.transaction():
            prepared = await apply_batch(self.conn, messages, self.cache, self.catalog)
        prepared.committed(self.cache)
        return len(prepared.writer.entitlements.rows)

    async def flush(self) -> int:
        """Start the pending batch once the previous one is done; entitlements it created."""
        created = await self.wait()
        batch, self.pending = self.pending, []
        if batch:
            self.running = asyncio.create_task(self._apply(batch))
        return created

    async def wait(self) -> int:
        if self.running is None:
            return 0
        task, self.running = self.running, None
        return await task


async def _decide(url: str, target: int, skip: set[str], out: Seeded, console: Console) -> None:
    """Decide seed events until the ledger holds `target` entitlements (a batch past it)."""
    catalog = load_catalog()
    conns = [await asyncpg.connect(url) for _ in range(LANES)]
    lanes = [_Lane(c, catalog) for c in conns]
    step, shown = max(1, target // 10), 0
    try:
        for message in seed_messages(skip, catalog):
            # Like the topic's partitions: one enterprise's events stay in one lane, in order.
            lane = lanes[hash(message.enterprise_id) % LANES]
            lane.pending.append(message)
            out.events += 1
            out.enterprises.add(message.enterprise_id)
            if len(lane.pending) >= BATCH:
                out.entitlements += await lane.flush()
                if out.entitlements >= shown + step:
                    shown = out.entitlements
                    console.print(f"  seeded {out.entitlements:,} entitlements "
                                  f"({out.events:,} events)")  # fmt: skip
                if out.entitlements >= target:
                    break
        for lane in lanes:
            out.entitlements += await lane.flush()
            out.entitlements += await lane.wait()
    finally:
        for lane in lanes:
            with contextlib.suppress(Exception):
                await lane.wait()
        for c in conns:
            await c.close()


async def _as_relayed(p: Platform) -> None:
    """What the relay would have done long ago: every seeded decision and notice published,
    every chain anchored (in the run's anchor file, with the run's key; not on the topic,
    which the measured relay does not read) and its mark in anchor_marks moved to its head, so
    the measured relay's first sweep finds every seeded chain anchored and signs none again."""
    conn = await asyncpg.connect(p.url)
    try:
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL")
        await conn.execute("UPDATE appeal_notices SET sent_at = now() WHERE sent_at IS NULL")
        private_key, _ = p.run.signing_keys()
        anchorer = Anchorer(Signer.from_file(private_key), AnchorLog(p.run.anchor_file, None, ""))
        await anchorer.anchor(conn)
    finally:
        await conn.close()


async def _settle_database(url: str) -> None:
    """VACUUM ANALYZE (as autovacuum would have long since, and not during the measurement),
    then a checkpoint, so the measured run does not write the seed's pages out."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    # A checkpoint needs the superuser, who logs in over the local socket only: skipped when
    # the database is not the local devstack's.
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        su = await asyncpg.connect(PostgresServer(layout()).superuser_url())
        try:
            await su.execute("CHECKPOINT")
        finally:
            await su.close()


async def seed_ledger(p: Platform, target: int, skip: set[str], console: Console) -> Seeded:
    """Fill the platform's fresh ledger with at least `target` entitlements of enterprises
    not in `skip`, as if it had decided and published them long ago."""
    out = Seeded()
    console.print(f"seed: {target:,} entitlements of other enterprises into {p.run.database}")
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("decide", lambda: _decide(p.url, target, skip, out, console)),
        ("relayed", lambda: _as_relayed(p)),
        ("vacuum", lambda: _settle_database(p.url)),
    ]
    for name, step in steps:
        started = time.monotonic()
        await step()
        out.seconds[name] = time.monotonic() - started
    out.seconds["total"] = sum(out.seconds.values())
    total = out.seconds["total"]
    console.print(f"seed: {out.entitlements:,} entitlements from {out.events:,} events of "
                  f"{len(out.enterprises):,} enterprises in {total:.0f}s")  # fmt: skip
    return out
