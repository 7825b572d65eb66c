"""The dashboard sees every committed decision exactly when it commits, and serves it."""

# In whatever order ledger transactions commit; served as JSON and server-sent events.

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from structlog.testing import capture_logs

from subsidy.dashboard import bootstrap
from subsidy.dashboard.metrics import REGISTRY
from subsidy.dashboard.reader import Figures, LedgerReader
from subsidy.dashboard.server import LEDGER_UNREADABLE, RunningDashboard
from subsidy.domain.money import format_fen
from subsidy.harness.databases import with_search_path
from tests.dashboard.ledger_rows import (
    dashboard_settings,
    decide,
    mix,
    open_batch,
    totals,
)
from tests.ledger.database import LedgerDb, as_role
from tests.ledger.events import CATALOG

# The fixture ledger_db.
pytestmark = pytest.mark.postgres

SUBSIDY = Path(sys.executable).parent / "subsidy"


async def _look(url: str, reader: LedgerReader) -> Figures | None:
    conn = await asyncpg.connect(url)
    try:
        return await reader.look(conn)
    finally:
        await conn.close()


async def _decisions(url: str) -> int:
    return int((await totals(url))["decisions"])


async def test_out_of_order_commits_are_seen(ledger_db: LedgerDb) -> None:
    """A batch that took its outbox ids first but commits last is still noticed, once."""
    url = ledger_db.url
    reader = LedgerReader(latest_limit=10)
    first = await _look(url, reader)
    assert first is not None
    assert first.overall.decisions == 0
    assert await _look(url, reader) is None  # nothing new: nothing recomputed

    async with open_batch(url, mix(seed=101, enterprises=3, events_per_enterprise=8)):
        # Batch A holds the lower ids, uncommitted, while B commits the higher ones.
        await decide(url, mix(seed=102, enterprises=3, events_per_enterprise=8))
        after_b = await _look(url, reader)
        assert after_b is not None
        assert after_b.overall.decisions == await _decisions(url)
        assert reader.watermark.pending >= 1  # A may still commit below what was seen
    # A commits now, below B's ids.
    after_a = await _look(url, reader)
    assert after_a is not None, "the late commit below the highest seen id was missed"
    assert after_a.overall.decisions == await _decisions(url)
    assert await _look(url, reader) is None  # and only once


async def test_transaction_running_at_start_is_seen(ledger_db: LedgerDb) -> None:
    """Decisions committed by a batch that was running when the dashboard started count too."""
    url = ledger_db.url
    await decide(url, mix(seed=111, enterprises=2, events_per_enterprise=6))
    reader = LedgerReader(latest_limit=10)
    async with open_batch(url, mix(seed=112, enterprises=2, events_per_enterprise=6)):
        await decide(url, mix(seed=113, enterprises=2, events_per_enterprise=6))
        start = await _look(url, reader)
        assert start is not None
        before = start.overall.decisions
    after = await _look(url, reader)
    assert after is not None
    assert after.overall.decisions == await _decisions(url) > before


async def test_rolled_back_batch_leaves_no_trace(ledger_db: LedgerDb) -> None:
    """Ids of an abandoned batch never appear: the gap settles without a recomputation."""
    url = ledger_db.url
    reader = LedgerReader(latest_limit=10)
    assert await _look(url, reader) is not None
    async with open_batch(url, mix(seed=121, enterprises=2, events_per_enterprise=6)) as batch:
        await decide(url, mix(seed=122, enterprises=2, events_per_enterprise=6))
        assert await _look(url, reader) is not None
        await batch.rollback()
    assert await _look(url, reader) is None


async def test_figures_match_the_ledger(ledger_db: LedgerDb) -> None:
    """Totals by measure, district and status, and the latest decisions newest first."""
    url = ledger_db.url
    await decide(url, mix(seed=131, enterprises=6, events_per_enterprise=15))
    figures = await _look(url, LedgerReader(latest_limit=5))
    assert figures is not None
    expected = await totals(url)
    assert figures.overall.granted_fen == expected["granted"] > 0
    assert {t.key: t.granted_fen for t in figures.by_measure} == expected["by_measure"]
    assert {t.key: t.granted_fen for t in figures.by_district} == expected["by_district"]
    assert {t.key: t.entitlements for t in figures.by_status} == expected["by_status"]
    assert len(figures.latest) == 5
    assert [d.id for d in figures.latest] == sorted((d.id for d in figures.latest), reverse=True)


# ---- the server --------------------------------------------------------------------------


