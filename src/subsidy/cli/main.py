"""Root of the `subsidy` command: every service's and tool's command, loaded when it runs."""

from typing import Annotated

import typer

from subsidy.cli.lazy import LazyGroup
from subsidy.cli.mounts import ROOT

# The distribution (pyproject's name) whose version `subsidy --version` prints.
DISTRIBUTION = "suzhou-subsidy"


class RootGroup(LazyGroup):
    """The root's commands (subsidy.cli.mounts): none is imported until it runs, so that
    `subsidy --help` and `subsidy --version` start at once."""

    lazy_subcommands = ROOT


app = typer.Typer(
    cls=RootGroup,
    help="Suzhou embodied-AI robot subsidy platform: eligibility, ledger, notifier.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Inherited by every command's context: `-h` is `--help` everywhere (`--help` first: the
    # usage errors name it, "Try 'subsidy --help' for help.", as before).
    context_settings={"help_option_names": ["--help", "-h"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # here: it costs the other commands

        typer.echo(f"subsidy {version(DISTRIBUTION)}")
        raise typer.Exit()


# Also what makes typer build a group at all: the root has no command of its own, all lazy.
@app.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """The root's options (the commands' are their own)."""
