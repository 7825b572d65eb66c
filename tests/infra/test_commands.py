"""How a database failure becomes one line and an exit status, without a server."""

# The real server and executable are in tests/cli/test_database_errors.py.

import asyncpg
import pytest
import typer

from subsidy.infra.commands import EXIT_NOT_MIGRATED, EXIT_SERVER, database_command
from subsidy.infra.postgres import DatabaseUnavailable, server_of


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("postgresql://subsidy:secret@db.example:6543/subsidy", "db.example:6543"),
        ("postgresql://subsidy@127.0.0.1/subsidy?search_path=x", "127.0.0.1:5432"),
        ("postgres://[::1]:55432/subsidy", "[::1]:55432"),
        ("postgresql://[::1]/subsidy", "[::1]:5432"),
        ("postgresql:///subsidy", "localhost:5432"),
    ],
)
def test_the_server_is_named_without_role_or_password(url: str, server: str) -> None:
    assert server_of(url) == server


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (DatabaseUnavailable("database unreachable at h:1: Connection refused"), EXIT_SERVER,
         "error: database unreachable at h:1: Connection refused"),
        (asyncpg.UndefinedTableError('relation "enterprises" does not exist'), EXIT_NOT_MIGRATED,
         "error: schema not migrated: table enterprises does not exist: run `subsidy x migrate`"),
        (asyncpg.InsufficientPrivilegeError("permission denied\nfor table outbox"), EXIT_SERVER,
         "error: database: InsufficientPrivilegeError: permission denied for table outbox"),
    ],
)  # fmt: skip
def test_a_database_failure_is_one_line_and_a_status(
    error: Exception, code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    @database_command("subsidy x migrate")
    def command() -> None:
        raise error

    with pytest.raises(typer.Exit) as exited:
        command()
    assert exited.value.exit_code == code
    assert capsys.readouterr().err == line + "\n"


def test_other_errors_are_not_the_database_s() -> None:
    @database_command()
    def command() -> None:
        raise PermissionError("not the database")

    with pytest.raises(PermissionError):
        command()
