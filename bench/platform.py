"""The bench's platform: a fresh database, topics and pipeline services, and the feed for them."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import CoordinatorNotAvailableError
from rich.console import Console

from bench.procstats import peak_rss_mib
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.devstack.endpoints import database_url, kafka_connection
from subsidy.devstack.kafka_admin import admin_client
from subsidy.devstack.paths import layout
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.events.v1 import events_pb2 as epb
from subsidy.harness import processes
from subsidy.harness.databases import drop_database, fresh_database
from subsidy.harness.platform import Run, create_topics, delete_topics, service_specs
from subsidy.harness.principals import REVIEWER, demo_principals, principal_of
from subsidy.harness.waiting import await_decisions
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.topics import PARTITIONS
from subsidy.ingest.service import event_record

# The services a decision passes through; the notifier only reads what they produced.
PIPELINE = ("eligibility", "ledger-worker", "ledger-relay")
TIMEOUT_S = 1_800.0
# One acceptance time for the whole feed: the bench pre-encodes it, as ingest would stamp it.
ACCEPTED = "2026-01-05T09:00:00+08:00"


@dataclass
class Workload:
    """The feed as the ingest API would pass it on: valid lines only (it rejects the others),
    each pre-encoded as its enterprise-events.v1 record."""

    lines: list[bytes]
    records: list[tuple[bytes, bytes]]
    event_ids: list[str]

    @classmethod
    def load(cls, path: Path) -> "Workload":
        """Each valid line with the provenance ingest would give it (the sample's feed or
        reviewer principal, as the main job sends it): four eyes counts distinct reviewers."""
        lines, records, ids = [], [], []
        principals, who = demo_principals(), REVIEWER
        for line in path.read_bytes().splitlines():
            who = principal_of(line, principals, who)
            try:
                event = parse_event_json(line)
            except InvalidEvent:
                continue
            lines.append(line)
            provenance = epb.Provenance(principal=who, channel=epb.GRPC_API, accepted_at=ACCEPTED)
            records.append(event_record(event, provenance))
            ids.append(event.event_id)
        return cls(lines, records, ids)

    def head(self, count: int) -> "Workload":
        return Workload(self.lines[:count], self.records[:count], self.event_ids[:count])


@dataclass
class Platform:
    """One run's database, topics and pipeline services."""

    run: Run
    url: str
    kafka: KafkaConnection
    services: list[processes.Running] = field(default_factory=list)
    rss_mib: dict[str, float] = field(default_factory=dict)

    @property
    def events_topic(self) -> str:
        return self.run.topics["enterprise-events.v1"]

    @property
    def decisions_topic(self) -> str:
        return self.run.topics["decisions.v1"]

    def stop(self, console: Console) -> None:
        """Read each service's peak RSS, then stop them all (idempotent)."""
        for r in self.services:
            if r.process.poll() is None:
                self.rss_mib[r.spec.name] = peak_rss_mib(r.process.pid)
        killed = processes.stop_all(self.services)
        if killed:
            console.print(f"[yellow]had to kill: {', '.join(killed)}[/yellow]")
        self.services = []


def _log_append_time(kafka: KafkaConnection, topics: list[str]) -> None:
    """The broker stamps records as it appends them, so that ingest and decision times are
    both "appended to the topic", on one clock."""
    admin = admin_client(kafka)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, t,
                                            configs={"message.timestamp.type": "LogAppendTime"})
                             for t in topics])  # fmt: skip
    finally:
        admin.close()


async def _await_groups(platform: Platform, groups: list[str], timeout_s: float = 120) -> None:
    """Until every consumer group has joined and holds its partitions: otherwise the first
    seconds of a phase would measure the services' start, not their work."""
    admin = admin_client(platform.kafka)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            processes.alive(platform.services)
            try:
                described = await asyncio.to_thread(admin.describe_groups, groups)
            except CoordinatorNotAvailableError:
                described = {}  # a broker just started is still loading its group metadata
            if all(_stable(described.get(g, {})) for g in groups):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer groups not stable after {timeout_s:.0f}s")
            await asyncio.sleep(0.5)
    finally:
        admin.close()


def _stable(group: dict[str, Any]) -> bool:
    state = str(group.get("group_state") or group.get("state") or "")
    return state.lower() == "stable" and bool(group.get("members"))


