"""The portal's ASGI application: the Connect services by path prefix, and what is beside them."""

# Beside them: the OpenAPI document, the pages' labels (/site.json), the health probe and the pages.

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from subsidy.portal.limits import limited

PAGES = Path(__file__).parent / "pages"

# The pages: one HTML file each, their script and style under /static.
_PAGES = {"/": "index.html", "/enterprise": "enterprise.html", "/workbench": "workbench.html"}

# Served with every page and document: nothing is framed or sniffed, and a page runs only
# its own scripts (no inline script, no other origin).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _site(openapi: Mapping[str, Any], site: Mapping[str, Any]) -> Starlette:
    async def document(_: Request) -> Response:
        return JSONResponse(dict(openapi), headers=SECURITY_HEADERS)

    async def facts(_: Request) -> Response:
        return JSONResponse(dict(site), headers=SECURITY_HEADERS)

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    def page(path: str, name: str) -> Route:
        async def serve(_: Request) -> Response:
            return FileResponse(PAGES / name, headers=SECURITY_HEADERS)

        return Route(path, serve)

    routes = [
        Route("/openapi.json", document),
        Route("/site.json", facts),
        Route("/healthz", health),
        Mount("/static", app=StaticFiles(directory=PAGES / "static"), name="static"),
        *(page(path, name) for path, name in _PAGES.items()),
    ]
    return Starlette(routes=routes)


class PortalApp:
    """Dispatches by path: `/<package>.<Service>/…` to that service's Connect application
    (which reads the whole path), everything else to the site."""

    def __init__(
        self, services: Sequence[Any], openapi: Mapping[str, Any], site: Mapping[str, Any]
    ) -> None:
        self._services = {f"{app.path}/": app for app in services}
        self._site = _site(openapi, site)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request."""
        if scope["type"] == "http":
            path: str = scope["path"]
            prefix = path[: path.rfind("/") + 1]
            service: ASGIApp | None = self._services.get(prefix)
            if service is not None:
                await limited(service, scope, receive, send)
                return
        await self._site(scope, receive, send)
