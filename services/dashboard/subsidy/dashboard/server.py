"""The dashboard's web server: the page, /events (server-sent events), JSON, health and metrics."""

# One task watches the ledger (woken by the ledger's `NOTIFY ledger_outbox` at each commit, polling
# as a fallback: it also notices the payouts' changes) and publishes a new state when something
# changed; every browser connected to /events gets it. A state is the whole picture (totals, payouts
# and latest decisions), so a slow browser gets the newest one, nothing queues.

import asyncio
import contextlib
import time
from dataclasses import dataclass
from ipaddress import ip_address

import asyncpg
import structlog
from aiohttp import web

from subsidy.dashboard import metrics
from subsidy.dashboard.cap_metrics import export_caps
from subsidy.dashboard.hub import Hub
from subsidy.dashboard.reader import LedgerReader
from subsidy.dashboard.routes import (
    GATE,
    HUB,
    LEDGER_UNREADABLE,
    METRICS,
    PAGE,
    POOL,
    SETTINGS,
    VIEW,
    Page,
    add_routes,
)
from subsidy.dashboard.settings import DashboardSettings
from subsidy.dashboard.streams import StreamGate, parse_networks
from subsidy.dashboard.view import DashboardView
from subsidy.domain.catalog import Catalog
from subsidy.infra.metrics import service_registry
from subsidy.infra.retries import DATABASE_OUTAGE

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "ledger_outbox"  # what the ledger's BatchWriter.flush notifies
# The drill-down's reads, on request: a few connections at most, opened when first needed.
_POOL_SIZE = 2

__all__ = ["LEDGER_UNREADABLE", "Hub", "Page", "RunningDashboard", "create_app", "start_dashboard"]


async def watch_ledger(
    settings: DashboardSettings, view: DashboardView, hub: Hub, stop: asyncio.Event
) -> None:
    """Publish a new state whenever decisions are committed, until `stop`. Survives the
    database going away: it reconnects with backoff and reads everything again."""
    reader = LedgerReader(settings.latest_limit)
    backoff = DATABASE_OUTAGE.backoff("dashboard.ledger_unavailable")
    wake = asyncio.Event()
    while not stop.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(settings.database_url, timeout=10)
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
            reader.reset()
            while not stop.is_set():
                wake.clear()  # before looking: a NOTIFY during the look is not lost
                started = time.perf_counter()
                figures = await reader.look(conn)
                hub.last_look, hub.error = time.monotonic(), None
                metrics.LAST_POLL.set_to_current_time()
                backoff.succeeded()
                if figures is not None:
                    hub.publish_states(view.states(figures))
                    export_caps(figures.panels.caps, view.catalog)
                    metrics.REFRESHES.inc()
                    metrics.REFRESH_SECONDS.observe(time.perf_counter() - started)
                    log.debug("dashboard.published", version=hub.version,
                              decisions=figures.overall.decisions)  # fmt: skip
                    # Bursts of commits: at most one recomputation per interval.
                    await _sleep_unless(stop, settings.min_refresh_seconds)
                await _wait_any(stop, wake, settings.poll_seconds)
        except Exception as err:  # the page must outlive a database restart or a bad row
            metrics.POLL_ERRORS.inc()
            hub.error = f"{type(err).__name__}: {err}"
            delay = backoff.failed(
                err, exc_info=not isinstance(err, OSError | asyncpg.PostgresError)
            )
            await _sleep_unless(stop, delay)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def create_app(
    settings: DashboardSettings, catalog: Catalog, hub: Hub | None = None
) -> web.Application:
    """The application (without the ledger watcher: `start_dashboard` runs both)."""
    app = web.Application()
    app[HUB] = hub or Hub()
    app[PAGE] = Page.load()
    app[SETTINGS] = settings
    app[VIEW] = DashboardView(catalog)
    app[GATE] = StreamGate(
        settings.max_clients, settings.streams_per_client, parse_networks(settings.trusted_proxies)
    )
    app[METRICS] = service_registry(metrics.REGISTRY)
    add_routes(app)

    async def open_pool(app: web.Application) -> None:
        # min_size 0: nothing connects until a drill-down asks, so a ledger that is down
        # does not keep the page from starting (the watcher waits for it).
        app[POOL] = await asyncpg.create_pool(
            settings.database_url, min_size=0, max_size=_POOL_SIZE, timeout=10
        )

    async def close_streams(app: web.Application) -> None:
        app[HUB].close()

    async def close_pool(app: web.Application) -> None:
        await app[POOL].close()

    app.on_startup.append(open_pool)
    app.on_shutdown.append(close_streams)
    app.on_cleanup.append(close_pool)
    return app


@dataclass
class RunningDashboard:
    """A started dashboard: where it listens, and how to stop it."""

    runner: web.AppRunner
    hub: Hub
    host: str
    port: int
    _stop: asyncio.Event
    _watcher: asyncio.Task[None]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop watching the ledger, end every stream, close the listener."""
        self._stop.set()
        # It stops between looks; one stuck connecting or querying is cancelled by wait_for.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._watcher, 5)
        await self.runner.cleanup()
        log.info("dashboard.stopped")


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def start_dashboard(settings: DashboardSettings, catalog: Catalog) -> RunningDashboard:
    """Serve the dashboard on settings.host:settings.port (port 0: any free one) and start
    watching the ledger."""
    if not _is_loopback(settings.host):
        log.warning(
            "dashboard.not_loopback",
            host=settings.host,
            hint="the page has no login: put it behind an authenticating proxy",
        )
    hub = Hub()
    app = create_app(settings, catalog, hub)
    # Streams end on shutdown (close_streams), so a short grace period is enough.
    runner = web.AppRunner(app, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = int(runner.addresses[0][1])
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_ledger(settings, app[VIEW], hub, stop))
    log.info("dashboard.started", url=f"http://{settings.host}:{port}/")
    return RunningDashboard(runner, hub, settings.host, port, stop, watcher)
