"""`subsidy db migrate`: the one step that changes the schema, run as the database's owner."""

import asyncio

import asyncpg
import typer

from subsidy.harness.databases import migrate_platform
from subsidy.infra.commands import database_command, load_settings
from subsidy.infra.settings import CommonSettings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@app.command("migrate")
@database_command()
def migrate_command() -> None:
    """Apply every component's pending migrations (ledger, ingest, notifier, payouts,
    identity) as the owner in DATABASE_URL, and grant the services' group roles what they
    need. Services never migrate: they check at start that this ran, and refuse to start
    otherwise."""
    settings = load_settings(CommonSettings)

    def warn(_: asyncpg.Connection, message: asyncpg.PostgresLogMessage) -> None:
        if message.severity not in ("DEBUG", "LOG", "INFO", "NOTICE"):
            typer.echo(f"{message.severity}: {message.message}", err=True)

    applied = asyncio.run(migrate_platform(settings.database_url, on_notice=warn))
    typer.echo("\n".join(applied) if applied else "schema up to date")
