"""`subsidy ledger …`: export, chain verification, migrations, and the worker and outbox relay."""

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from subsidy.cli.simulate import Format, print_contract
from subsidy.infra.logging import configure_logging
from subsidy.infra.metrics import start_metrics_server
from subsidy.ledger.audit import check_invariants
from subsidy.ledger.chain import VerifyResult, verify_chains
from subsidy.ledger.db import migrate_ledger
from subsidy.ledger.export import export_contract
from subsidy.ledger.relay import run_relay
from subsidy.ledger.settings import LedgerSettings
from subsidy.ledger.worker import run_worker

app = typer.Typer(no_args_is_help=True)

T = TypeVar("T")


def _settings() -> LedgerSettings:
    settings = LedgerSettings()  # type: ignore[call-arg]  # read from the environment
    configure_logging(settings.log_level, settings.log_json)
    return settings


async def _with_conn(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await asyncpg.connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def _until_signalled(run: Callable[[asyncio.Event], Awaitable[Any]]) -> None:
    """Run a long-lived loop until SIGTERM or SIGINT; it finishes what it holds, then stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)


@app.command("migrate")
def migrate_command() -> None:
    """Apply the ledger's pending schema migrations."""
    settings = _settings()
    applied = asyncio.run(_with_conn(settings.database_url, migrate_ledger))
    typer.echo("\n".join(applied) if applied else "ledger schema up to date")


@app.command("export")
def export_command(
    output_format: Annotated[Format, typer.Option("--format")] = Format.json,
) -> None:
    """The pipeline's entitlements and rejected events, in `subsidy simulate`'s shape."""
    settings = _settings()
    print_contract(asyncio.run(_with_conn(settings.database_url, export_contract)), output_format)


@app.command("verify")
def verify_command() -> None:
    """Recompute every hash chain and check the invariants; exit 1 naming the first broken entry."""
    settings = _settings()

    async def work(conn: asyncpg.Connection) -> tuple[VerifyResult, list[str]]:
        return await verify_chains(conn), await check_invariants(conn)

    chain, violations = asyncio.run(_with_conn(settings.database_url, work))
    if not chain.ok:
        typer.echo(
            f"chain broken at entry {chain.first_broken_entry}: {chain.detail} "
            f"({chain.entries_checked} entries verified before it)",
            err=True,
        )
    for violation in violations:
        typer.echo(f"invariant violated: {violation}", err=True)
    if not chain.ok or violations:
        raise typer.Exit(1)
    typer.echo(f"ok: {chain.entries_checked} entries verified, invariants hold")


@app.command("worker")
def worker_command() -> None:
    """Consume entitlements.v1 and decide it into the ledger until SIGTERM."""
    settings = _settings()
    start_metrics_server(settings.metrics_port)
    asyncio.run(_until_signalled(lambda stop: run_worker(settings, stop)))


@app.command("relay")
def relay_command() -> None:
    """Publish committed decisions from the outbox to decisions.v1 until SIGTERM."""
    settings = _settings()
    start_metrics_server(settings.metrics_port)
    asyncio.run(_until_signalled(lambda stop: run_relay(settings, stop)))
