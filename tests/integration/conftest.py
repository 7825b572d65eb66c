"""Integration fixtures: the running Kafka and PostgreSQL (`make up`); if absent, tests fail."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from subsidy.devstack.endpoints import database_url as _database_url
from subsidy.devstack.endpoints import kafka_bootstrap as _kafka_bootstrap
from subsidy.harness.databases import create_database, drop_database

HINT = "run make up (or `subsidy dev up`), or set KAFKA_BOOTSTRAP / DATABASE_URL"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of a Kafka that answers; fails the test when there is none."""
    bootstrap = _kafka_bootstrap()
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=5_000, bootstrap_timeout_ms=5_000
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except (KafkaError, OSError) as exc:
        pytest.fail(f"Kafka at {bootstrap} is not reachable ({exc!r}): {HINT}", pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
async def database_url() -> str:
    """URL of a PostgreSQL that answers; fails the test when there is none."""
    url = _database_url()
    try:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {url} is not reachable ({exc!r}): {HINT}", pytrace=False)
    return url


@pytest.fixture(scope="session")
async def fresh_database_url(database_url: str) -> AsyncIterator[str]:
    """A new, empty database for this test session, dropped at the end: tests never see each
    other's rows, nor those of a `make run` on the same server."""
    name = f"subsidy_test_{uuid.uuid4().hex[:12]}"
    yield await create_database(database_url, name)
    await drop_database(database_url, name)
