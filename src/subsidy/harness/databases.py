"""Databases and schemas made for one run: created beside the base URL's, dropped patiently."""

# A run: the main job, tests, benchmarks.

import asyncio
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from subsidy.identity.store import migrate_identity
from subsidy.infra.retries import SERVICE_READY
from subsidy.ingest.store import migrate_ingest
from subsidy.ledger.db import migrate_ledger
from subsidy.notifier.repository import migrate_notifier
from subsidy.payouts.db import migrate_payouts

# An autovacuum worker may be busy in a database just filled (200,000 events: tens of
# seconds); DROP … WITH (FORCE) may not end it unless we are a superuser, so wait it out.
DROP_PATIENCE_S = 180.0


def url_of(base_url: str, name: str) -> str:
    """The URL of database `name` on the server, as the role and with the parameters (TLS,
    search_path) of base_url."""
    return urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))


def with_search_path(url: str, schema: str) -> str:
    """The URL with a search_path (asyncpg passes unknown query parameters as settings)."""
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(base_url: str, name: str) -> str:
    """CREATE DATABASE name on base_url's server; its URL."""
    await _execute(base_url, f'CREATE DATABASE "{name}"')
    return url_of(base_url, name)


async def create_schema(url: str, prefix: str) -> tuple[str, str]:
    """A new schema `<prefix>_<random>` in url's database: its name, and url with it as the
    search_path (so a test's tables never meet another's)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _execute(url, f'CREATE SCHEMA "{schema}"')
    return schema, with_search_path(url, schema)


async def drop_schema(url: str, schema: str) -> None:
    """DROP SCHEMA … CASCADE."""
    await _execute(url, f'DROP SCHEMA "{schema}" CASCADE')


async def drop_database(base_url: str, name: str, patience_s: float = DROP_PATIENCE_S) -> None:
    """DROP DATABASE IF EXISTS name WITH (FORCE), retried while autovacuum holds it."""
    admin = await asyncpg.connect(base_url)
    try:
        await SERVICE_READY.bounded(deadline_s=patience_s).call(
            lambda: admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'),
            (asyncpg.InsufficientPrivilegeError,),
            event="harness.drop_database_waiting",
            database=name,
        )
    finally:
        await admin.close()


async def migrate_platform(
    url: str, on_notice: Callable[[asyncpg.Connection, Any], None] | None = None
) -> list[str]:
    """Apply every component's migrations to the database (and search_path) at url, as its
    owner; the files applied. on_notice hears the server's warnings."""
    conn = await asyncpg.connect(url)
    try:
        if on_notice is not None:
            conn.add_log_listener(on_notice)
        applied = [*await migrate_ledger(conn), *await migrate_ingest(conn)]
        applied += await migrate_notifier(conn)
        applied += await migrate_payouts(conn)
        applied += await migrate_identity(conn)
        await asyncio.sleep(0)  # let the listener's callbacks run before the connection closes
        return applied
    finally:
        await conn.close()


async def fresh_database(base_url: str, name: str) -> str:
    """Drop and recreate the run's database, then apply every component's migrations."""
    await drop_database(base_url, name)
    url = await create_database(base_url, name)
    await migrate_platform(url)
    return url
