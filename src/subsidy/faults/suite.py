"""The fault run (`make test-faults`): the whole pipeline under kill -9 and server restarts."""

# 50,000 events go through every service on a private Kafka and PostgreSQL while services are killed
# with SIGKILL and both servers restart; in the end the export must equal `subsidy simulate`, the
# chain verify, and every notification have arrived once. The cluster variant
# (`make test-faults-cluster`, FaultConfig.cluster) runs two of each worker on a three-node Kafka
# and kills the node that leads the most partitions; it also reports how long decisions stalled at
# each fault.

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from rich.console import Console

from subsidy.demo.generator import generate
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.simulate import simulate
from subsidy.faults import stalls
from subsidy.faults.checks import final_checks
from subsidy.faults.feeder import FeedThread, distinct_events
from subsidy.faults.money import money_under_kills
from subsidy.faults.plan import CLUSTER_KILLS, KILLS, Fault, plan_faults
from subsidy.faults.progress import StallWatch
from subsidy.faults.stack import CLUSTER, Place, PrivateStack
from subsidy.faults.strikes import Strike, strike_all
from subsidy.faults.supervisor import Supervisor, instances
from subsidy.harness import processes
from subsidy.harness.databases import fresh_database
from subsidy.harness.inboxes import Inboxes, RunningInboxes
from subsidy.harness.platform import Run, create_topics, service_specs, subscribe
from subsidy.harness.processes import free_port
from subsidy.harness.waiting import await_decisions, await_notifications

T = TypeVar("T")
# The services the checks depend on; the ledger API and the dashboard only read, and each
# would cost a share of a small machine's cores.
UNDER_TEST = ("ingest", "eligibility", "ledger-worker", "ledger-relay", "notifier")
# Run as several instances when asked (FaultConfig.instances); the ingest API stays one.
SCALED = ("eligibility", "ledger-worker", "ledger-relay", "notifier")


@dataclass(frozen=True)
class FaultConfig:
    """The run's size, seed and pace (the defaults are the release gate's)."""

    events: int = 50_000
    seed: int = 2026
    feed_seconds: float = 120.0
    # Faults strike between these fractions of the feed, so events are certainly in flight.
    window: tuple[float, float] = (0.06, 0.8)
    decide_timeout_s: float = 420.0
    notify_timeout_s: float = 240.0
    place: Place = field(default_factory=Place)  # the private stack: one Kafka node
    instances: int = 1  # processes of each SCALED service
    kills: Mapping[str, int] = field(default_factory=lambda: dict(KILLS))
    kafka_down_s: float = 0.0  # a killed Kafka node's time away before its restart
    spacing_s: float = 0.0  # at least this long between one fault's end and the next
    title: str = "fault-tolerance suite"

    @classmethod
    def quick(cls, seed: int = 2026) -> "FaultConfig":
        """`make test`'s: the same faults in the same window of a shorter feed, so that CI
        keeps its time; the release gate (`make test-faults`) runs the 50,000."""
        return cls(events=15_000, seed=seed, feed_seconds=60.0,
                   title="fault-tolerance suite, quick")  # fmt: skip

    @classmethod
    def cluster(cls, seed: int = 2026) -> "FaultConfig":
        """The cluster suite's (`make test-faults-cluster`): two of each worker on a
        three-node Kafka, a node away 20 s, faults at least 8 s apart so that each one's stall
        shows; fewer events, the machine carrying three JVMs."""
        return cls(events=20_000, seed=seed, feed_seconds=180.0, place=CLUSTER, instances=2,
                   kills=dict(CLUSTER_KILLS), kafka_down_s=20.0, spacing_s=8.0,
                   title="fault-tolerance suite, cluster")  # fmt: skip

    def plan(self) -> list[Fault]:
        start, end = (self.feed_seconds * f for f in self.window)
        return plan_faults(self.seed, start, end, self.kills)