@pytest.fixture
async def dashboard(ledger_db: LedgerDb) -> AsyncIterator[RunningDashboard]:
    async with bootstrap.dashboard(dashboard_settings(ledger_db.url), CATALOG) as running:
        yield running


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def _wait_healthy(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(100):
        status, _body = await _get(session, f"{base}/healthz")
        if status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the dashboard never became healthy")


async def _next_state(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next `state` event of a server-sent event stream (comments skipped)."""
    event, data = None, []
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 30)).decode().rstrip("\n")
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())
        elif line == "":
            if event == "state" and data:
                return dict(json.loads("\n".join(data)))
            event, data = None, []


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def test_server_streams_new_decisions(
    ledger_db: LedgerDb, dashboard: RunningDashboard
) -> None:
    """JSON endpoints, health, metrics, and a state on /events after each commit."""
    url, base = ledger_db.url, dashboard.url
    await decide(url, mix(seed=141, enterprises=4, events_per_enterprise=10))
    async with aiohttp.ClientSession() as session:
        await _wait_healthy(session, base)
        async with session.get(f"{base}/events") as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            state = await _next_state(stream)
            while state["overall"]["decisions"] < await _decisions(url):
                state = await _next_state(stream)  # the first look may predate the commit
            assert _gauge("subsidy_dashboard_clients") == 1
            expected = await totals(url)
            assert state["overall"]["granted"] == format_fen(expected["granted"])
            shown = {m["measure"]: m["grantedFen"] for m in state["byMeasure"]}
            assert set(shown) == {r.measure for r in CATALOG.rules}  # every measure, zeros too
            assert {k: v for k, v in shown.items() if k in expected["by_measure"]} == expected[
                "by_measure"
            ]
            assert [d["name"] for d in state["byDistrict"]][:2] == ["姑苏区", "苏州高新区"]

            await decide(url, mix(seed=142, enterprises=2, events_per_enterprise=10))
            newer = await _next_state(stream)
            assert newer["version"] > state["version"]
            assert newer["overall"]["decisions"] == await _decisions(url)
            assert newer["latest"][0]["id"] > state["latest"][0]["id"]

            status, body = await _get(session, f"{base}/api/totals")
            assert status == 200
            assert body["overall"] == newer["overall"]
            status, body = await _get(session, f"{base}/api/latest?limit=3")
            assert status == 200
            assert body["latest"] == newer["latest"][:3]
            assert body["latest"][0]["granted"].startswith("¥")
            status, body = await _get(session, f"{base}/api/latest?limit=x")
            assert status == 400
            async with session.get(f"{base}/metrics") as response:
                assert "subsidy_dashboard_clients 1.0" in await response.text()
            async with session.get(f"{base}/") as response:
                assert response.status == 200
                assert "script-src 'self';" in response.headers["Content-Security-Policy"]
                assert "实时看板" in await response.text()
    for _ in range(50):  # the stream's end is noticed within a second
        if _gauge("subsidy_dashboard_clients") == 0:
            break
        await asyncio.sleep(0.1)
    assert _gauge("subsidy_dashboard_clients") == 0


async def test_unhealthy_without_a_ledger_and_never_shows_why(fresh_database_url: str) -> None:
    """No ledger schema: 503 with a fixed message; the database's words go to the log."""
    settings = dashboard_settings(with_search_path(fresh_database_url, "nowhere"))
    with capture_logs() as logs:
        async with (
            bootstrap.dashboard(settings, CATALOG) as running,
            aiohttp.ClientSession() as session,
        ):
            for _ in range(100):
                async with session.get(f"{running.url}/healthz") as response:
                    status, text = response.status, await response.text()
                    body = await response.json()
                if body["error"]:
                    break
                await asyncio.sleep(0.1)
            async with session.get(f"{running.url}/api/totals") as response:
                totals_status, totals = response.status, await response.text()
    assert status == 503
    assert body["error"] == LEDGER_UNREADABLE
    for shown in (text, totals):
        assert "outbox" not in shown
        assert "nowhere" not in shown
    assert totals_status == 503
    failures = [e for e in logs if e["event"] == "dashboard.ledger_unavailable"]
    assert failures
    assert "outbox" in failures[0]["error"]


async def test_cli_serves_and_stops_on_sigterm(ledger_db: LedgerDb) -> None:
    """`subsidy dashboard serve` answers, and SIGTERM ends it promptly with a stream open."""
    process = await asyncio.create_subprocess_exec(
        str(SUBSIDY), "dashboard", "serve", "--port", "0",
        env={**os.environ, "DATABASE_URL": as_role(ledger_db.url, "dashboard"),
             "LOG_LEVEL": "WARNING"},
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        assert line.startswith("dashboard on http://127.0.0.1:"), line
        base = line.split()[-1].rstrip("/")
        async with aiohttp.ClientSession() as session:
            await _wait_healthy(session, base)
            async with session.get(f"{base}/events") as stream:
                await _next_state(stream)
                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
