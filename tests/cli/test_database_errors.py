"""Commands that go to PostgreSQL say in one line what is wrong with the database, no traceback."""

# Unreachable, no such database, authentication, schema not migrated; each exits with the documented
# status, never with a traceback: the real `subsidy` executable against the real server.

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from subsidy.devstack.postgres_db import local_url
from subsidy.harness.databases import create_schema, drop_schema, url_of
from tests.factories import ENTERPRISE

pytestmark = pytest.mark.postgres

SUBSIDY = Path(sys.executable).parent / "subsidy"
# The exit statuses as the README documents them (cli.common: EXIT_SERVER, EXIT_NOT_MIGRATED).
EXIT_USAGE = 2  # a setting refused (infra.commands.load_settings)
EXIT_SERVER = 3
EXIT_NOT_MIGRATED = 4

# Every command that connects to PostgreSQL itself ({dir} and {subscriptions} are filled in).
COMMANDS = {
    "ledger verify": ["ledger", "verify"],
    "ledger export": ["ledger", "export", "--format", "json"],
    "ledger migrate": ["ledger", "migrate"],
    "ledger parked": ["ledger", "parked"],
    "notify failed": ["notify", "failed"],
    "notify retry": ["notify", "retry", "1"],
    "notify subscriptions load": ["notify", "subscriptions", "load", "{subscriptions}"],
    "notify subscriptions list": ["notify", "subscriptions", "list"],
    "feeds watch": ["feeds", "watch", "{dir}", "--once", "--token", "any"],
}
# The ledger's reading commands; the notifier's and the watcher's migrate their own tables.
LEDGER_READERS = ("ledger verify", "ledger export", "ledger parked")


@dataclass(frozen=True)
class Run:
    """What one command did."""

    name: str
    code: int
    stdout: str
    stderr: str


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def _run_all(
    names: list[str], url: str, tmp_path: Path, env_extra: dict[str, str] | None = None
) -> list[Run]:
    """The commands, run side by side (each pays the CLI's start-up) with DATABASE_URL=url
    (and env_extra)."""
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(f"- enterpriseId: {ENTERPRISE}\n  email: ops@example.cn\n", "utf-8")
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    env = {**os.environ, "DATABASE_URL": url, **(env_extra or {})}

    def run(name: str) -> Run:
        args = [a.format(dir=drop, subscriptions=subscriptions) for a in COMMANDS[name]]
        done = subprocess.run(
            [str(SUBSIDY), *args], env=env, capture_output=True, text=True, timeout=120
        )
        return Run(name, done.returncode, done.stdout, done.stderr)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run, names))


def _problems(runs: list[Run], code: int, line: str) -> list[str]:
    """What differs from: exit status `code`, nothing on stdout, one stderr line matching."""
    problems = []
    for r in runs:
        lines = r.stderr.splitlines()
        one_line = len(lines) == 1 and re.fullmatch(line, lines[0]) is not None
        if r.code != code or r.stdout or not one_line or "Traceback" in r.stderr:
            problems.append(f"{r.name}: exit {r.code}, stdout {r.stdout!r}, stderr:\n{r.stderr}")
    return problems


def test_an_unreachable_database_is_named_by_host_and_port(tmp_path: Path) -> None:
    port = _closed_port()
    runs = _run_all(list(COMMANDS), local_url(port), tmp_path)
    line = rf"error: database unreachable at 127\.0\.0\.1:{port}: Connection refused"
    assert _problems(runs, EXIT_SERVER, line) == []


def test_a_url_that_does_not_check_the_server_is_refused(tmp_path: Path) -> None:
    """Without sslmode=verify-full asyncpg would take any certificate, or none: every command
    refuses such a DATABASE_URL before connecting, naming the setting, not echoing the URL
    (its password); DATABASE_PLAINTEXT=true lets it through, to the (closed) server."""
    port = _closed_port()
    base = f"postgresql://subsidy:not-to-be-shown@127.0.0.1:{port}/subsidy"
    for given, names in (
        ("no sslmode", list(COMMANDS)),
        ("sslmode=require", ["ledger verify", "feeds watch"]),
        ("sslmode=prefer", ["notify failed"]),
    ):
        url = base if given == "no sslmode" else f"{base}?{given}"
        runs = _run_all(names, url, tmp_path)
        line = rf"error: \w+Settings: database_url: .*database_url has {given}: .*verify-full.*"
        assert _problems(runs, EXIT_USAGE, line) == []
        assert not [r.name for r in runs if "not-to-be-shown" in r.stderr]

    plain = _run_all(list(COMMANDS), base, tmp_path, {"DATABASE_PLAINTEXT": "true"})
    line = rf"error: database unreachable at 127\.0\.0\.1:{port}: Connection refused"
    assert _problems(plain, EXIT_SERVER, line) == []


def test_a_database_that_does_not_exist(database_url: str, tmp_path: Path) -> None:
    name = f"subsidy_missing_{uuid.uuid4().hex[:12]}"
    runs = _run_all(["ledger export", "notify failed"], url_of(database_url, name), tmp_path)
    line = rf'error: no such database on [^ ]+:\d+: database "{name}" does not exist'
    assert _problems(runs, EXIT_SERVER, line) == []


def test_a_role_the_server_does_not_let_in(database_url: str, tmp_path: Path) -> None:
    # An unknown role: the local server asks every role for a password and does not say
    # whether the role exists (an external one may).
    role = f"nobody_{uuid.uuid4().hex[:12]}"
    scheme, _, rest = database_url.partition("://")
    url = f"{scheme}://{role}:wrong@{rest.rpartition('@')[2]}"
    runs = _run_all(["ledger verify", "feeds watch"], url, tmp_path)
    line = (
        rf"error: authentication failed at [^ ]+:\d+: (role \"{role}\" does not exist"
        rf'|password authentication failed for user "{role}")'
    )
    assert _problems(runs, EXIT_SERVER, line) == []


@pytest.fixture
async def unmigrated_url(fresh_database_url: str) -> AsyncIterator[str]:
    """An empty schema: a database nobody has migrated yet."""
    schema, url = await create_schema(fresh_database_url, "unmigrated")
    yield url
    await drop_schema(fresh_database_url, schema)


def test_an_unmigrated_schema_names_the_missing_table_and_the_migration(
    unmigrated_url: str, tmp_path: Path
) -> None:
    runs = _run_all(list(LEDGER_READERS), unmigrated_url, tmp_path)
    line = r"error: schema not migrated: table \w+ does not exist: run `subsidy ledger migrate`"
    assert _problems(runs, EXIT_NOT_MIGRATED, line) == []
    # What it says to run mends it.
    (migrate,) = _run_all(["ledger migrate"], unmigrated_url, tmp_path)
    assert migrate.code == 0, migrate.stderr
    (verify,) = _run_all(["ledger verify"], unmigrated_url, tmp_path)
    assert (verify.code, verify.stdout) == (0, "ok: 校验通过，0 条分录已核验，不变量成立\n")
