"""The `subsidy dev` commands: up, down, schemas, status."""

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from subsidy.devstack import stack
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.paths import Layout, layout

app = typer.Typer(
    help="Local Kafka and PostgreSQL for development and tests (KAFKA_BOOTSTRAP and "
    "DATABASE_URL, when set, name external ones to use instead).",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)


def _run(action: Callable[[Layout, Console], None]) -> None:
    try:
        action(layout(), console)
    except DevstackError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


@app.command()
def up() -> None:
    """Start Kafka and PostgreSQL (no-op if running), create the topics and the database."""
    _run(stack.up)


@app.command()
def down() -> None:
    """Stop the local Kafka and PostgreSQL (no-op if stopped)."""
    _run(stack.down)


@app.command()
def schemas(
    registry: Annotated[
        str,
        typer.Option(
            "--registry",
            envvar="KAFKA_SCHEMA_REGISTRY_URL",
            help="The registry's Confluent-compatible API (KAFKA_SCHEMA_REGISTRY_URL).",
        ),
    ],
) -> None:
    """Register every record kind's schema (BACKWARD), as writers with a registry need; `up`
    does it too when KAFKA_SCHEMA_REGISTRY_URL is set."""
    try:
        ids = stack.register_schemas(registry)
    except DevstackError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    for subject, schema_id in ids.items():
        console.print(f"{subject}: {schema_id}")


@app.command()
def status() -> None:
    """Show each component; exit 1 if one is not up."""
    try:
        rows = stack.status(layout())
    except DevstackError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    table = Table()
    for column in ("component", "state", "address", "pid", "log"):
        table.add_column(column, overflow="fold")
    for row in rows:
        colour = "green" if row.ok else "red"
        pid = str(row.pid) if row.pid is not None else "-"
        table.add_row(row.component, f"[{colour}]{row.state}[/]", row.address, pid, row.log)
    console.print(table)
    if not all(row.ok for row in rows):
        raise typer.Exit(1)
