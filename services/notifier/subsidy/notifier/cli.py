"""`subsidy notify …`: the worker, the admin API, dead deliveries, and subscriptions."""

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from subsidy.infra.cli_output import OutputFormat, write_records
from subsidy.infra.commands import (
    database_command,
    load_settings,
    require_kafka_login,
    role_checked,
    service_policy,
)
from subsidy.infra.db_roles import MIGRATE_COMMAND, check_role
from subsidy.infra.grpc_cli import server_transport_or_exit
from subsidy.infra.lifecycle import run_until_signalled, wait_until_signalled
from subsidy.infra.metrics import start_metrics_server
from subsidy.infra.postgres import connect
from subsidy.notifier import bootstrap, metrics
from subsidy.notifier import repository as repo
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import SubscriptionError, parse_file, subscribable

app = typer.Typer(no_args_is_help=True)
subscriptions_app = typer.Typer(no_args_is_help=True)
app.add_typer(
    subscriptions_app, name="subscriptions", help="Load and list who is told about decisions."
)


def _settings() -> NotifierSettings:
    # Logs go to stderr, so `--format json` on stdout stays machine-readable.
    return load_settings(NotifierSettings)


async def _connect(settings: NotifierSettings) -> asyncpg.Connection:
    conn = await connect(settings.database_url)
    try:
        await check_role(conn, repo.ROLE)
    except BaseException:
        await conn.close()
        raise
    return conn


def _print_json(rows: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))


@app.command("worker")
def worker_command() -> None:
    """Consume decisions and deliver webhooks and mail until SIGTERM or SIGINT; only decisions
    signed by the ledger's key (NOTIFIER_LEDGER_PUBLIC_KEY_FILE, required)."""
    settings = _settings()
    if settings.ledger_public_key_file is None:
        typer.echo("error: NOTIFIER_LEDGER_PUBLIC_KEY_FILE is required by the worker", err=True)
        raise typer.Exit(2)
    require_kafka_login(settings)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.REGISTRY)
    catalog = service_policy(settings)

    with role_checked():
        asyncio.run(run_until_signalled(bootstrap.notifier_worker(settings, catalog)))


@app.command("serve")
def serve_command() -> None:
    """Serve NotifierAdminService (with health and reflection) on NOTIFIER_GRPC_ADDRESS, over
    TLS (GRPC_TLS_CERT, GRPC_TLS_KEY; GRPC_PLAINTEXT=true for none)."""
    settings = _settings()
    if settings.admin_token is None:
        typer.echo("error: NOTIFIER_ADMIN_TOKEN is required to serve the admin API", err=True)
        raise typer.Exit(2)
    server_transport_or_exit(settings)
    # The admin API counts nothing of its own: its process's metrics only, not the worker's.
    start_metrics_server(settings.metrics_port, settings.metrics_address)
    catalog = service_policy(settings)

    with role_checked():
        asyncio.run(wait_until_signalled(bootstrap.admin_server(settings, catalog)))


@app.command("failed")
@database_command(MIGRATE_COMMAND)
def failed_command(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """List dead deliveries (attempts exhausted or refused for good)."""
    settings = _settings()

    async def main() -> list[dict[str, Any]]:
        conn = await _connect(settings)
        try:
            return await repo.dead_deliveries(conn, limit)
        finally:
            await conn.close()

    rows = asyncio.run(main())
    if output is OutputFormat.json:
        _print_json(rows)
        return
    if write_records(rows, output):  # csv
        return
    console = Console()
    if not rows:
        console.print("No dead deliveries.")
        return
    table = Table(title=f"Dead deliveries ({len(rows)})", show_lines=False)
    for column in ("ID", "Decision or notice", "Status", "Channel", "Recipient", "Attempts",
                   "Last error", "Dead at"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["decision_id"] or row["notice_id"] or row["appeal_notice_id"],
            row["status"],
            row["channel"],
            row["recipient"],
            str(row["attempts"]),
            row["last_error"] or "",
            row["dead_at"].isoformat(timespec="seconds") if row["dead_at"] else "",
        )
    console.print(table)
    console.print("Requeue one with: subsidy notify retry ID")


@app.command("retry")
@database_command(MIGRATE_COMMAND)
def retry_command(
    delivery_id: Annotated[int, typer.Argument(help="The ID shown by `subsidy notify failed`.")],
) -> None:
    """Requeue one dead delivery with a fresh set of attempts."""
    settings = _settings()

    async def main() -> bool:
        conn = await _connect(settings)
        try:
            return await repo.requeue(conn, delivery_id)
        finally:
            await conn.close()

    if not asyncio.run(main()):
        typer.echo(f"error: no dead delivery with ID {delivery_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"delivery {delivery_id} requeued")


@subscriptions_app.command("load")
@database_command(MIGRATE_COMMAND)
def load_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Create or replace the subscriptions of a YAML or JSON file (all or none)."""
    settings = _settings()
    catalog = service_policy(settings)
    try:
        subs = parse_file(
            file,
            bureaus=subscribable(catalog),
            has_secret=lambda s: bool(settings.webhook_signing_secrets(s)),
        )
    except SubscriptionError as err:
        typer.echo(f"error: {file}:", err=True)
        for line in err.errors:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None

    async def main() -> None:
        conn = await _connect(settings)
        try:
            await repo.put_subscriptions(conn, subs)
        finally:
            await conn.close()

    asyncio.run(main())
    typer.echo(f"{len(subs)} subscription(s) loaded from {file}")


@subscriptions_app.command("list")
@database_command(MIGRATE_COMMAND)
def list_command(
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """List every subscription."""
    settings = _settings()

    async def main() -> list[dict[str, Any]]:
        conn = await _connect(settings)
        try:
            subs = await repo.list_subscriptions(conn)
        finally:
            await conn.close()
        return [
            {
                "kind": s.kind,
                "subscriber": s.subscriber,
                "webhookUrl": s.webhook_url,
                "email": s.email,
                "language": s.language,
                "webhookSecretConfigured": bool(settings.webhook_signing_secrets(s.subscriber)),
            }
            for s in subs
        ]

    rows = asyncio.run(main())
    if output is OutputFormat.json:
        _print_json(rows)
        return
    if write_records(rows, output):  # csv
        return
    table = Table(title=f"Subscriptions ({len(rows)})")
    for column in ("Kind", "Subscriber", "Webhook", "Secret", "Email", "Language"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["kind"],
            row["subscriber"],
            row["webhookUrl"] or "",
            ("yes" if row["webhookSecretConfigured"] else "MISSING") if row["webhookUrl"] else "",
            row["email"] or "",
            row["language"],
        )
    Console().print(table)
