"""The dashboard's HTTP side: its pages and their static files, JSON, the export, the stream."""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import asyncpg
import prometheus_client
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from subsidy.dashboard import metrics
from subsidy.dashboard.enterprise import ENTERPRISE_ID, read_enterprise, read_enterprises
from subsidy.dashboard.export import workbook
from subsidy.dashboard.hub import Hub, Year
from subsidy.dashboard.settings import DashboardSettings
from subsidy.dashboard.streams import StreamGate, refused
from subsidy.dashboard.view import DashboardView

log = structlog.get_logger(__name__)

# What /healthz and the API say while the ledger cannot be read; the database's own words
# (host names, roles, schema) go to the log only.
LEDGER_UNREADABLE = "the ledger cannot be read (the dashboard's log says why)"

# The files under /static/: the pages' code and style, served from the package, nothing else.
STATIC = {
    "dashboard.css": "text/css", "common.js": "text/javascript",
    "dashboard.js": "text/javascript", "enterprise.js": "text/javascript",
}  # fmt: skip
# Only the page's own files run or style it: no inline code, nothing from another origin.
CSP = (
    "default-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Page:
    """The two HTML pages (the live board and the enterprise view), their static files and
    the CSP they are served with."""

    html: str
    enterprise_html: str
    static: Mapping[str, bytes]
    csp: str = CSP

    @classmethod
    def load(cls) -> "Page":
        files = resources.files("subsidy.dashboard")
        static = {name: files.joinpath("static", name).read_bytes() for name in STATIC}
        return cls(
            files.joinpath("page.html").read_text("utf-8"),
            files.joinpath("enterprise.html").read_text("utf-8"),
            static,
        )


HUB = web.AppKey("hub", Hub)
PAGE = web.AppKey("page", Page)
SETTINGS = web.AppKey("settings", DashboardSettings)
GATE = web.AppKey("gate", StreamGate)
METRICS = web.AppKey("metrics", CollectorRegistry)
VIEW = web.AppKey("view", DashboardView)
POOL = web.AppKey("pool", asyncpg.Pool)

_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _html(page: Page, text: str) -> web.Response:
    return web.Response(
        text=text, content_type="text/html", charset="utf-8",
        headers={**_NO_STORE, "Content-Security-Policy": page.csp,
                 "Referrer-Policy": "no-referrer"},
    )  # fmt: skip


async def _index(request: web.Request) -> web.Response:
    return _html(request.app[PAGE], request.app[PAGE].html)


async def _enterprise_page(request: web.Request) -> web.Response:
    if not ENTERPRISE_ID.fullmatch(request.match_info["enterprise"]):
        raise web.HTTPNotFound(text="无此企业 / no such enterprise")
    return _html(request.app[PAGE], request.app[PAGE].enterprise_html)


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    return web.Response(
        body=request.app[PAGE].static[name], content_type=STATIC[name], charset="utf-8",
        headers=_NO_STORE,
    )  # fmt: skip


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, headers=_NO_STORE, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json"
    )


def year_of(request: web.Request) -> Year:
    """?year=2026 (absent or empty: all years); 400 for anything else than a year shown."""
    text = request.query.get("year", "").strip()
    if not text or text == "all":
        return None
    hub = request.app[HUB]
    if not text.isdecimal() or not hub.shows(int(text)):
        years = sorted(y for y in hub.states if y is not None)
        raise _bad(f"year must be one of {years} (年度须为其中之一)")
    return int(text)


def _not_ready(hub: Hub) -> web.Response:
    detail = None if hub.error is None else LEDGER_UNREADABLE
    return _json({"error": "no state yet", "detail": detail}, status=503)


