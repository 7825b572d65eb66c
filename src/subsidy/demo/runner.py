"""The main job (`make run`): the whole platform on a realistic feed, end to end, checked.

Every run works in a database and topics of its own (`subsidy_demo`, `demo.<run>.…`), so the
result is the sample's alone and a run never sees another's messages.
"""

import asyncio
import json
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from subsidy.demo import processes
from subsidy.demo.inboxes import Inboxes, RunningInboxes
from subsidy.demo.processes import Running, ServiceSpec
from subsidy.demo.report import print_summary
from subsidy.devstack.kafka_admin import admin_client, ensure_topics
from subsidy.devstack.paths import layout
from subsidy.domain.catalog import Catalog
from subsidy.infra.scratch_db import create_database, drop_database
from subsidy.infra.settings import CommonSettings
from subsidy.infra.topics import PARTITIONS, Topic
from subsidy.ingest.client import IngestSummary, estimate_rows, ingest_file
from subsidy.ingest.store import migrate_ingest
from subsidy.ledger.chain import verify_chains
from subsidy.ledger.db import migrate_ledger
from subsidy.ledger.export import export_contract
from subsidy.notifier.repository import migrate_notifier, put_subscriptions
from subsidy.notifier.subscriptions import Subscription, bureaus_of
from subsidy.simulation import simulate

DEMO_DATABASE = "subsidy_demo"
# Fixed ports, so that KEEP=1 can say where to look; a clash fails loudly at start.
INGEST_ADDRESS = "127.0.0.1:50051"
LEDGER_API_ADDRESS = "127.0.0.1:50081"
DASHBOARD_PORT = 8088
METRICS_PORTS = {
    "eligibility": 9101,
    "ledger-worker": 9102,
    "ledger-relay": 9103,
    "ingest": 9104,
    "notifier": 9105,
    "ledger-api": 9106,
}
# The enterprises that subscribe to their decisions (webhook and mail), first come in the feed.
SUBSCRIBED_ENTERPRISES = 20


@dataclass
class Run:
    """One run's names, addresses, secrets and services."""

    database: str = DEMO_DATABASE
    ingest_address: str = INGEST_ADDRESS
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(METRICS_PORTS))
    stamp: str = field(default_factory=lambda: time.strftime("%Y%m%d%H%M%S"))
    ledger_api_address: str = LEDGER_API_ADDRESS
    dashboard_port: int = DASHBOARD_PORT
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    auditor_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    webhook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    services: list[Running] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)
    policy_catalog: Path | None = None
    policy_overlay: Path | None = None

    def topic(self, name: str) -> str:
        return f"demo.{self.stamp}.{name}"

    @property
    def topics(self) -> dict[str, str]:
        names = ("enterprise-events.v1", "entitlements.v1", "decisions.v1", "dead-letters.v1")
        return {n: self.topic(n) for n in names}


async def migrate_platform(url: str) -> None:
    """Apply every component's migrations to the database (and search_path) at url."""
    conn = await asyncpg.connect(url)
    try:
        await migrate_ledger(conn)
        await migrate_ingest(conn)
        await migrate_notifier(conn)
    finally:
        await conn.close()


async def fresh_database(base_url: str, name: str) -> str:
    """Drop and recreate the run's database, then apply every component's migrations."""
    await drop_database(base_url, name)
    url = await create_database(base_url, name)
    await migrate_platform(url)
    return url


