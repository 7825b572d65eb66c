"""The main job (`make run`): the whole platform on a realistic feed, end to end, checked."""

# Every run works in a database and topics of its own (`subsidy_demo`, `demo.<run>.…`), so the
# result is the sample's alone and a run never sees another's messages.

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from subsidy.demo.money import run_money
from subsidy.demo.people import print_people, through_the_portal
from subsidy.demo.report import print_summary
from subsidy.devstack.endpoints import database_url, kafka_connection
from subsidy.devstack.paths import layout
from subsidy.devstack.stack import redact
from subsidy.domain.catalog import Catalog
from subsidy.domain.simulate import simulate
from subsidy.harness import processes
from subsidy.harness.comparison import compare, print_comparison
from subsidy.harness.databases import fresh_database
from subsidy.harness.inboxes import Inboxes, RunningInboxes
from subsidy.harness.platform import Run, create_topics, delete_topics, service_specs, subscribe
from subsidy.harness.principals import ingest_as_principals
from subsidy.harness.waiting import await_decisions, await_notifications
from subsidy.ingest.client import IngestSummary, estimate_rows
from subsidy.ledger.chain import VerifyResult, verify_chains
from subsidy.ledger.export import export_contract


def _ingest(events: Path, work: Path, run: Run, console: Console) -> IngestSummary:
    """The feed through the ingest API, each event under its feed's credential (or the
    reviewer's), with a progress bar; the error report beside a copy."""
    copy = work / events.name
    shutil.copyfile(events, copy)
    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console)  # fmt: skip
    with progress:
        task = progress.add_task(f"ingest {events.name}", total=estimate_rows(copy))
        return ingest_as_principals(copy, work, run.ingest_address, run.principals,
                                    run.grpc_client(),
                                    on_progress=lambda n: progress.advance(task, n))  # fmt: skip


# Something more done while every service is up (a test's people at the pages): True if it held.
Act = Callable[[str, Run], Awaitable[bool]]


async def run_demo(
    events: Path,
    catalog: Catalog,
    keep: bool,
    console: Console,
    run: Run | None = None,
    act: Act | None = None,
) -> bool:
    """The whole job; True when the pipeline matched `simulate`, the chain verified, the money
    reconciled, the portal showed what the ledger holds, and `act` held."""
    kafka = kafka_connection()
    run = run or Run()
    work = layout().run / "demo"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    console.rule("Suzhou embodied-AI robot subsidies: the main job")
    url = await fresh_database(database_url(), run.database)
    await asyncio.to_thread(create_topics, run, kafka)
    console.print(f"database {run.database}, topics demo.{run.stamp}.*")
    stopped = False
    inboxes = RunningInboxes(Inboxes(run.webhook_secret))
    await inboxes.start()
    await subscribe(url, run, events, catalog, inboxes.webhook_url)
    try:
        for spec in service_specs(run, kafka, url, inboxes.smtp_port):
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
        received = await _notifications(url, run, inboxes, console)
        chain, pipeline = await _read_ledger(url, catalog, summary, console)
        expected = await asyncio.to_thread(
            lambda: simulate(events.read_bytes().splitlines(), catalog).to_contract()
        )
        differences = compare(pipeline, expected)
        print_comparison(console, differences, expected)
        console.rule("资金拨付 money: budgets, treasury batches, the bank, reconciliation")
        money = await run_money(url, catalog, work, console)
        paid_notices = await await_notifications(url, run, timeout_s=300)
        console.print("notifications after the money: " + ", ".join(
            f"{n} {k}" for k, n in paid_notices.items() if k.endswith("(payout)")))  # fmt: skip
        seen = await through_the_portal(url, run, console)
        seen = seen and (act is None or await act(url, run))
        if keep:
            stopped = True  # left running on purpose
            _print_where_to_look(run, url, console)
            print_people(run, console)
        console.print(f"done in {time.monotonic() - t0:.1f}s")
        return (not differences and chain.ok and received.bad_signatures == 0 and money.ok
                and seen)  # fmt: skip
    finally:
        if not stopped:
            await inboxes.stop()
            killed = processes.stop_all(run.services)
            if killed:
                console.print(f"[yellow]had to kill: {', '.join(killed)}[/yellow]")
            await asyncio.to_thread(delete_topics, run, kafka)


async def _notifications(url: str, run: Run, inboxes: RunningInboxes, console: Console) -> Inboxes:
    """Once the notifier has settled every delivery: what it sent and what the receivers got."""
    notified = await await_notifications(url, run, timeout_s=300)
    received = inboxes.inboxes
    console.print(
        "notifications: " + ", ".join(f"{n} {k}" for k, n in notified.items())
        + f"; at the receivers: {len(received.webhooks)} webhooks (signatures checked, "
        f"{received.duplicate_webhooks} repeats), {len(received.mails)} mails"
    )  # fmt: skip
    return received


async def _read_ledger(
    url: str, catalog: Catalog, summary: IngestSummary, console: Console
) -> tuple[VerifyResult, dict[str, Any]]:
    """The chain verified and the summary printed; the chain's verdict and the ledger's export."""
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
        return chain, await export_contract(conn)
    finally:
        await conn.close()


def _print_where_to_look(run: Run, url: str, console: Console) -> None:
    console.rule("left running (KEEP=1): stop with `make down` and `pkill -f subsidy.cli`")
    console.print(f"gRPC over TLS, CA      {run.grpc_tls().ca}   (clients: --cacert)")
    console.print(f"ingest API (gRPC)      {run.ingest_address}   writer tokens:")
    for p in run.principals.values():
        console.print(
            f"  {p.name:<24} {p.token}  ({', '.join(p.event_types)}; {', '.join(p.sources)})"
        )
    console.print(
        f"ledger API (gRPC)      {run.ledger_api_address}   auditor token: {run.auditor_token}"
    )
    if run.subscribed:
        console.print(
            f"  try: SUBSIDY_LEDGER_TOKEN={run.auditor_token} subsidy ledger statement "
            f"{run.subscribed[0]} --server {run.ledger_api_address} "
            f"--cacert {run.grpc_tls().ca}"
        )
    console.print(f"live dashboard         http://127.0.0.1:{run.dashboard_port}/")
    console.print(f"database               {redact(url)}")
    for name, port in run.metrics_ports.items():
        console.print(f"metrics {name:<15}http://127.0.0.1:{port}/metrics")
    console.print("pids: " + ", ".join(f"{r.spec.name}={r.process.pid}" for r in run.services))
