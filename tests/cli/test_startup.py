"""`subsidy --help` imports no command."""

# The real executable, its imports listed by Python (-X importtime); every command is loaded when it
# runs, with the help the root lists for it, and answers `-h`; `--version` prints the installed
# version.

import inspect
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer import _click
from typer.testing import CliRunner

from subsidy.cli.main import DISTRIBUTION, app
from subsidy.cli.mounts import ROOT

SUBSIDY = Path(sys.executable).parent / "subsidy"
# What the commands need and the root must not pay for: drivers, brokers, RPC, wire formats,
# settings models, spreadsheets, logging, crypto.
HEAVY = ("asyncpg", "grpc", "aiokafka", "kafka", "faust", "aiohttp", "google.protobuf",
         "pydantic", "pydantic_settings", "openpyxl", "structlog", "cryptography",
         "prometheus_client", "psycopg")  # fmt: skip
# All of the platform that `subsidy --help` may import: the root and its table of commands.
ROOT_MODULES = {"subsidy", "subsidy.cli", "subsidy.cli.main", "subsidy.cli.lazy",
                "subsidy.cli.mounts"}  # fmt: skip
# What `subsidy ledger --help` adds: the ledger, the payouts (`ledger balances` and the
# transfers' chain) and what they share; none of the other services or tools.
OTHER_COMMANDS = ("subsidy.eligibility", "subsidy.notifier", "subsidy.dashboard",
                  "subsidy.ingest", "subsidy.demo", "subsidy.devstack", "subsidy.reform",
                  "subsidy.faults", "subsidy.harness")  # fmt: skip


def imported_by(*args: str) -> set[str]:
    """The modules the `subsidy` executable imports to run `args` (exit 0)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "COLUMNS": "120"}
    done = subprocess.run([str(SUBSIDY), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    modules = {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # [0] is the header
    assert "typer" in modules  # the listing is there to read
    return modules


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


@pytest.mark.parametrize("args", [["--help"], ["-h"], [], ["--version"]], ids=str)
def test_the_root_imports_no_command(args: list[str]) -> None:
    if not args:  # no arguments: the help, exit 2 as before (no_args_is_help)
        done = subprocess.run([str(SUBSIDY)], capture_output=True, text=True, check=False)
        assert done.returncode == 2
        assert "Commands" in done.stdout
        return
    modules = imported_by(*args)
    assert heavy(modules) == []
    assert {m for m in modules if m.split(".")[0] == "subsidy"} <= ROOT_MODULES


def test_a_group_s_help_imports_that_group_alone() -> None:
    modules = imported_by("ledger", "--help")
    assert "subsidy.ledger.cli" in modules
    assert "subsidy.payouts.cli" in modules
    assert sorted(m for m in modules if m.startswith(OTHER_COMMANDS)) == []


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "120"}, prog_name="subsidy")


def first_paragraph(command: _click.Command) -> str:
    """What typer's command listing shows of a command: its help's first paragraph."""
    return inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0].strip()


def test_the_listing_is_what_each_command_says_of_itself() -> None:
    fresh: Any = typer.main.get_command(app)  # none loaded: completion offers the stand-ins
    offered = fresh.shell_complete(_click.Context(fresh, info_name="subsidy"), "")
    root: Any = typer.main.get_command(app)
    ctx = _click.Context(root, info_name="subsidy")
    assert root.list_commands(ctx) == list(ROOT)
    for name, lazy in ROOT.items():
        command = root.get_command(ctx, name)
        assert command is not None
        assert command.name == name
        assert first_paragraph(command) == lazy.help, name
    loaded = [(name, root.get_command(ctx, name).get_short_help_str()) for name in ROOT]
    assert [(item.value, item.help) for item in offered] == loaded
    listed = invoke("--help").output  # the stand-ins' listing: one row each, in this order
    width = max(map(len, ROOT))
    rows = [line for line in listed.splitlines() if line.startswith("│ ") and "  " in line]
    expected = [f"│ {name:<{width}}  {lazy.help}" for name, lazy in ROOT.items()]
    assert [row.rstrip(" │") for row in rows[-len(ROOT) :]] == expected


def command_paths(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under `node`, loaded through click's lazy contract."""
    ctx = _click.Context(node, info_name=" ".join(("subsidy", *path)))
    found = []
    for name in node.list_commands(ctx) if hasattr(node, "list_commands") else []:
        found += [(*path, name), *command_paths(node.get_command(ctx, name), (*path, name))]
    return found


def test_every_command_loads_and_answers_h_as_help() -> None:
    paths = command_paths(typer.main.get_command(app))
    assert ("ledger", "verify") in paths
    assert ("payouts", "write-off") in paths
    assert ("ledger", "balances") in paths
    assert ("feeds", "watch") in paths
    for path in paths:
        short, long = invoke(*path, "-h"), invoke(*path, "--help")
        assert short.exit_code == 0, (path, short.output)
        assert short.output == long.output
        assert "Usage: subsidy " + " ".join(path) in short.output


def test_version_prints_the_installed_version() -> None:
    expected = f"subsidy {version(DISTRIBUTION)}\n"
    for option in ("--version", "-V"):
        result = invoke(option)
        assert (result.exit_code, result.output) == (0, expected)


def test_a_misspelt_command_is_still_told_the_right_one() -> None:
    result = invoke("ledgr")
    assert result.exit_code == 2
    assert "No such command 'ledgr'. Did you mean 'ledger'?" in result.output


def test_the_transfers_chain_is_registered_once_when_the_ledger_loads() -> None:
    from subsidy.ledger import anchoring, extra_checks
    from subsidy.payouts import verify as payouts_verify

    for _ in range(3):  # a group is built per run: loading it again must not add it again
        assert invoke("ledger", "--help").exit_code == 0
    assert [c.chain for c in extra_checks.EXTRA_CHECKS].count(payouts_verify.CHAIN) == 1
    assert [s.table for s in anchoring.CHAINS].count("transfers") == 1
