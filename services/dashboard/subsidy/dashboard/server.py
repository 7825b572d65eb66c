"""The dashboard's web server: the page, /events (server-sent events), JSON, health and metrics.

One task watches the ledger (woken by the ledger's `NOTIFY ledger_outbox` at each commit,
polling as a fallback: it also notices the payouts' changes) and publishes a new state when
something changed; every browser connected to /events gets it. A state is the whole picture
(totals, payouts and latest decisions), so a slow browser gets the newest one, nothing queues.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from ipaddress import ip_address
from typing import Any

import asyncpg
import prometheus_client
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from subsidy.dashboard import metrics
from subsidy.dashboard.reader import LedgerReader
from subsidy.dashboard.settings import DashboardSettings
from subsidy.dashboard.streams import StreamGate, parse_networks, refused
from subsidy.dashboard.view import DashboardView
from subsidy.domain.catalog import Catalog
from subsidy.infra.metrics import service_registry

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "ledger_outbox"  # what the ledger's BatchWriter.flush notifies
_RECONNECT_MAX_S = 30.0
# What /healthz and the API say while the ledger cannot be read; the database's own words
# (host names, roles, schema) go to the log only.
LEDGER_UNREADABLE = "the ledger cannot be read (the dashboard's log says why)"


class Hub:
    """The latest state and everyone waiting for a newer one."""

    def __init__(self) -> None:
        self.version = 0
        self.totals: dict[str, Any] | None = None
        self.latest: list[dict[str, Any]] = []
        self.as_of: str | None = None
        self.frame = b""  # the state as one server-sent event, encoded once for everybody
        self.last_look: float | None = None  # monotonic time of the last successful look
        self.error: str | None = None  # the last look's failure, for the log only
        self.closed = False
        self._changed = asyncio.Event()

    def publish(self, totals: dict[str, Any], latest: list[dict[str, Any]]) -> None:
        """A new state; wakes every stream."""
        self.version += 1
        self.totals, self.latest = totals, latest
        self.as_of = datetime.now(UTC).isoformat()
        data = json.dumps(self.state(), ensure_ascii=False, separators=(",", ":"))
        self.frame = f"id: {self.version}\nevent: state\ndata: {data}\n\n".encode()
        self._wake()

    def state(self) -> dict[str, Any]:
        """What /events sends: totals and latest decisions together."""
        return {"version": self.version, "asOf": self.as_of, **(self.totals or {}),
                "latest": self.latest}  # fmt: skip

    def close(self) -> None:
        """Shutting down: every stream returns."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_newer(self, version: int, seconds: float) -> bool:
        """Until there is a state newer than `version` (True) or `seconds` passed (False)."""
        if self.version != version or self.closed:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
        return self.version != version or self.closed


async def watch_ledger(
    settings: DashboardSettings, view: DashboardView, hub: Hub, stop: asyncio.Event
) -> None:
    """Publish a new state whenever decisions are committed, until `stop`. Survives the
    database going away: it reconnects with backoff and reads everything again."""
    reader = LedgerReader(settings.latest_limit)
    delay = 0.5
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
                delay = 0.5
                if figures is not None:
                    hub.publish(view.totals(figures), view.latest(figures))
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
            log.warning("dashboard.ledger_unavailable", error=hub.error, retry_in=delay,
                        exc_info=not isinstance(err, OSError | asyncpg.PostgresError))  # fmt: skip
            await _sleep_unless(stop, delay)
            delay = min(_RECONNECT_MAX_S, delay * 2)
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


# ---- the page ----------------------------------------------------------------------------


