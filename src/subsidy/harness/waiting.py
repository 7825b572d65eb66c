"""Waiting for the pipeline to settle, failing as soon as a service dies."""

# Until every accepted event is decided and published, and until the notifier has settled every
# delivery.

import asyncio
import time

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from subsidy.harness import processes
from subsidy.harness.platform import Run

# What the ledger has taken: each distinct (event id, content) it decided or refused. An event
# id enters the inbox once; each correction it took after that is a revision above 1 in
# event_revisions, each it refused a row of rejected_events with neither's content (a refusal
# on first sight enters the inbox with its own). Counting the inbox alone would miss them.
TAKEN = """
SELECT (SELECT count(*) FROM inbox)
     + (SELECT count(*) FROM event_revisions WHERE revision > 1)
     + (SELECT count(*) FROM rejected_events r
        WHERE NOT EXISTS (SELECT FROM inbox i
                          WHERE i.event_id = r.event_id AND i.payload_hash = r.payload_hash)
          AND NOT EXISTS (SELECT FROM event_revisions v
                          WHERE v.event_id = r.event_id AND v.payload_hash = r.payload_hash))
"""


async def taken(conn: asyncpg.Connection) -> int:
    """How many distinct (event id, content) the ledger has taken (TAKEN)."""
    count: int = await conn.fetchval(TAKEN)
    return count


async def await_decisions(
    url: str, expected: int, run: Run, console: Console, timeout_s: float, poll_s: float = 0.2
) -> float:
    """Until the ledger has taken every accepted event, `expected` distinct (event id, content)
    counted as TAKEN does (the ingest API's accepted: originals and corrections), and the relay
    has published every decision (the outbox is empty); returns the seconds it took. Each poll
    counts the inbox (a full scan): the benchmark polls less often, not to load what it
    measures."""
    conn = await asyncpg.connect(url)
    start = time.monotonic()
    try:
        progress = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console)  # fmt: skip
        with progress:
            task = progress.add_task("decide", total=expected)
            while True:
                processes.alive(run.services)
                done = await taken(conn)
                unsent = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                progress.update(task, completed=done)
                if done >= expected and unsent == 0:
                    return time.monotonic() - start
                if time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"{done} of {expected} events decided, {unsent} decisions "
                                       f"unpublished after {timeout_s:.0f}s")  # fmt: skip
                await asyncio.sleep(poll_s)
    finally:
        await conn.close()


async def await_notifications(url: str, run: Run, timeout_s: float) -> dict[str, int]:
    """Until the notifier has taken every published decision and every payout notice, and
    settled every delivery; the deliveries by state, channel and audience (those about a
    payout marked so)."""
    conn = await asyncpg.connect(url)
    start = time.monotonic()
    try:
        while True:
            processes.alive(run.services)
            published = await conn.fetchval("SELECT count(*) FROM outbox")
            seen = await conn.fetchval("SELECT count(*) FROM notifier_decisions")
            notices = await conn.fetchval("SELECT count(*) FROM payout_notices")
            taken = await conn.fetchval("SELECT count(*) FROM notifier_payout_notices")
            rows = await conn.fetch(
                "SELECT state, channel, audience, CASE WHEN notice_id IS NULL THEN ''"
                " ELSE ' (payout)' END AS about, count(*) n FROM notifier_deliveries"
                " GROUP BY 1, 2, 3, 4"
            )
            pending = sum(r["n"] for r in rows if r["state"] == "pending")
            if seen >= published and taken >= notices and pending == 0:
                return dict(sorted(
                    (f"{r['state']} {r['channel']} to {r['audience']}{r['about']}", r["n"])
                    for r in rows
                ))  # fmt: skip
            if time.monotonic() - start > timeout_s:
                raise TimeoutError(
                    f"notifier: {seen} of {published} decisions and {taken} of {notices} payout"
                    f" notices taken, {pending} deliveries pending after {timeout_s:.0f}s"
                )
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