def service_specs(
    run: Run, settings: CommonSettings, database_url: str, smtp_port: int
) -> list[ServiceSpec]:
    t = run.topics
    ports = {name: str(run.metrics_ports.get(name, 0)) for name in METRICS_PORTS}
    common = {"KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "DATABASE_URL": database_url,
              "LOG_LEVEL": "INFO"}  # fmt: skip
    # Every service runs the policy simulate is compared under: one catalog, one overlay.
    for key, path in (("POLICY_CATALOG", run.policy_catalog),
                      ("POLICY_OVERLAY", run.policy_overlay)):  # fmt: skip
        if path is not None:
            common[key] = str(path.resolve())
    ledger = {**common, "LEDGER_INPUT_TOPIC": t["entitlements.v1"],
              "LEDGER_DECISIONS_TOPIC": t["decisions.v1"],
              "LEDGER_DEAD_LETTER_TOPIC": t["dead-letters.v1"],
              "LEDGER_GROUP_ID": f"demo-{run.stamp}-ledger"}  # fmt: skip
    return [
        ServiceSpec("eligibility", ("eligibility", "worker"), {
            **common, "ELIGIBILITY_INPUT_TOPIC": t["enterprise-events.v1"],
            "ELIGIBILITY_OUTPUT_TOPIC": t["entitlements.v1"],
            "ELIGIBILITY_DEAD_LETTER_TOPIC": t["dead-letters.v1"],
            "ELIGIBILITY_GROUP_ID": f"demo-{run.stamp}-eligibility",
            "ELIGIBILITY_METRICS_PORT": ports["eligibility"]}),
        ServiceSpec("ledger-worker", ("ledger", "worker"),
                    {**ledger, "LEDGER_METRICS_PORT": ports["ledger-worker"]}),
        ServiceSpec("ledger-relay", ("ledger", "relay"),
                    {**ledger, "LEDGER_METRICS_PORT": ports["ledger-relay"]}),
        ServiceSpec("ingest", ("ingest-server",), {
            **common, "INGEST_TOPIC": t["enterprise-events.v1"], "INGEST_TOKENS": run.token,
            "INGEST_GRPC_ADDRESS": run.ingest_address,
            "INGEST_METRICS_PORT": ports["ingest"]}, grpc_address=run.ingest_address),
        ServiceSpec("notifier", ("notify", "worker"), {
            **common, "NOTIFIER_TOPIC": t["decisions.v1"],
            "NOTIFIER_GROUP_ID": f"demo-{run.stamp}-notifier",
            "NOTIFIER_SMTP_HOST": "127.0.0.1", "NOTIFIER_SMTP_PORT": str(smtp_port),
            "NOTIFIER_WEBHOOK_SECRETS": json.dumps({e: run.webhook_secret for e in run.subscribed}),
            "NOTIFIER_MAX_ATTEMPTS": "5", "NOTIFIER_BACKOFF_BASE_SECONDS": "0.5",
            "NOTIFIER_METRICS_PORT": ports["notifier"]}),
        # Locally the API shares the ledger's role; in production it connects as the read-only
        # subsidy_auditor (docs/security.md), and refuses a writable role unless told.
        ServiceSpec("ledger-api", ("ledger", "serve"), {
            **common, "LEDGER_API_DATABASE_URL": database_url,
            "LEDGER_API_ALLOW_WRITABLE_ROLE": "true",
            "LEDGER_API_AUDITOR_TOKENS": run.auditor_token,
            "LEDGER_API_GRPC_ADDRESS": run.ledger_api_address,
            "LEDGER_API_METRICS_PORT": ports["ledger-api"]}, grpc_address=run.ledger_api_address),
        ServiceSpec("dashboard", ("dashboard", "serve"), {
            **common, "DASHBOARD_PORT": str(run.dashboard_port)},
            health_url=f"http://127.0.0.1:{run.dashboard_port}/healthz"),
    ]  # fmt: skip


def _first_enterprises(events: Path, count: int) -> list[str]:
    """The first `count` distinct enterprise ids of a feed."""
    seen: list[str] = []
    for line in events.read_bytes().splitlines():
        try:
            enterprise = json.loads(line).get("enterpriseId")
        except ValueError:
            continue
        if isinstance(enterprise, str) and len(enterprise) == 18 and enterprise not in seen:
            seen.append(enterprise)
        if len(seen) == count:
            break
    return seen


async def subscribe(url: str, run: Run, events: Path, catalog: Catalog, webhook: str) -> None:
    """The first enterprises of the feed subscribe (webhook and mail, zh or en); every bureau
    takes its cases by mail."""
    seen = await asyncio.to_thread(_first_enterprises, events, SUBSCRIBED_ENTERPRISES)
    run.subscribed = seen
    subs = [
        Subscription(
            "enterprise", e, webhook, f"finance@{e.lower()}.example", "en" if i % 4 == 0 else "zh"
        )
        for i, e in enumerate(seen)
    ]
    subs += [Subscription("bureau", b, None, f"bureau{i}@gov.example", "zh")
             for i, b in enumerate(sorted(bureaus_of(catalog)))]  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await put_subscriptions(conn, subs)
    finally:
        await conn.close()