@contextlib.asynccontextmanager
async def platform(
    label: str,
    console: Console,
    notifier: bool,
    ingest: bool = False,
    prepare: Callable[[Platform], Awaitable[object]] | None = None,
) -> AsyncIterator[Platform]:
    """A fresh database and topics with the pipeline services running on them; everything
    stopped, deleted and dropped afterwards, also on failure. `prepare` runs on the migrated
    database before any service starts (the scale run fills the ledger there)."""
    # From the environment; the local owner's URL (with its kept password) when none is set.
    owner_url, kafka = database_url(), kafka_connection()
    tag = uuid.uuid4().hex[:6]
    run = Run(database=f"subsidy_bench_{tag}", stamp=f"bench-{time.strftime('%H%M%S')}-{tag}",
              metrics_ports={})  # fmt: skip  # no metrics endpoints: no fixed ports to clash
    wanted = (*PIPELINE, *(["notifier"] if notifier else []), *(["ingest"] if ingest else []))
    url = await fresh_database(owner_url, run.database)
    p = Platform(run, url, kafka)
    try:
        if prepare is not None:
            await prepare(p)
        await asyncio.to_thread(create_topics, run, kafka)
        await asyncio.to_thread(_log_append_time, kafka,
                                [p.events_topic, p.decisions_topic])  # fmt: skip
        # SMTP port 1: nobody subscribes in the bench, so the notifier never sends.
        for spec in service_specs(run, kafka, url, smtp_port=1):
            if spec.name in wanted:
                p.services.append(processes.start(spec, layout().logs, prefix="bench"))
        await asyncio.gather(*(processes.wait_ready(r) for r in p.services))
        groups = [run.group("eligibility"), run.group("ledger")]
        if notifier:
            groups.append(run.group("notifier"))
        await _await_groups(p, groups)
        console.print(
            f"{label}: database {run.database}, topics demo.{run.stamp}.*, "
            + ", ".join(f"{r.spec.name} pid {r.process.pid}" for r in p.services)
        )
        yield p
    finally:
        p.stop(console)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(delete_topics, run, kafka)
        await drop_database(owner_url, run.database)


def ingest_producer(kafka: KafkaConnection) -> AIOKafkaProducer:
    """The ingest server's producer settings (services/ingest/subsidy/ingest/server.py)."""
    return AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)


async def produce(
    p: Platform, records: list[tuple[bytes, bytes]], rate: float | None, console: Console
) -> list[int]:
    """Produce every record, as fast as possible or at `rate` per second; returns each one's
    append time (ms, broker clock)."""
    producer = ingest_producer(p.kafka)
    await producer.start()
    try:
        sends, t0, step = [], time.monotonic(), max(1, len(records) // 10)
        for i, (key, value) in enumerate(records):
            if rate is not None:
                # Paced by the schedule, not by sleeps: a late wake-up catches up at once.
                ahead = t0 + i / rate - time.monotonic()
                if ahead > 0.001:
                    await asyncio.sleep(ahead)
            sends.append(await producer.send(p.events_topic, key=key, value=value))
            if (i + 1) % step == 0:
                console.print(f"  produced {i + 1:,} of {len(records):,} "
                              f"({time.monotonic() - t0:.1f}s)")  # fmt: skip
        metadata = await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return [m.timestamp for m in metadata]


async def read_decisions(p: Platform, count: int | None = None) -> list[tuple[int, str]]:
    """Every record of the decisions topic: (append time in ms, the event that caused it).
    Read after the phase, so the bench takes no core from the services while they work."""
    consumer = AIOKafkaConsumer(**p.kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(p.decisions_topic, i) for i in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[tuple[int, str]] = []
        while len(out) < sum(ends.values()):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [(r.timestamp, dpb.Decision.FromString(r.value or b"").caused_by_event_id)
                        for r in records]  # fmt: skip
    finally:
        await consumer.stop()
    if count is not None and len(out) != count:
        raise RuntimeError(f"{len(out)} decisions on the topic, {count} in the outbox")
    return out


async def settle(p: Platform, work: Workload, console: Console) -> dict[str, int]:
    """Until every event is decided and published; the ledger's counts."""
    # Each distinct (id, content) is taken once: a repeat is a no-op, a correction is taken.
    expected = len(set(zip(work.event_ids, (value for _, value in work.records), strict=True)))
    await await_decisions(p.url, expected, p.run, console, TIMEOUT_S, poll_s=2.0)
    conn = await asyncpg.connect(p.url)
    try:
        return {
            "decisions": await conn.fetchval("SELECT count(*) FROM outbox"),
            "entries": await conn.fetchval("SELECT count(*) FROM entries"),
            "rejected": await conn.fetchval("SELECT count(*) FROM rejected_events"),
        }
    finally:
        await conn.close()


def percentile(ordered: list[int], q: float) -> int:
    """Nearest rank."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
