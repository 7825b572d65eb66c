"""Talking to PostgreSQL: waiting until it accepts connections, creating the role and database."""

import asyncio
import time

import asyncpg

from subsidy.devstack import endpoints
from subsidy.devstack.errors import DevstackError


def superuser_url(port: int = endpoints.POSTGRES_PORT) -> str:
    """The local server's superuser connection (trusted on loopback)."""
    return f"postgresql://postgres@{endpoints.POSTGRES_HOST}:{port}/postgres"


def local_url(port: int = endpoints.POSTGRES_PORT) -> str:
    """The platform's role and database on the local server listening on port."""
    role, host, db = endpoints.POSTGRES_ROLE, endpoints.POSTGRES_HOST, endpoints.POSTGRES_DB
    return f"postgresql://{role}@{host}:{port}/{db}"


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


async def _ensure_database(timeout_s: float, port: int) -> None:
    admin = await _connect_within(superuser_url(port), timeout_s)
    try:
        role, db = endpoints.POSTGRES_ROLE, endpoints.POSTGRES_DB
        if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        # CREATEDB: integration tests each work in a database of their own.
        await admin.execute(f'ALTER ROLE "{role}" CREATEDB')
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
            await admin.execute(f'CREATE DATABASE "{db}" OWNER "{role}" ENCODING \'UTF8\'')
    finally:
        await admin.close()
    await _check(local_url(port), 10)


async def _check(url: str, timeout_s: float) -> None:
    conn = await _connect_within(url, timeout_s)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def ensure_database(timeout_s: float = 60.0, port: int = endpoints.POSTGRES_PORT) -> None:
    """Wait for the local server, then create role and database `subsidy` if missing."""
    asyncio.run(_ensure_database(timeout_s, port))


def check_reachable(url: str, timeout_s: float = 10.0) -> None:
    """Raise unless url accepts a connection and answers a query."""
    asyncio.run(_check(url, timeout_s))
