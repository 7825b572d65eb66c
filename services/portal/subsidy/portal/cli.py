"""`subsidy portal serve`: the HTTP/JSON API, the enterprise page and the bureau workbench."""

# It serves until SIGTERM.

import asyncio
from typing import Annotated, Any

import typer

from subsidy.infra.commands import load_settings, service_policy
from subsidy.infra.lifecycle import stop_on_signal
from subsidy.portal import bootstrap
from subsidy.portal.settings import PortalSettings

app = typer.Typer(no_args_is_help=True)


async def _serve(settings: PortalSettings) -> None:
    catalog = service_policy(settings)
    async with stop_on_signal() as stop, bootstrap.portal(settings, catalog) as running:
        typer.echo(f"portal on {running.url}/ (API: {running.url}/openapi.json)", err=True)
        await stop.wait()


@app.command("serve")
def serve_command(
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default 8090, PORTAL_PORT).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1, PORTAL_HOST).")
    ] = None,
) -> None:
    """Serve the portal until SIGTERM.

    The platform's API over HTTP/JSON (the Connect protocol; /openapi.json describes it),
    people's sessions, the policy catalog, the enterprise page (/enterprise) and the bureau
    workbench (/workbench). Settings: PORTAL_* (docs/portal.md)."""
    overrides: dict[str, Any] = {
        k: v for k, v in {"port": port, "host": host}.items() if v is not None
    }
    settings = load_settings(PortalSettings, **overrides)
    asyncio.run(_serve(settings))
