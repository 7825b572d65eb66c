"""`subsidy dashboard serve`: the live page over the ledger, until SIGTERM."""

import asyncio
from typing import Annotated, Any

import typer

from subsidy.dashboard import bootstrap
from subsidy.dashboard.settings import DashboardSettings
from subsidy.infra.commands import load_settings, role_checked, service_policy
from subsidy.infra.lifecycle import stop_on_signal

app = typer.Typer(no_args_is_help=True)


async def _serve(settings: DashboardSettings) -> None:
    catalog = service_policy(settings)
    async with stop_on_signal() as stop, bootstrap.dashboard(settings, catalog) as running:
        typer.echo(f"dashboard on {running.url}/", err=True)
        await stop.wait()


@app.command("serve")
def serve_command(
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default 8088, DASHBOARD_PORT).")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind (default 127.0.0.1, DASHBOARD_HOST); no login."),
    ] = None,
) -> None:
    """Serve the live dashboard over the ledger until SIGTERM.

    Totals by measure, district and status, monthly trends, funding channels, annual caps,
    the latest decisions, and the payouts' 资金拨付 and 预算执行 by channel and year, pushed
    to the browser as they change, for all years or one (?year=2026); /enterprise/<code>
    drills down to an enterprise; also /api/totals, /api/latest, /api/enterprise/<code>,
    /api/enterprises, /export.xlsx, /events, /healthz, /metrics."""
    overrides: dict[str, Any] = {
        k: v for k, v in {"port": port, "host": host}.items() if v is not None
    }
    settings = load_settings(DashboardSettings, **overrides)  # the rest from the environment
    with role_checked():
        asyncio.run(_serve(settings))
