"""(e) Flat growth: the same events' CPU per process on a fresh ledger and on a large one."""

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from rich.console import Console

from bench.domain import events_file
from bench.platform import TIMEOUT_S, Platform, Workload, platform, produce, read_decisions
from bench.procstats import cpu_seconds, stack_pids
from bench.seed_ledger import Seeded, seed_ledger
from subsidy.domain.catalog import load_catalog
from subsidy.domain.simulate import simulate
from subsidy.harness import processes
from subsidy.harness.comparison import compare, print_comparison
from subsidy.infra.logging import configure_logging
from subsidy.ingest.backlog import KafkaBacklog, Stage
from subsidy.ledger.export import contract_of
from subsidy.ledger.repository import STATE_COLUMNS

# What the target compares: each process the measured events pass through, and the machine.
PROCESSES = ("eligibility", "ledger-worker", "ledger-relay", "kafka", "postgres")
FLAT = 1.10  # the seeded run's CPU per event may be at most 10% above the fresh one's
LEDGER_RSS_MIB = 256
FRESH = ("fresh", "fresh_again")

# The harness's TAKEN (subsidy.harness.waiting) for the measured events only: the whole
# inbox counted would cost PostgreSQL in proportion to the ledger, which is the growth this
# run looks for, not the platform's.
TAKEN_OF = """
SELECT (SELECT count(*) FROM inbox WHERE event_id = ANY($1::text[]))
     + (SELECT count(*) FROM event_revisions WHERE revision > 1 AND event_id = ANY($1::text[]))
     + (SELECT count(*) FROM rejected_events r WHERE r.event_id = ANY($1::text[])
        AND NOT EXISTS (SELECT FROM inbox i
                        WHERE i.event_id = r.event_id AND i.payload_hash = r.payload_hash)
        AND NOT EXISTS (SELECT FROM event_revisions v
                        WHERE v.event_id = r.event_id AND v.payload_hash = r.payload_hash))
"""
UNSENT = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"  # its partial index: no scan


@dataclass(frozen=True)
class Options:
    """BENCH_SCALE_EVENTS measured events, on a ledger first empty, then holding
    BENCH_SCALE_SEEDED entitlements of other enterprises."""

    events: int = 20_000
    seeded: int = 1_000_000

    @classmethod
    def from_env(cls) -> "Options":
        env = os.environ
        return cls(events=int(env.get("BENCH_SCALE_EVENTS", cls.events)),
                   seeded=int(env.get("BENCH_SCALE_SEEDED", cls.seeded)))  # fmt: skip


async def _await_taken(p: Platform, work: Workload, console: Console) -> None:
    """Until the ledger has taken every measured (event id, content) and the relay has
    published every decision. Kafka's lag is watched first (the services' groups against
    their topics, as ingest's admission reads it); the database is asked only once both are
    caught up, so the waiting costs PostgreSQL nothing that grows with the ledger."""
    expected = len(set(zip(work.event_ids, (value for _, value in work.records), strict=True)))
    ids = sorted(set(work.event_ids))
    run = p.run
    backlog = KafkaBacklog(p.kafka, [
        Stage("eligibility", run.group("eligibility"), p.events_topic),
        Stage("ledger", run.group("ledger"), run.topics["entitlements.v1"]),
    ])  # fmt: skip
    conn = await asyncpg.connect(p.url)
    start, shown = time.monotonic(), 0.0
    try:
        while True:
            processes.alive(p.services)
            reading = await backlog.read()
            lag = None if reading is None else reading.value
            if lag == 0 and await conn.fetchval(UNSENT) == 0:
                done = await conn.fetchval(TAKEN_OF, ids)
                if done >= expected:
                    return
                console.print(f"  no lag, but {done:,} of {expected:,} taken")
            if time.monotonic() - start > TIMEOUT_S:
                raise TimeoutError(f"not all {expected} events taken after {TIMEOUT_S:.0f}s")
            if time.monotonic() - shown > 10:
                shown = time.monotonic()
                console.print(f"  {lag if lag is not None else '?'} records behind")
            await asyncio.sleep(1.0)
    finally:
        await backlog.stop()
        await conn.close()


