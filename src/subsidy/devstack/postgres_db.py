"""Talking to PostgreSQL: waiting until it accepts connections, creating the roles and database."""

import asyncio
import time
from pathlib import Path

import asyncpg

from subsidy.devstack import db_logins, endpoints
from subsidy.devstack.errors import DevstackError


def local_url(port: int = endpoints.POSTGRES_PORT, password: str | None = None) -> str:
    """The platform's owner role and database on the local server listening on port."""
    role, host, db = endpoints.POSTGRES_ROLE, endpoints.POSTGRES_HOST, endpoints.POSTGRES_DB
    return db_logins.with_login(f"postgresql://{host}:{port}/{db}", role, password)


async def _connect_within(url: str, timeout_s: float) -> asyncpg.Connection:
    """Connect to url, retrying until timeout_s has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await asyncpg.connect(url, timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() >= deadline:
                shown = url.split("@")[-1]  # no user or password in messages
                raise DevstackError(f"PostgreSQL at {shown} not reachable: {exc!r}") from exc
            await asyncio.sleep(0.2)


async def _ensure_database(superuser_url: str, passwords: Path, timeout_s: float, port: int) -> str:
    kept = db_logins.ensure_passwords(passwords)
    admin = await _connect_within(superuser_url, timeout_s)
    try:
        await db_logins.ensure_roles(admin, kept)
        role, db = endpoints.POSTGRES_ROLE, endpoints.POSTGRES_DB
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
            await admin.execute(f'CREATE DATABASE "{db}" OWNER "{role}" ENCODING \'UTF8\'')
    finally:
        await admin.close()
    url = local_url(port, kept[endpoints.POSTGRES_ROLE])
    await _check(url, 10)
    return url


async def _check(url: str, timeout_s: float) -> None:
    conn = await _connect_within(url, timeout_s)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def ensure_database(
    superuser_url: str,
    passwords: Path,
    timeout_s: float = 60.0,
    port: int = endpoints.POSTGRES_PORT,
) -> str:
    """Wait for the local server, then make the group roles, the owner `subsidy` and each
    service's login (passwords generated once into `passwords`, 0600) and the database
    `subsidy`; the owner's URL."""
    return asyncio.run(_ensure_database(superuser_url, passwords, timeout_s, port))


def check_reachable(url: str, timeout_s: float = 10.0) -> None:
    """Raise unless url accepts a connection and answers a query."""
    asyncio.run(_check(url, timeout_s))
