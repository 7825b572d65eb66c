"""Root of the `subsidy` command: every service's and tool's command, loaded when it runs."""

import typer

from subsidy.cli.lazy import LazyGroup
from subsidy.cli.mounts import ROOT


class RootGroup(LazyGroup):
    """The root's commands (subsidy.cli.mounts): none is imported until it runs, so that
    `subsidy --help` starts at once."""

    lazy_subcommands = ROOT


app = typer.Typer(
    cls=RootGroup,
    help="Suzhou embodied-AI robot subsidy platform: eligibility, ledger, notifier.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


# typer builds a group only from a Typer with commands or a callback; these are all lazy.
@app.callback()
def root() -> None:
    """The root's options (the commands' are their own)."""