async def await_notifications(url: str, run: Run, timeout_s: float) -> dict[str, int]:
    """Until the notifier has taken every published decision and settled every delivery."""
    conn = await asyncpg.connect(url)
    start = time.monotonic()
    try:
        while True:
            processes.alive(run.services)
            published = await conn.fetchval("SELECT count(*) FROM outbox")
            seen = await conn.fetchval("SELECT count(*) FROM notifier_decisions")
            rows = await conn.fetch("SELECT state, channel, audience, count(*) n"
                                    " FROM notifier_deliveries GROUP BY 1, 2, 3")  # fmt: skip
            pending = sum(r["n"] for r in rows if r["state"] == "pending")
            if seen >= published and pending == 0:
                counts = {f"{r['state']} {r['channel']} to {r['audience']}": r["n"] for r in rows}
                return dict(sorted(counts.items()))
            if time.monotonic() - start > timeout_s:
                raise TimeoutError(
                    f"notifier: {seen} of {published} decisions taken, "
                    f"{pending} deliveries pending after {timeout_s:.0f}s"
                )
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def create_topics(run: Run, bootstrap: str) -> None:
    ensure_topics(bootstrap, tuple(
        Topic(name, 1 if "dead-letters" in name else PARTITIONS, "demo") for name in
        run.topics.values()))  # fmt: skip


def delete_topics(run: Run, bootstrap: str) -> None:
    admin = admin_client(bootstrap)
    try:
        admin.delete_topics(list(run.topics.values()), timeout_ms=30_000)
    finally:
        admin.close()


def _ingest(events: Path, work: Path, run: Run, console: Console) -> IngestSummary:
    """The feed through the ingest API, with a progress bar; the error report beside a copy."""
    copy = work / events.name
    shutil.copyfile(events, copy)
    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console)  # fmt: skip
    with progress:
        task = progress.add_task(f"ingest {events.name}", total=estimate_rows(copy))
        return ingest_file(copy, server=run.ingest_address, token=run.token,
                           on_progress=lambda n: progress.advance(task, n))  # fmt: skip


async def await_decisions(
    url: str, expected: int, run: Run, console: Console, timeout_s: float, poll_s: float = 0.2
) -> float:
    """Until the ledger has taken every accepted event (its inbox) and the relay has published
    every decision (the outbox is empty); returns the seconds it took. Each poll counts the
    inbox (a full scan): the benchmark polls less often, not to load what it measures."""
    conn = await asyncpg.connect(url)
    start = time.monotonic()
    try:
        progress = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console)  # fmt: skip
        with progress:
            task = progress.add_task("decide", total=expected)
            while True:
                processes.alive(run.services)
                taken = await conn.fetchval("SELECT count(*) FROM inbox")
                unsent = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                progress.update(task, completed=taken)
                if taken >= expected and unsent == 0:
                    return time.monotonic() - start
                if time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"{taken} of {expected} events decided, {unsent} decisions "
                                       f"unpublished after {timeout_s:.0f}s")  # fmt: skip
                await asyncio.sleep(poll_s)
    finally:
        await conn.close()