@dataclass
class FaultRun:
    """What happened and what was found."""

    strikes: list[Strike] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    report: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class _Clock:
    """Seconds since the feed began: the time base of the plan and of the report."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t0 = time.monotonic()
        self.wall0 = time.time()  # the same moment as the database's clock tells it

    def __call__(self) -> float:
        return time.monotonic() - self.t0


@dataclass
class _Session:
    """One run's moving parts."""

    config: FaultConfig
    console: Console
    run: Run = field(default_factory=lambda: Run(database="subsidy_faults", metrics_ports={},
                     ingest_address=f"127.0.0.1:{free_port()}"))  # fmt: skip
    clock: _Clock = field(default_factory=_Clock)
    lines: list[bytes] = field(default_factory=list)
    url: str = ""
    strikes: list[Strike] = field(default_factory=list)  # as they happen
    stalls_reported: bool = False

    def __post_init__(self) -> None:
        self.stack = PrivateStack.at(self.config.place)
        self.pid_file = self.stack.layout.run.parent / f"{self.config.place.name}-services.pids"
        self.supervisor = Supervisor(self.stack.layout.logs, self.clock, self.pid_file)
        self.inboxes = RunningInboxes(Inboxes(self.run.webhook_secret))

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)


async def _supervised(work: Awaitable[T], *guards: "asyncio.Future[Any]") -> T:
    """`work`, unless a guard fails first (the supervisor on a crash loop, the feed when the
    ingest API refused it for good): then the guard's error is raised and `work` cancelled."""
    task = asyncio.ensure_future(work)
    watching = set(guards)
    while True:
        done, _ = await asyncio.wait({task, *watching}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        for guard in done:
            if guard.cancelled() or guard.exception() is not None:
                task.cancel()
                guard.result()  # raises
            watching.discard(guard)  # done, and well: nothing more to watch for


async def _prepare(s: _Session) -> Catalog:
    """Private stack, database, topics, receivers, subscriptions and services, all fresh."""
    leftovers = Supervisor.kill_leftovers(s.pid_file)
    if leftovers:
        s.say(f"killed services an aborted earlier run left behind: pids {leftovers}")
    s.pid_file.unlink(missing_ok=True)
    began = time.monotonic()
    await asyncio.to_thread(s.stack.start_fresh)
    pids = ", ".join(str(b.pid()) for b in s.stack.brokers)
    s.say(f"private Kafka {s.stack.kafka_bootstrap} (pid {pids}) and PostgreSQL "
          f"port {s.stack.postgres.port} (pid {s.stack.postgres.pid()}) up in "
          f"{time.monotonic() - began:.1f}s; data and logs in {s.stack.layout.run}")  # fmt: skip
    await s.inboxes.start()
    work = s.stack.layout.run / "feed"
    work.mkdir(parents=True, exist_ok=True)
    events = work / "feed.jsonl"
    generated = islice(generate(s.config.events // 4, s.config.seed), s.config.events)
    s.lines = [line.encode() for line in generated]
    events.write_bytes(b"\n".join(s.lines) + b"\n")
    s.url = await fresh_database(s.stack.database_url, s.run.database)
    await asyncio.to_thread(create_topics, s.run, s.stack.kafka, True, s.stack.replicas)
    catalog = load_catalog()
    await subscribe(s.url, s.run, events, catalog, s.inboxes.webhook_url)
    specs = service_specs(s.run, s.stack.kafka, s.url, s.inboxes.smtp_port, s.stack.passwords,
                          s.stack.kafka_passwords)  # fmt: skip
    for spec in specs:
        if spec.name in UNDER_TEST:
            count = s.config.instances if spec.name in SCALED else 1
            for instance in instances(spec, count):
                s.supervisor.start(instance)
    await asyncio.gather(*(processes.wait_ready(r) for r in s.supervisor.services.values()))
    s.say("services up: " + ", ".join(f"{name} (pid {r.process.pid})"
                                      for name, r in s.supervisor.services.items()))  # fmt: skip
    return catalog


def _struck(s: _Session, strike: Strike, expected: int) -> None:
    s.strikes.append(strike)
    s.say(strike.line(expected))


async def _stalls(s: _Session, conn: asyncpg.Connection) -> None:
    """How long decisions stalled at each fault so far, once per run (a failed run too)."""
    if not s.stalls_reported:
        s.stalls_reported = True
        found, baseline = await stalls.measure(conn, s.strikes, s.clock.wall0)
        stalls.report(found, baseline, s.stack.layout.run / "stalls.json", s.say)


async def _drive(s: _Session, watcher: "asyncio.Task[None]", expected: int) -> list[Strike]:
    """Feed at the configured pace while the faults strike; then wait for every decision and
    every notification."""
    feeder = FeedThread(s.lines, s.stack.layout.run / "feed", s.run.ingest_address,
                        s.run.principals, s.run.grpc_client())  # fmt: skip
    stalls = StallWatch(s.url, expected, s.clock)
    sampling = asyncio.create_task(stalls.run())
    try:
        feeding = feeder.start(s.config.feed_seconds)
        strikes = await _supervised(
            strike_all(s.config.plan(), stack=s.stack, supervisor=s.supervisor, clock=s.clock,
                       database_url=s.url, fed=lambda: feeder.fed,
                       on_strike=lambda strike: _struck(s, strike, expected),
                       kafka_down_s=s.config.kafka_down_s, spacing_s=s.config.spacing_s),
            watcher, feeding,
        )  # fmt: skip
        fed = await _supervised(feeding, watcher)
        s.say(f"t+{s.clock():6.1f}s feed done: read {fed.read:,}, accepted {fed.accepted:,}, "
              f"duplicates {fed.duplicates:,}, rejected {fed.rejected:,}; the ledger must take "
              f"{expected:,} distinct events")  # fmt: skip
        timeout = s.config.decide_timeout_s
        await _supervised(await_decisions(s.url, expected, s.run, s.console, timeout), watcher)
        await sampling
    finally:
        feeder.stop.set()
        sampling.cancel()
    s.say(f"t+{s.clock():6.1f}s every event decided and every decision published; "
          + stalls.line())  # fmt: skip
    notified = await _supervised(
        await_notifications(s.url, s.run, s.config.notify_timeout_s), watcher
    )
    s.say(f"t+{s.clock():6.1f}s notifications settled: "
          + ", ".join(f"{n} {k}" for k, n in notified.items()))  # fmt: skip
    return strikes


async def _check(s: _Session, catalog: Catalog, strikes: list[Strike], expected: int) -> list[str]:
    want = await asyncio.to_thread(lambda: simulate(s.lines, catalog).to_contract())
    conn = await asyncpg.connect(s.url)
    try:
        await _stalls(s, conn)
        problems = await final_checks(conn, want, s.inboxes.inboxes, s.supervisor.exits,
                                      strikes, expected, s.say)  # fmt: skip
    finally:
        await conn.close()
    s.say("the money, with kill -9 during batch and confirmation:")
    work = s.stack.layout.run / "money"
    work.mkdir(parents=True, exist_ok=True)
    return problems + await money_under_kills(
        s.url, s.stack.passwords, catalog, work, s.config.seed, s.say
    )


async def _finish(s: _Session, result: FaultRun) -> None:
    """Stop every service and both servers, whatever happened; save the report."""
    if s.url and not result.ok:
        with contextlib.suppress(OSError, asyncpg.PostgresError):  # the database may be away
            conn = await asyncpg.connect(s.url, timeout=10)
            try:
                await _stalls(s, conn)
                await stalls.unheard_events(conn, s.say)
            finally:
                await conn.close()
    killed = await asyncio.to_thread(s.supervisor.stop_all)
    if killed:
        s.say(f"had to SIGKILL at the end: {', '.join(killed)}")
    await s.inboxes.stop()
    await asyncio.to_thread(s.stack.stop)
    s.say("services and the private Kafka and PostgreSQL stopped")
    verdict = "PASSED" if result.ok else "FAILED: " + "; ".join(result.problems)
    s.say(f"{s.config.title} {verdict} ({s.clock():.0f}s from the first event)")
    if s.console.record:
        result.report = s.stack.layout.run / "report.txt"
        s.console.save_text(str(result.report))


async def run_faults(config: FaultConfig, console: Console) -> FaultRun:
    """The whole fault run; the report goes to `console` (and to .run/<place>/report.txt when
    the console records, the stalls to stalls.json beside it)."""
    s = _Session(config, console)
    with s.stack.exclusive():
        return await _run(s, config, console)


async def _run(s: _Session, config: FaultConfig, console: Console) -> FaultRun:
    result = FaultRun()
    console.rule(config.title)
    s.say(f"seed {config.seed}: {config.events:,} events fed over {config.feed_seconds:.0f}s; "
          "the faults planned:")  # fmt: skip
    for fault in config.plan():
        s.say(f"  t+{fault.at_s:5.1f}s  {fault.target}")
    stop_watch = asyncio.Event()
    try:
        catalog = await _prepare(s)
        expected = distinct_events(s.lines)
        s.clock.reset()
        watcher = asyncio.create_task(s.supervisor.watch(stop_watch))
        result.strikes = await _drive(s, watcher, expected)
        stop_watch.set()
        await watcher
        result.problems = await _check(s, catalog, result.strikes, expected)
    except Exception as err:
        result.problems.append(f"{type(err).__name__}: {err}")
        raise
    finally:
        stop_watch.set()
        await _finish(s, result)
    return result
