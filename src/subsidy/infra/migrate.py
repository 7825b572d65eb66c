"""A small versioned-SQL migrator on asyncpg (the stack's only driver; yoyo needs psycopg)."""

# Each component keeps numbered files `NNNN_name.sql` in its own package folder and is tracked under
# its own name, so services migrate independently. Runs under an advisory lock, each file in its own
# transaction; applied files are checksummed so an edited migration is refused.

import hashlib
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

_LOCK_KEY = 0x5B5D1D1  # advisory lock id shared by every migrating process

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)"""


class MigrationError(RuntimeError):
    """A migration file is malformed or was changed after it was applied."""


def _files(package: str) -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files(package).iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        head = name.split("_", 1)[0]
        if not head.isdigit():
            raise MigrationError(f"{package}/{name}: must start with a version number")
        found.append((int(head), name, entry.read_text("utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{package}: two migrations share a version number")
    return found


def latest_version(package: str) -> int:
    """The highest version among `package`'s migration files (0 if it has none)."""
    found = _files(package)
    return found[-1][0] if found else 0


async def migrate(conn: asyncpg.Connection, component: str, package: str) -> list[str]:
    """Apply the component's pending migrations from `package`; returns the files applied."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_TABLE)
        rows = await conn.fetch(
            "SELECT version, checksum FROM schema_migrations WHERE component = $1", component
        )
        done = {r["version"]: r["checksum"] for r in rows}
        for version, name, sql in _files(package):
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise MigrationError(f"{component}/{name} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    component,
                    version,
                    name,
                    checksum,
                )
            applied_now.append(name)
            log.info("migration.applied", component=component, file=name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
