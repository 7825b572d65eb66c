"""`subsidy eligibility …`: dry-run evaluation of events against the policy catalog."""

import typer

app = typer.Typer(no_args_is_help=True)