async def export_of(
    conn: asyncpg.Connection, enterprises: list[str], event_ids: list[str]
) -> dict[str, Any]:
    """subsidy.ledger.export.export_contract restricted to the measured enterprises and
    events (the seed's are not in simulate's input, and a million of them would not fit here)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(
            f"SELECT {STATE_COLUMNS} FROM entitlements WHERE enterprise_id = ANY($1::text[])",
            enterprises,
        )
        rejected = await conn.fetch(
            "SELECT event_id, error FROM rejected_events WHERE event_id = ANY($1::text[])",
            event_ids,
        )
        parked = await conn.fetch(
            "SELECT event_id, event_ref FROM parked_reviews"
            " WHERE state = 'waiting' AND enterprise_id = ANY($1::text[])",
            enterprises,
        )
    return contract_of(rows, rejected, parked)


async def _measure(
    label: str, work: Workload, expected: dict[str, Any], seed: Options | None, console: Console
) -> dict[str, Any]:
    """The measured events through a fresh platform (its ledger seeded first if `seed`):
    CPU per event of each process, peak RSS, export against simulate. The seeding is over
    before the services start, so none of its CPU is counted."""
    enterprises = sorted({key.decode() for key, _ in work.records})
    seeded = Seeded()

    async def prepare(p: Platform) -> None:
        nonlocal seeded
        if seed is not None:
            seeded = await seed_ledger(p, seed.seeded, set(enterprises), console)

    out: dict[str, Any] = {}
    async with platform(f"scale {label}", console, notifier=False, prepare=prepare) as p:
        pids = {r.spec.name: r.process.pid for r in p.services} | stack_pids()
        cpu_before = cpu_seconds(pids)
        produced = await produce(p, work.records, None, console)
        await _await_taken(p, work, console)
        cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(pids).items()}
        conn = await asyncpg.connect(p.url)
        try:
            decided = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE enterprise_id = ANY($1::text[])", enterprises
            )
            # Only the measured events' decisions were published: the seed's count as sent.
            decisions = await read_decisions(p, decided)
            p.stop(console)
            exported = await export_of(conn, enterprises, sorted(set(work.event_ids)))
        finally:
            await conn.close()
    differences = compare(exported, expected)
    print_comparison(console, differences, expected)
    seconds = (max(t for t, _ in decisions) - min(produced)) / 1000
    out |= {
        "decisions": decided,
        "events_per_s": round(len(work.records) / max(1e-3, seconds)),
        "export_matches_simulate": not differences,
        **{f"cpu_us_per_event_{k}": round(v * 1e6 / len(work.records)) for k, v in cpu.items()},
        **{f"rss_mib_{k}": v for k, v in p.rss_mib.items()},
    }
    return {f"{label}_{k}": v for k, v in out.items()} | (seeded.figures() if seed else {})


def _verdicts(out: dict[str, Any]) -> dict[str, Any]:
    """Per process, seeded ÷ fresh CPU per event (the fresh runs' mean) and whether it is
    within FLAT; how far the two fresh runs differ (the noise to read the ratio by); the
    targets."""
    found: dict[str, Any] = {}
    for name in (*PROCESSES, "machine"):
        fresh = [out.get(f"{label}_cpu_us_per_event_{name}") for label in FRESH]
        big = out.get(f"seeded_cpu_us_per_event_{name}")
        if all(fresh) and big is not None:
            first, again = (float(x or 0) for x in fresh)
            mean = (first + again) / 2
            found[f"cpu_ratio_{name}"] = round(big / mean, 3)
            found[f"cpu_fresh_spread_{name}"] = round(abs(first - again) / mean, 3)
            found[f"cpu_flat_{name}"] = big / mean <= FLAT
    # Not measured is not met.
    found["target_cpu_flat_within_10pct"] = all(
        found.get(f"cpu_flat_{name}", False) for name in PROCESSES
    )
    # Whether this machine could tell 10% apart at all: two fresh runs within 10% of each other.
    found["cpu_fresh_runs_within_10pct"] = all(
        found.get(f"cpu_fresh_spread_{name}", 1.0) <= FLAT - 1 for name in PROCESSES
    )
    found["target_ledger_rss_under_256_mib"] = all(
        (rss := out.get(f"{label}_rss_mib_ledger-worker")) is not None and rss <= LEDGER_RSS_MIB
        for label in (*FRESH, "seeded")
    )
    return found


async def _run(opts: Options, console: Console) -> dict[str, Any]:
    console.rule(f"scale: {opts.events:,} events on a fresh ledger, then on one holding "
                 f"{opts.seeded:,} entitlements of other enterprises")  # fmt: skip
    work = await asyncio.to_thread(Workload.load, events_file(opts.events))
    expected = await asyncio.to_thread(lambda: simulate(work.lines, load_catalog()).to_contract())
    out: dict[str, Any] = {"events": len(work.records), "seed_target_entitlements": opts.seeded}
    # Fresh before and after: the machine is shared, and the two fresh runs' difference says
    # how much of a ratio is noise.
    out |= await _measure(FRESH[0], work, expected, None, console)
    out |= await _measure("seeded", work, expected, opts, console)
    out |= await _measure(FRESH[1], work, expected, None, console)
    return out | _verdicts(out)


def run(opts: Options | None = None) -> dict[str, Any]:
    """The scale run; BENCH_SCALE_EVENTS and BENCH_SCALE_SEEDED override."""
    configure_logging("WARNING")
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)
    return asyncio.run(_run(opts or Options.from_env(), Console()))