async def _totals(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    if hub.totals is None:
        return _not_ready(hub)
    year = year_of(request)
    totals, _ = hub.states[year]
    return _json({"version": hub.version, "asOf": hub.as_of, **totals})


async def _latest(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    if hub.totals is None:
        return _not_ready(hub)
    year = year_of(request)
    latest = hub.states[year][1]
    try:
        limit = int(request.query.get("limit", len(latest)))
    except ValueError:
        return _json({"error": "limit must be an integer"}, status=400)
    if limit < 0:
        return _json({"error": "limit must not be negative"}, status=400)
    return _json({"version": hub.version, "asOf": hub.as_of, "year": year,
                  "latest": latest[:limit]})  # fmt: skip


async def _export(request: web.Request) -> web.Response:
    """The state of the filter as XLSX (the same figures as /api/totals?year=)."""
    hub = request.app[HUB]
    if hub.totals is None:
        return _not_ready(hub)
    year = year_of(request)
    body = workbook(hub.state(year), datetime.now(UTC))
    name = f"subsidy-dashboard-{'all' if year is None else year}.xlsx"
    return web.Response(body=body, headers={
        **_NO_STORE, "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    })  # fmt: skip


async def _enterprise(request: web.Request) -> web.Response:
    """/api/enterprise/<统一社会信用代码>?year=: its entitlements and payments."""
    enterprise = request.match_info["enterprise"]
    if not ENTERPRISE_ID.fullmatch(enterprise):
        return _json({"error": "no such enterprise (无此企业)"}, status=404)
    year = year_of(request)
    try:
        async with request.app[POOL].acquire() as conn:
            body = await read_enterprise(conn, request.app[VIEW], enterprise, year)
    except (OSError, asyncpg.PostgresError) as err:
        log.warning("dashboard.enterprise_unreadable", error=f"{type(err).__name__}: {err}")
        return _json({"error": LEDGER_UNREADABLE}, status=503)
    if body is None:
        return _json({"error": "no such enterprise (无此企业)"}, status=404)
    return _json(body)


async def _enterprises(request: web.Request) -> web.Response:
    """/api/enterprises?year=&district=&measure=: the enterprises behind a row."""
    year = year_of(request)
    district = request.query.get("district") or None
    measure_text = request.query.get("measure") or None
    if measure_text is not None and not measure_text.isdecimal():
        raise _bad("measure must be a number (条款编号)")
    measure = None if measure_text is None else int(measure_text)
    try:
        async with request.app[POOL].acquire() as conn:
            rows = await read_enterprises(conn, year, district, measure)
    except (OSError, asyncpg.PostgresError) as err:
        log.warning("dashboard.enterprises_unreadable", error=f"{type(err).__name__}: {err}")
        return _json({"error": LEDGER_UNREADABLE}, status=503)
    return _json({"year": year, "district": district, "measure": measure, "enterprises": rows})


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
    """The state of the filter now, then each newer one, as server-sent events; comments keep
    it open. The stream ends after the configured lifetime: the browser's EventSource
    reconnects."""
    hub, settings, gate = request.app[HUB], request.app[SETTINGS], request.app[GATE]
    text = request.query.get("year", "")
    # Before the first look no year is known yet: a number waits for its state.
    year = year_of(request) if hub.totals is not None or not text.isdecimal() else int(text)
    client = gate.client(request)
    refusal = gate.admit(client)
    if refusal is not None:
        log.info("dashboard.stream_refused", client=client, reason=refusal)
        return refused(refusal)
    try:
        return await _stream(request, hub, settings, year)
    finally:
        gate.release(client)


async def _stream(
    request: web.Request, hub: Hub, settings: DashboardSettings, year: Year
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
                frame = hub.frames.get(year)
                if frame is not None:
                    await response.write(frame)
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


def add_routes(app: web.Application) -> None:
    """Every path the dashboard answers."""
    app.router.add_get("/", _index)
    app.router.add_get("/enterprise/{enterprise}", _enterprise_page)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/totals", _totals)
    app.router.add_get("/api/latest", _latest)
    app.router.add_get("/api/enterprise/{enterprise}", _enterprise)
    app.router.add_get("/api/enterprises", _enterprises)
    app.router.add_get("/export.xlsx", _export)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
