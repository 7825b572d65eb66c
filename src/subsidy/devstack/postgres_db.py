"""Talking to PostgreSQL: waiting until it accepts connections, creating the roles and database."""

import asyncio
from pathlib import Path

import asyncpg

from subsidy.devstack import db_logins, endpoints
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.local_ca import ca_path
from subsidy.devstack.paths import layout
from subsidy.infra.retries import SERVICE_READY


def local_url(
    port: int = endpoints.POSTGRES_PORT, password: str | None = None, ca: Path | None = None
) -> str:
    """The platform's owner role and database on the local server listening on port, over TLS
    checked against ca (default: this checkout's local CA, .run/tls/ca.pem)."""
    role, host, db = endpoints.POSTGRES_ROLE, endpoints.POSTGRES_HOST, endpoints.POSTGRES_DB
    url = f"postgresql://{host}:{port}/{db}"
    url = db_logins.with_tls(url, ca or ca_path(layout().tls_dir))
    return db_logins.with_login(url, role, password)


async def _connect_within(url: str, timeout_s: float) -> asyncpg.Connection:
    """Connect to url, retrying until timeout_s has passed."""
    shown = url.split("@")[-1]  # no user or password in messages
    try:
        return await SERVICE_READY.bounded(deadline_s=timeout_s).call(
            lambda: asyncpg.connect(url, timeout=5),
            (TimeoutError, OSError, asyncpg.PostgresError),
            event="devstack.postgres_not_ready",
            server=shown,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise DevstackError(f"PostgreSQL at {shown} not reachable: {exc!r}") from exc


async def _ensure_database(
    superuser_url: str, passwords: Path, timeout_s: float, port: int, ca: Path | None
) -> str:
    kept = db_logins.ensure_passwords(passwords)
    admin = await _connect_within(superuser_url, timeout_s)
    try:
        await db_logins.ensure_roles(admin, kept)
        role, db = endpoints.POSTGRES_ROLE, endpoints.POSTGRES_DB
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
            await admin.execute(f'CREATE DATABASE "{db}" OWNER "{role}" ENCODING \'UTF8\'')
    finally:
        await admin.close()
    url = local_url(port, kept[endpoints.POSTGRES_ROLE], ca)
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
    ca: Path | None = None,
) -> str:
    """Wait for the local server, then make the group roles, the owner `subsidy` and each
    service's login (passwords generated once into `passwords`, 0600) and the database
    `subsidy`; the owner's URL (TLS checked against ca, as local_url)."""
    return asyncio.run(_ensure_database(superuser_url, passwords, timeout_s, port, ca))


def check_reachable(url: str, timeout_s: float = 10.0) -> None:
    """Raise unless url accepts a connection and answers a query."""
    asyncio.run(_check(url, timeout_s))
