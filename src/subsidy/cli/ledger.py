"""`subsidy ledger …`: export, statements, explanations and chain verification."""

import typer

app = typer.Typer(no_args_is_help=True)
