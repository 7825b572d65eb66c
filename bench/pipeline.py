"""(b) End to end through the real Kafka and PostgreSQL, with (c) the raw ceilings beside it."""

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import CoordinatorNotAvailableError
from rich.console import Console

from bench.ceiling import kafka_ceiling, postgres_ceiling
from bench.domain import events_file
from bench.procstats import cpu_seconds, peak_rss_mib, stack_pids
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.devstack.endpoints import database_url, kafka_connection
from subsidy.devstack.kafka_admin import admin_client
from subsidy.devstack.paths import layout
from subsidy.domain.catalog import load_catalog
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.simulate import simulate
from subsidy.events.v1 import events_pb2 as epb
from subsidy.harness import processes
from subsidy.harness.comparison import compare, print_comparison
from subsidy.harness.databases import drop_database, fresh_database
from subsidy.harness.platform import Run, create_topics, delete_topics, service_specs
from subsidy.harness.principals import REVIEWER, demo_principals, principal_of
from subsidy.harness.waiting import await_decisions
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.logging import configure_logging
from subsidy.infra.topics import PARTITIONS
from subsidy.ingest.service import event_record
from subsidy.ledger.export import export_contract
from subsidy.ledger.settings import LedgerSettings

# The services a decision passes through; the notifier only reads what they produced.
PIPELINE = ("eligibility", "ledger-worker", "ledger-relay")
TIMEOUT_S = 1_800.0


@dataclass(frozen=True)
class Options:
    """What a run measures; the environment overrides the defaults for quick runs."""

    events: int = 200_000
    rate: float = 1_000.0  # events/s offered in the latency phase
    seconds: float = 30.0  # length of the latency phase
    notifier: bool = False  # also run the notifier (it competes for the same cores)

    @classmethod
    def from_env(cls) -> "Options":
        env = os.environ
        return cls(events=int(env.get("BENCH_EVENTS", cls.events)),
                   rate=float(env.get("BENCH_RATE", cls.rate)),
                   seconds=float(env.get("BENCH_SECONDS", cls.seconds)),
                   notifier=env.get("BENCH_NOTIFIER", "") not in ("", "0"))  # fmt: skip


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
async def platform(label: str, console: Console, notifier: bool) -> AsyncIterator[Platform]:
    """A fresh database and topics with the pipeline services running on them; everything
    stopped, deleted and dropped afterwards, also on failure."""
    # From the environment; the local owner's URL (with its kept password) when none is set.
    owner_url, kafka = database_url(), kafka_connection()
    tag = uuid.uuid4().hex[:6]
    run = Run(database=f"subsidy_bench_{tag}", stamp=f"bench-{time.strftime('%H%M%S')}-{tag}",
              metrics_ports={})  # fmt: skip  # no metrics endpoints: no fixed ports to clash
    wanted = (*PIPELINE, "notifier") if notifier else PIPELINE
    url = await fresh_database(owner_url, run.database)
    p = Platform(run, url, kafka)
    try:
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


def _producer(kafka: KafkaConnection) -> AIOKafkaProducer:
    """The ingest server's producer settings (services/ingest/subsidy/ingest/server.py)."""
    return AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)


async def _produce(
    p: Platform, records: list[tuple[bytes, bytes]], rate: float | None, console: Console
) -> list[int]:
    """Produce every record, as fast as possible or at `rate` per second; returns each one's
    append time (ms, broker clock)."""
    producer = _producer(p.kafka)
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


async def _read_decisions(p: Platform, count: int) -> list[tuple[int, str]]:
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
    if len(out) != count:
        raise RuntimeError(f"{len(out)} decisions on the topic, {count} in the outbox")
    return out


async def _settle(p: Platform, work: Workload, console: Console) -> dict[str, int]:
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


async def _notified(p: Platform, published: int, t_last: float) -> float:
    """Seconds after the last decision until the notifier had taken every one."""
    conn = await asyncpg.connect(p.url)
    try:
        while await conn.fetchval("SELECT count(*) FROM notifier_decisions") < published:
            processes.alive(p.services)
            if time.time() - t_last > TIMEOUT_S:
                raise TimeoutError("the notifier did not catch up")
            await asyncio.sleep(0.2)
        return time.time() - t_last
    finally:
        await conn.close()