def compare(pipeline: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Differences between the pipeline's export and simulate's output, as lines."""
    if pipeline == expected:
        return []
    got = {e["entitlementId"]: e for e in pipeline["entitlements"]}
    want = {e["entitlementId"]: e for e in expected["entitlements"]}
    lines = [f"only in the pipeline: {k}" for k in sorted(got.keys() - want.keys())]
    lines += [f"only in simulate: {k}" for k in sorted(want.keys() - got.keys())]
    lines += [f"differs: {json.dumps(got[k], ensure_ascii=False)} vs "
              f"{json.dumps(want[k], ensure_ascii=False)}"
              for k in sorted(got.keys() & want.keys()) if got[k] != want[k]]  # fmt: skip
    if pipeline["rejectedEvents"] != expected["rejectedEvents"]:
        lines.append(f"rejected events: pipeline {len(pipeline['rejectedEvents'])}, "
                     f"simulate {len(expected['rejectedEvents'])}")  # fmt: skip
    return lines


def print_comparison(console: Console, differences: list[str], expected: dict[str, Any]) -> None:
    """`compare`'s verdict: "match" with the counts, or the first differences."""
    if differences:
        console.print("[red]pipeline vs subsidy simulate: MISMATCH[/red]")
        for line in differences[:20]:
            console.print("  " + line)
    else:
        console.print(f"pipeline vs subsidy simulate: [green]match[/green] "
                      f"({len(expected['entitlements']):,} entitlements, "
                      f"{len(expected['rejectedEvents']):,} rejected events)")  # fmt: skip


async def run_demo(
    events: Path, catalog: Catalog, keep: bool, console: Console, run: Run | None = None
) -> bool:
    """The whole job; True when the pipeline matched `simulate` and the chain verified."""
    settings = CommonSettings()  # type: ignore[call-arg]  # from the environment
    run = run or Run()
    work = layout().run / "demo"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    console.rule("Suzhou embodied-AI robot subsidies: the main job")
    url = await fresh_database(settings.database_url, run.database)
    await asyncio.to_thread(create_topics, run, settings.kafka_bootstrap)
    console.print(f"database {run.database}, topics demo.{run.stamp}.*")
    stopped = False
    inboxes = RunningInboxes(Inboxes(run.webhook_secret.encode()))
    await inboxes.start()
    await subscribe(url, run, events, catalog, inboxes.webhook_url)
    try:
        for spec in service_specs(run, settings, url, inboxes.smtp_port):
            run.services.append(processes.start(spec, layout().logs))
        await asyncio.gather(*(processes.wait_ready(r) for r in run.services))
        console.print("services up: " + ", ".join(r.spec.name for r in run.services))
        t_ingest = time.monotonic()
        summary = await asyncio.to_thread(_ingest, events, work, run, console)
        console.print(f"ingested {events.name}: read {summary.read}, accepted {summary.accepted}, "
                      f"duplicates {summary.duplicates}, rejected {summary.rejected}"
                      + (f" (report: {summary.report})" if summary.rejected else ""))  # fmt: skip
        waited = await await_decisions(url, summary.accepted, run, console, timeout_s=600)
        elapsed = time.monotonic() - t_ingest
        console.print(f"every event decided {waited:.1f}s after ingest finished; "
                      f"{summary.accepted / elapsed:,.0f} events/s from first ingest to last "
                      f"decision published")  # fmt: skip
        notified = await await_notifications(url, run, timeout_s=300)
        received = inboxes.inboxes
        console.print(
            "notifications: " + ", ".join(f"{n} {k}" for k, n in notified.items())
            + f"; at the receivers: {len(received.webhooks)} webhooks (signatures checked, "
            f"{received.duplicate_webhooks} repeats), {len(received.mails)} mails"
        )  # fmt: skip
        conn = await asyncpg.connect(url)
        try:
            chain = await verify_chains(conn)
            console.print(
                f"ledger chain: {'verified' if chain.ok else 'BROKEN'} "
                f"({chain.entries_checked} entries)"
                + ("" if chain.ok else f" at {chain.first_broken_entry}: {chain.detail}")
            )
            await print_summary(conn, catalog, console)
            console.print(f"rejected events: {summary.rejected} at ingest, "
                          f"{await conn.fetchval('SELECT count(*) FROM rejected_events')} "
                          "by the ledger")  # fmt: skip
            pipeline = await export_contract(conn)
        finally:
            await conn.close()
        expected = await asyncio.to_thread(
            lambda: simulate(events.read_bytes().splitlines(), catalog).to_contract()
        )
        differences = compare(pipeline, expected)
        print_comparison(console, differences, expected)
        if keep:
            stopped = True  # left running on purpose
            _print_where_to_look(run, url, console)
        console.print(f"done in {time.monotonic() - t0:.1f}s")
        return not differences and chain.ok and received.bad_signatures == 0
    finally:
        if not stopped:
            await inboxes.stop()
            killed = processes.stop_all(run.services)
            if killed:
                console.print(f"[yellow]had to kill: {', '.join(killed)}[/yellow]")
            await asyncio.to_thread(delete_topics, run, settings.kafka_bootstrap)


def _print_where_to_look(run: Run, url: str, console: Console) -> None:
    console.rule("left running (KEEP=1): stop with `make down` and `pkill -f subsidy.cli`")
    console.print(f"ingest API (gRPC)      {run.ingest_address}   writer token: {run.token}")
    console.print(
        f"ledger API (gRPC)      {run.ledger_api_address}   auditor token: {run.auditor_token}"
    )
    if run.subscribed:
        console.print(
            f"  try: SUBSIDY_LEDGER_TOKEN={run.auditor_token} subsidy ledger statement "
            f"{run.subscribed[0]} --server {run.ledger_api_address}"
        )
    console.print(f"live dashboard         http://127.0.0.1:{run.dashboard_port}/")
    console.print(f"database               {url}")
    for name, port in run.metrics_ports.items():
        console.print(f"metrics {name:<15}http://127.0.0.1:{port}/metrics")
    console.print("pids: " + ", ".join(f"{r.spec.name}={r.process.pid}" for r in run.services))
