"""Helpers shared by the CLI's subcommands."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import typer
from pydantic import ValidationError

from subsidy.domain.catalog import Catalog, CatalogError, load_catalog
from subsidy.infra.db_roles import DatabaseRoleError
from subsidy.infra.logging import configure_logging
from subsidy.infra.migrate import MigrationError
from subsidy.infra.postgres import DatabaseUnavailable, one_line
from subsidy.infra.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)

# Exit statuses every command keeps to (README, "The command line"). 0 is done, 1 each
# command's own "no" (a broken chain, rejected rows, nothing found).
EXIT_USAGE = 2  # unusable options, files or settings
# A server could not be reached or refused: an API, or PostgreSQL (unreachable, no such
# database, authentication failed, or it refused what the command asked).
EXIT_SERVER = 3
# The database's schema is not this version's: a table is missing, or a migration applied to
# it has changed since.
EXIT_NOT_MIGRATED = 4

_MISSING_TABLE = re.compile(r'relation "(?P<table>[^"]+)" does not exist')


def load_catalog_or_exit(overlay: Path | None = None, path: Path | None = None) -> Catalog:
    """The catalog (the packaged one by default) with an optional overlay; a clear message and
    exit 2 if invalid."""
    try:
        return load_catalog(path, overlay)
    except CatalogError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def service_policy(settings: CommonSettings, overlay: Path | None = None) -> Catalog:
    """The policy a service runs: POLICY_CATALOG and POLICY_OVERLAY (or an --policy-overlay
    given on its command line instead)."""
    return load_catalog_or_exit(overlay or settings.policy_overlay, settings.policy_catalog)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """A service's settings from the environment (and overrides); each bad value reported by
    name and exit 2 — a service must not start on a guess. Logging is set up from them."""
    try:
        settings = cls(**overrides)
    except ValidationError as err:
        for error in err.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"error: {cls.__name__}: {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


def require_kafka_login(settings: CommonSettings) -> None:
    """Before a command that talks to Kafka starts a client: a login half given is one line
    naming what is missing, and exit 2."""
    try:
        settings.kafka  # noqa: B018 -- building the connection is the check
    except ValueError as err:
        raise _error(f"{type(settings).__name__}: {err}", 2) from None


def _error(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def role_checked() -> Iterator[None]:
    """Around a service's run: a schema not migrated or a role that may do too much (checked
    at start, subsidy.infra.db_roles) is one line on stderr and exit status 4, no traceback."""
    try:
        yield
    except DatabaseRoleError as err:
        raise _error(str(err), EXIT_NOT_MIGRATED) from None


@contextmanager
def database_command(migrated_by: str | None = None) -> Iterator[None]:
    """Decorates a command that goes to PostgreSQL (connecting with infra.postgres.connect):
    what is wrong with the database is one line on stderr and an exit status, not a traceback.
    `migrated_by` is the command that creates its tables, named when one is missing."""
    try:
        yield
    except DatabaseUnavailable as err:
        raise _error(str(err), EXIT_SERVER) from None
    except asyncpg.UndefinedTableError as err:
        found = _MISSING_TABLE.search(str(err))
        table = found["table"] if found else one_line(err)
        run = f": run `{migrated_by}`" if migrated_by else ""
        raise _error(
            f"schema not migrated: table {table} does not exist{run}", EXIT_NOT_MIGRATED
        ) from None
    except DatabaseRoleError as err:
        raise _error(str(err), EXIT_NOT_MIGRATED) from None
    except MigrationError as err:
        raise _error(f"schema: {err}", EXIT_NOT_MIGRATED) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        # Refused mid-way (permissions, a lost connection): what the server said.
        raise _error(f"database: {type(err).__name__}: {one_line(err)}", EXIT_SERVER) from None
