"""The dashboard's event streams over real HTTP."""

# At most so many per client address (429 with Retry-After) and in all (503), each ending after its
# lifetime; refusals counted.

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from subsidy.dashboard import bootstrap
from subsidy.dashboard.metrics import REGISTRY
from subsidy.dashboard.server import RunningDashboard
from tests.dashboard.ledger_rows import dashboard_settings
from tests.ledger.database import LedgerDb
from tests.ledger.events import CATALOG

# The fixture ledger_db.
pytestmark = pytest.mark.postgres


def _refused(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("subsidy_dashboard_streams_refused_total", {"reason": reason})
        or 0.0
    )


@asynccontextmanager
async def _dashboard(url: str, **settings: Any) -> AsyncIterator[RunningDashboard]:
    async with bootstrap.dashboard(dashboard_settings(url, **settings), CATALOG) as running:
        yield running


async def _open(
    session: aiohttp.ClientSession, base: str, stack: AsyncExitStack, forwarded: str | None = None
) -> aiohttp.ClientResponse:
    """An /events request, its response kept open until the stack closes."""
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    response = await stack.enter_async_context(session.get(f"{base}/events", headers=headers))
    if response.status == 200:
        await asyncio.wait_for(response.content.readline(), 10)  # `retry: …`: it is streaming
    return response


async def test_streams_per_client_address_are_limited(ledger_db: LedgerDb) -> None:
    before = _refused("per_client")
    async with (
        _dashboard(ledger_db.url, streams_per_client=2) as dashboard,
        aiohttp.ClientSession() as session,
    ):
        async with AsyncExitStack() as held:
            first = await _open(session, dashboard.url, held)
            second = await _open(session, dashboard.url, held)
            assert (first.status, second.status) == (200, 200)
            async with AsyncExitStack() as third_stack:
                third = await _open(session, dashboard.url, third_stack)
                assert third.status == 429
                assert int(third.headers["Retry-After"]) > 0
                assert (await third.json())["error"] == "too many event streams from this address"
            assert _refused("per_client") == before + 1
            async with session.get(f"{dashboard.url}/metrics") as metrics:
                assert 'subsidy_dashboard_streams_refused_total{reason="per_client"}' in (
                    await metrics.text()
                )
        # Both closed: once the server noticed (within a second or two), the address may open
        # streams again.
        for _ in range(50):
            async with AsyncExitStack() as again:
                if (await _open(session, dashboard.url, again)).status == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the closed streams were never released")


async def test_streams_in_all_are_limited(ledger_db: LedgerDb) -> None:
    before = _refused("total")
    async with (
        _dashboard(ledger_db.url, max_clients=1, trusted_proxies="127.0.0.1") as dashboard,
        aiohttp.ClientSession() as session,
        AsyncExitStack() as held,
    ):
        assert (await _open(session, dashboard.url, held, "10.1.0.1")).status == 200
        other = await _open(session, dashboard.url, held, "10.1.0.2")
        assert other.status == 503
        assert "Retry-After" in other.headers
    assert _refused("total") == before + 1


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(ledger_db: LedgerDb) -> None:
    async with (
        _dashboard(ledger_db.url, streams_per_client=1, trusted_proxies="127.0.0.0/8") as dashboard,
        aiohttp.ClientSession() as session,
        AsyncExitStack() as held,
    ):
        assert (await _open(session, dashboard.url, held, "10.2.0.1")).status == 200
        assert (await _open(session, dashboard.url, held, "10.2.0.2")).status == 200
        assert (await _open(session, dashboard.url, held, "10.2.0.1")).status == 429
        # Hops left of the proxy's own are the client's claim: the right-most one counts.
        assert (await _open(session, dashboard.url, held, "10.2.0.9, 10.2.0.1")).status == 429


async def test_without_trusted_proxies_forwarded_headers_are_ignored(ledger_db: LedgerDb) -> None:
    async with (
        _dashboard(ledger_db.url, streams_per_client=1) as dashboard,
        aiohttp.ClientSession() as session,
        AsyncExitStack() as held,
    ):
        assert (await _open(session, dashboard.url, held, "10.3.0.1")).status == 200
        assert (await _open(session, dashboard.url, held, "10.3.0.2")).status == 429


async def test_a_stream_ends_after_its_lifetime(ledger_db: LedgerDb) -> None:
    async with (
        _dashboard(ledger_db.url, stream_lifetime_seconds=1.5, streams_per_client=1) as dashboard,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(2):  # and the same address may open the next one at once
            async with session.get(f"{dashboard.url}/events") as stream:
                assert stream.status == 200
                started = asyncio.get_running_loop().time()
                while await asyncio.wait_for(stream.content.readline(), 10):
                    pass  # the state and keepalives, until the server ends the stream
                assert 1.0 < asyncio.get_running_loop().time() - started < 6
