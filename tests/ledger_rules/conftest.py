"""Every ledger-rule test runs twice: on the in-memory ledger (`[memory]`, pure) and through
the ledger service's PostgreSQL path (`[postgres]`, which fails when PostgreSQL is down)."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from subsidy.devstack.endpoints import database_url as _database_url
from subsidy.harness.databases import create_database, drop_database
from tests.ledger_rules.backends import Backend, MemoryBackend, PostgresBackend

HINT = "run make up (or `subsidy dev up`), or set DATABASE_URL"


@pytest.fixture(scope="session")
async def ledger_rules_database() -> AsyncIterator[str]:
    """A new, empty database for this session's PostgreSQL runs, dropped at the end (each run
    takes a schema of it); fails the test when PostgreSQL does not answer."""
    url = _database_url()
    try:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {url} is not reachable ({exc!r}): {HINT}", pytrace=False)
    name = f"subsidy_rules_{uuid.uuid4().hex[:12]}"
    yield await create_database(url, name)
    await drop_database(url, name)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The ledger the test decides its events with."""
    if request.param == "memory":
        return MemoryBackend()
    return PostgresBackend(request.getfixturevalue("ledger_rules_database"))