def _inline_hashes(html: str, tag: str) -> str:
    """CSP source expressions for the page's inline <style>/<script> blocks: only these run."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks
    )


@dataclass(frozen=True)
class Page:
    """The one HTML page (inline CSS and JS, nothing fetched from elsewhere) and its CSP."""

    html: str
    csp: str

    @classmethod
    def load(cls) -> "Page":
        html = resources.files("subsidy.dashboard").joinpath("page.html").read_text("utf-8")
        csp = (
            "default-src 'none'; connect-src 'self'; img-src 'self' data:; "
            f"style-src {_inline_hashes(html, 'style')}; "
            f"script-src {_inline_hashes(html, 'script')}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        return cls(html, csp)


HUB = web.AppKey("hub", Hub)
PAGE = web.AppKey("page", Page)
SETTINGS = web.AppKey("settings", DashboardSettings)
GATE = web.AppKey("gate", StreamGate)
METRICS = web.AppKey("metrics", CollectorRegistry)

_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def _index(request: web.Request) -> web.Response:
    page = request.app[PAGE]
    return web.Response(
        text=page.html,
        content_type="text/html",
        charset="utf-8",
        headers={
            **_NO_STORE,
            "Content-Security-Policy": page.csp,
            "Referrer-Policy": "no-referrer",
        },
    )


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, headers=_NO_STORE, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def _not_ready(hub: Hub) -> web.Response:
    detail = None if hub.error is None else LEDGER_UNREADABLE
    return _json({"error": "no state yet", "detail": detail}, status=503)


async def _totals(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    if hub.totals is None:
        return _not_ready(hub)
    return _json({"version": hub.version, "asOf": hub.as_of, **hub.totals})


async def _latest(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    if hub.totals is None:
        return _not_ready(hub)
    try:
        limit = int(request.query.get("limit", len(hub.latest)))
    except ValueError:
        return _json({"error": "limit must be an integer"}, status=400)
    if limit < 0:
        return _json({"error": "limit must not be negative"}, status=400)
    return _json({"version": hub.version, "asOf": hub.as_of, "latest": hub.latest[:limit]})


async def _healthz(request: web.Request) -> web.Response:
    """200 while the ledger was read recently; 503 otherwise (the cause is logged)."""
    hub, settings = request.app[HUB], request.app[SETTINGS]
    stale_after = max(10.0, 3 * settings.poll_seconds)
    age = None if hub.last_look is None else time.monotonic() - hub.last_look
    ok = age is not None and age <= stale_after and hub.error is None
    body = {
        "status": "ok" if ok else "unavailable",
        "version": hub.version,
        "lastLookSecondsAgo": None if age is None else round(age, 3),
        "error": None if hub.error is None else LEDGER_UNREADABLE,
        "clients": request.app[GATE].open,
    }
    return _json(body, status=200 if ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=prometheus_client.generate_latest(request.app[METRICS]),
        headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
    )


async def _events(request: web.Request) -> web.StreamResponse:
    """The state now, then each newer one, as server-sent events; comments keep it open. The
    stream ends after the configured lifetime: the browser's EventSource reconnects."""
    hub, settings, gate = request.app[HUB], request.app[SETTINGS], request.app[GATE]
    client = gate.client(request)
    refusal = gate.admit(client)
    if refusal is not None:
        log.info("dashboard.stream_refused", client=client, reason=refusal)
        return refused(refusal)
    try:
        return await _stream(request, hub, settings)
    finally:
        gate.release(client)


async def _stream(
    request: web.Request, hub: Hub, settings: DashboardSettings
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        }
    )
    await response.prepare(request)
    metrics.CLIENTS.inc()
    try:
        await response.write(b"retry: 2000\n\n")
        sent, quiet_since = 0, time.monotonic()
        ends = quiet_since + settings.stream_lifetime_seconds
        while not hub.closed and time.monotonic() < ends:
            if hub.version != sent:
                sent = hub.version
                await response.write(hub.frame)
                quiet_since = time.monotonic()
            # Woken at least every second to notice a browser that left (nothing is written
            # to it until then, so nothing else would tell).
            elif await hub.wait_newer(sent, 1.0):
                continue
            elif request.transport is None or request.transport.is_closing():
                break
            elif time.monotonic() - quiet_since >= settings.keepalive_seconds:
                await response.write(b": keepalive\n\n")
                quiet_since = time.monotonic()
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        metrics.CLIENTS.dec()
    return response


def create_app(
    settings: DashboardSettings, catalog: Catalog, hub: Hub | None = None
) -> web.Application:
    """The application (without the ledger watcher: `start_dashboard` runs both)."""
    app = web.Application()
    app[HUB] = hub or Hub()
    app[PAGE] = Page.load()
    app[SETTINGS] = settings
    app[GATE] = StreamGate(
        settings.max_clients, settings.streams_per_client, parse_networks(settings.trusted_proxies)
    )
    app[METRICS] = service_registry(metrics.REGISTRY)
    app.router.add_get("/", _index)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/totals", _totals)
    app.router.add_get("/api/latest", _latest)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)

    async def close_streams(app: web.Application) -> None:
        app[HUB].close()

    app.on_shutdown.append(close_streams)
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
    watcher = asyncio.create_task(watch_ledger(settings, DashboardView(catalog), hub, stop))
    log.info("dashboard.started", url=f"http://{settings.host}:{port}/")
    return RunningDashboard(runner, hub, settings.host, port, stop, watcher)
