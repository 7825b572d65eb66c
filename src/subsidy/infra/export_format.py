"""The contract's export (entitlements, rejected and parked events) printed as JSON or a table:
`subsidy simulate` and `subsidy ledger export` print the same way."""

import json
import sys
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

from subsidy.domain.money import format_fen


class Format(StrEnum):
    """Output formats."""

    json = "json"
    table = "table"


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
