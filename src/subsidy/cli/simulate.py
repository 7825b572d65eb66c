"""`subsidy simulate`: run the policy and the ledger over an event file, in one process."""

from pathlib import Path
from typing import Annotated

import typer

from subsidy.domain.simulate import simulate
from subsidy.infra.cli_output import FormatOption, Lang, LangOption, OutputFormat
from subsidy.infra.commands import load_catalog_or_exit
from subsidy.infra.export_format import print_contract
from subsidy.infra.gc_tuning import tune_gc


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
    output_format: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
) -> None:
    """Decide every event in file order with no broker and no database (docs/contract.md §2)."""
    catalog = load_catalog_or_exit(policy_overlay)
    tune_gc()
    with events.open("rb") as lines:
        result = simulate(lines, catalog).to_contract()
    print_contract(result, output_format, lang)