async def _throughput(work: Workload, opts: Options, console: Console) -> dict[str, Any]:
    """Every event at once; sustained rates, the PostgreSQL ceiling on the same rows, and
    the export checked against simulate."""
    out: dict[str, Any] = {}
    async with platform("throughput", console, opts.notifier) as p:
        console.print(f"throughput: producing {len(work.records):,} events as fast as possible")
        pids = {r.spec.name: r.process.pid for r in p.services} | stack_pids()
        cpu_before = cpu_seconds(pids)
        produced = await _produce(p, work.records, None, console)
        counts = await _settle(p, work, console)
        cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(pids).items()}
        decisions = await _read_decisions(p, counts["decisions"])
        first_in, first_out = min(produced), min(t for t, _ in decisions)
        last_out = max(t for t, _ in decisions)
        if opts.notifier:
            out["notifier_behind_last_decision_s"] = round(
                await _notified(p, counts["decisions"], last_out / 1000), 1
            )
        p.stop(console)
        out |= {
            "events": len(work.records),
            "events_distinct": len(set(work.event_ids)),
            **counts,
            "produce_per_s": round(len(produced) / max(1e-3, (max(produced) - first_in) / 1000)),
            "decisions_per_s": round(len(decisions) / max(1e-3, (last_out - first_out) / 1000)),
            "events_per_s": round(len(work.records) / max(1e-3, (last_out - first_in) / 1000)),
            "throughput_seconds": round((last_out - first_in) / 1000, 1),
        }
        out |= {f"rss_mib_{name}": mib for name, mib in p.rss_mib.items()}
        # Where the cores went: each service, Kafka, PostgreSQL, and the machine (the rest
        # is this process producing and watching, and anything else running).
        out |= {f"cpu_s_{name}": round(sec, 1) for name, sec in cpu.items()}
        console.print(f"throughput: {out['decisions_per_s']:,} decisions/s, "
                      f"{out['events_per_s']:,} events/s; checking against simulate")  # fmt: skip
        conn = await asyncpg.connect(p.url)
        try:
            exported = await export_contract(conn)
        finally:
            await conn.close()
        expected = await asyncio.to_thread(
            lambda: simulate(work.lines, load_catalog()).to_contract()
        )
        differences = compare(exported, expected)
        out["export_matches_simulate"] = not differences
        print_comparison(console, differences, expected)
        batch = LedgerSettings().batch_size  # type: ignore[call-arg]  # as the worker reads it
        console.print(f"ceiling: {counts['decisions']:,} rows into PostgreSQL, {batch} a batch")
        out |= await postgres_ceiling(p.url, counts["decisions"], batch)
    return out


def _percentile(ordered: list[int], q: float) -> int:
    """Nearest rank."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _latency(work: Workload, opts: Options, console: Console) -> dict[str, Any]:
    """A fixed offered load; per event, its last decision's append time minus its own."""
    count = min(len(work.records), int(opts.rate * opts.seconds))
    part = work.head(count)
    async with platform("latency", console, opts.notifier) as p:
        console.print(f"latency: {count:,} events at {opts.rate:,.0f}/s")
        produced = await _produce(p, part.records, opts.rate, console)
        counts = await _settle(p, part, console)
        decisions = await _read_decisions(p, counts["decisions"])
        p.stop(console)
    ingested: dict[str, int] = {}
    for event_id, at in zip(part.event_ids, produced, strict=True):
        ingested.setdefault(event_id, at)  # a repeated id decides nothing the second time
    last: dict[str, int] = {}
    for at, event_id in decisions:
        last[event_id] = max(at, last.get(event_id, at))
    latencies = sorted(at - ingested[e] for e, at in last.items())
    return {
        "latency_events": count,
        "latency_offered_per_s": round(count / max(1e-3, (max(produced) - min(produced)) / 1000)),
        # Events no rule applies to (or refused) produce no decision: no latency to measure.
        "latency_events_decided": len(latencies),
        "latency_p50_ms": _percentile(latencies, 0.50),
        "latency_p99_ms": _percentile(latencies, 0.99),
        "latency_max_ms": latencies[-1],
        **{f"latency_rss_mib_{name}": mib for name, mib in p.rss_mib.items()},
    }


async def _run(opts: Options, console: Console) -> dict[str, Any]:
    console.rule(f"pipeline: {opts.events:,} events; latency at {opts.rate:,.0f}/s "
                 f"for {opts.seconds:.0f}s")  # fmt: skip
    work = await asyncio.to_thread(Workload.load, events_file(opts.events))
    console.print(f"{len(work.records):,} valid events pre-encoded "
                  f"(of {opts.events:,} lines; the ingest API rejects the rest)")  # fmt: skip
    out = await _throughput(work, opts, console)
    out |= await _latency(work, opts, console)
    console.print(f"ceiling: {len(work.records):,} messages through Kafka, no logic")
    out |= await kafka_ceiling(kafka_connection(), work.records)
    # Both ceilings in decisions/s: Kafka carries events, each worth this many decisions.
    per_event = out["decisions"] / max(1, out["events"])
    ceiling = min(out["kafka_end_to_end_per_s"] * per_event, out["postgres_rows_per_s"])
    out["ceiling_decisions_per_s"] = round(ceiling)
    out["end_to_end_of_ceiling"] = round(out["decisions_per_s"] / ceiling, 3)
    out["rss_mib_bench"] = peak_rss_mib()
    out["target_5000_events_per_s"] = out["events_per_s"] >= 5_000
    out["target_p99_under_500_ms"] = out["latency_p99_ms"] < 500
    out["target_30pct_of_ceiling"] = out["end_to_end_of_ceiling"] >= 0.30
    return out


def run(opts: Options | None = None) -> dict[str, Any]:
    """The whole suite; BENCH_EVENTS, BENCH_RATE, BENCH_SECONDS, BENCH_NOTIFIER override."""
    configure_logging("WARNING")  # the bench's own migrations and clients: no chatter
    # faust's group metadata is not the consumer protocol's: kafka's admin warns on every look.
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)
    return asyncio.run(_run(opts or Options.from_env(), Console()))
