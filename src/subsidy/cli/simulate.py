"""`subsidy simulate`: run the policy and the ledger over an event file, in one process."""

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from subsidy.domain.money import format_fen
from subsidy.domain.simulate import simulate
from subsidy.infra.commands import load_catalog_or_exit
from subsidy.infra.gc_tuning import tune_gc


class Format(StrEnum):
    """Output formats."""

    json = "json"
    table = "table"


def simulate_command(
    events: Annotated[
        Path,
        typer.Option(
            "--events", exists=True, dir_okay=False, help="Events, one JSON object per line."
        ),
    ],
    policy_overlay: Annotated[
        Path | None, typer.Option("--policy-overlay", exists=True, dir_okay=False)
    ] = None,
    output_format: Annotated[Format, typer.Option("--format")] = Format.json,
) -> None:
    """Decide every event in file order with no broker and no database (docs/contract.md §2)."""
    catalog = load_catalog_or_exit(policy_overlay)
    tune_gc()
    with events.open("rb") as lines:
        result = simulate(lines, catalog).to_contract()
    print_contract(result, output_format)


def print_contract(result: dict[str, Any], output_format: Format) -> None:
    """Entitlements, rejected and parked events in the contract's shape (simulate, export)."""
    if output_format is Format.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    table = Table("entitlement", "status", "reasons", "entitled", "granted")
    for e in result["entitlements"]:
        table.add_row(
            e["entitlementId"],
            e["status"],
            ",".join(e["reasons"]),
            format_fen(e["entitledFen"]),
            format_fen(e["grantedFen"]),
        )
    console = Console()
    console.print(table)
    for r in result["rejectedEvents"]:
        console.print(f"[red]rejected[/red] {r['eventId']}: {r['error']}")
    for r in result["parkedEvents"]:
        console.print(f"[yellow]等待事件 waiting[/yellow] {r['eventId']} → {r['eventRef']}")
