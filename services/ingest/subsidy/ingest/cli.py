"""`subsidy ingest FILE`, `subsidy ingest-server` and `subsidy feeds watch DIR`."""

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# Heavy modules (grpc, asyncpg, openpyxl) are imported inside the commands, so that every other
# `subsidy` command starts without paying for them.
from subsidy.infra.commands import (
    EXIT_SERVER,
    EXIT_USAGE,
    database_command,
    load_settings,
    require_kafka_login,
    role_checked,
)
from subsidy.infra.db_roles import MIGRATE_COMMAND
from subsidy.infra.feeds import DEFAULT_SOURCE, FEED_SUFFIXES, check_source
from subsidy.infra.grpc_cli import (
    CacertOption,
    CertOption,
    KeyOption,
    PlaintextOption,
    client_transport_or_exit,
)
from subsidy.ingest.settings import DEFAULT_GRPC_ADDRESS as DEFAULT_SERVER

if TYPE_CHECKING:
    from subsidy.ingest.watcher import FileResult, WatchConfig

# Commands of this Typer are registered at the root (`subsidy ingest`, `subsidy feeds …`).
app = typer.Typer()
feeds_app = typer.Typer(no_args_is_help=True)
app.add_typer(feeds_app, name="feeds", help="Watch a directory for feed files and ingest them.")

EXIT_REJECTED = 1  # some rows were rejected (see the error report)

ServerOption = Annotated[
    str, typer.Option("--server", envvar="SUBSIDY_INGEST_SERVER", help="Ingest API host:port.")
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="SUBSIDY_INGEST_TOKEN", show_default=False,
                 help="Bearer token of the ingest API (prefer the variable: "
                 "arguments show in `ps`)."),
]  # fmt: skip
SourceOption = Annotated[
    str,
    typer.Option("--source", help="Feed name for CSV/XLSX rows: their `source` and the prefix of "
                 "their eventId (JSONL events carry their own)."),
]  # fmt: skip
ChunkOption = Annotated[
    int, typer.Option("--chunk-size", min=1, max=10_000, help="Events per SubmitBatch call.")
]


def _require_token(token: str | None) -> str:
    if not token:
        typer.echo("error: no token: pass --token or set SUBSIDY_INGEST_TOKEN", err=True)
        raise typer.Exit(EXIT_USAGE)
    return token


def _check_source(source: str) -> str:
    try:
        return check_source(source)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@app.command("ingest")
def ingest_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="A .jsonl, .csv or .xlsx feed."
        ),
    ],
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
    source: SourceOption = DEFAULT_SOURCE,
    chunk_size: ChunkOption = 500,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
) -> None:
    """Send a feed's events to the ingest API (TLS: --cacert); bad rows go to FILE.errors.csv.

    Exit status: 0 every row accepted or already there; 1 some rows rejected;
    2 the file or the options are unusable; 3 the server refused or was unreachable.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from subsidy.ingest.client import IngestCallError, estimate_rows, ingest_file

    token = _require_token(token)
    source = _check_source(source)
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    if file.suffix.lower() not in FEED_SUFFIXES:
        typer.echo(f"error: {file}: use a .jsonl, .csv or .xlsx file", err=True)
        raise typer.Exit(EXIT_USAGE)
    console = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True,
    )  # fmt: skip
    try:
        with progress:
            task = progress.add_task(file.name, total=estimate_rows(file))
            summary = ingest_file(
                file, server=server, token=token, transport=transport, source=source,
                chunk_size=chunk_size, on_progress=lambda n: progress.advance(task, n),
            )  # fmt: skip
    except IngestCallError as err:
        typer.echo(f"error: the ingest API at {server} refused: {err}", err=True)
        raise typer.Exit(EXIT_SERVER) from None
    typer.echo(
        f"{file.name}: read {summary.read}, accepted {summary.accepted}, "
        f"duplicates {summary.duplicates}, rejected {summary.rejected}"
    )
    if summary.file_error:
        typer.echo(f"error: {summary.file_error}", err=True)
    if summary.errors and summary.report is not None:
        typer.echo(f"error report: {summary.report}")
    if summary.file_error:
        raise typer.Exit(EXIT_USAGE)
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)


@app.command("ingest-server")
def ingest_server_command() -> None:
    """Run the ingest gRPC API (IngestService) until SIGTERM or SIGINT.

    Reads INGEST_CREDENTIALS (required: JSON, each writer principal with its tokens or
    their SHA-256 digests and the event types and sources it may submit; see README),
    INGEST_AUDITOR_TOKEN_SHA256 (optional: auditors are told PERMISSION_DENIED),
    INGEST_GRPC_ADDRESS, INGEST_TOPIC, KAFKA_BOOTSTRAP, DATABASE_URL, INGEST_METRICS_PORT, and
    GRPC_TLS_CERT and GRPC_TLS_KEY (required unless GRPC_PLAINTEXT=true; GRPC_TLS_CLIENT_CA:
    clients must present a certificate it signed).
    """

    from subsidy.infra.grpc_cli import server_transport_or_exit
    from subsidy.infra.lifecycle import wait_until_signalled
    from subsidy.infra.metrics import start_metrics_server
    from subsidy.ingest import bootstrap, metrics
    from subsidy.ingest.settings import IngestSettings

    settings = load_settings(IngestSettings)
    server_transport_or_exit(settings)
    require_kafka_login(settings)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.REGISTRY)
    with role_checked():
        asyncio.run(wait_until_signalled(bootstrap.ingest_server(settings)))


async def _watch(config: "WatchConfig", once: bool) -> "list[FileResult]":
    """Once, or until SIGTERM or SIGINT."""
    from subsidy.infra.lifecycle import stop_on_signal
    from subsidy.ingest.bootstrap import feeds_watcher

    if once:
        async with feeds_watcher(config) as watcher:
            return await watcher.run(asyncio.Event(), once=True)
    async with stop_on_signal() as stop, feeds_watcher(config) as watcher:
        return await watcher.run(stop)


@feeds_app.command("watch")
@database_command(MIGRATE_COMMAND)
def watch_command(
    directory: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="Directory feed files are dropped into."),
    ],
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    token: TokenOption = None,
    source: SourceOption = DEFAULT_SOURCE,
    settle: Annotated[
        float,
        typer.Option(
            "--settle", min=0, help="Seconds a file must be unmodified before it is taken."
        ),
    ] = 1.0,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between scans.")
    ] = 2.0,
    chunk_size: ChunkOption = 500,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
) -> None:
    """Ingest feed files dropped into DIRECTORY, each content once.

    Files (.jsonl, .csv, .xlsx) move to DIRECTORY/done/, or to DIRECTORY/failed/ with their
    FILE.errors.csv; a copy of a file already ingested is not ingested again.
    Write *.tmp and rename, or write in place: a file is taken once unchanged for --settle s.
    With --once: exit 0 all done, 1 one failed, 3 the ingest API refused or was unreachable.
    """
    from subsidy.infra.settings import CommonSettings
    from subsidy.ingest.watcher import WatchConfig, WatchError

    token = _require_token(token)
    source = _check_source(source)
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    common = load_settings(CommonSettings)  # a refused setting: one line, exit 2; logging set
    config = WatchConfig(directory, server, token, transport, source, common.database_url,
                         settle, interval, chunk_size)  # fmt: skip
    try:
        results = asyncio.run(_watch(config, once))
    except WatchError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    for r in results:
        typer.echo(f"{r.name}: {r.status}{f' ({r.detail})' if r.detail else ''}")
    if any(r.status == "retry" for r in results):
        raise typer.Exit(EXIT_SERVER)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_REJECTED)
