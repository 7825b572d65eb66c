"""Fixtures of the ledger integration tests, loaded by `pytest_plugins` (never imported, so that
pytest can rewrite its asserts): a ledger schema and private topics per test."""

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from subsidy.ledger.db import migrate_ledger
from tests.integration.kafka_support import private_topics
from tests.integration.ledger_support import (
    PARTITIONS,
    LedgerDb,
    Topics,
    assert_sound,
    with_search_path,
)


@pytest.fixture
def ledger_topics(kafka_bootstrap: str) -> Iterator[Topics]:
    """Fresh entitlements, decisions and dead-letter topics for one test."""
    tag = uuid.uuid4().hex[:12]
    topics = Topics(
        f"test.ledger.in.{tag}", f"test.ledger.decisions.{tag}", f"test.ledger.dlq.{tag}"
    )
    with private_topics(kafka_bootstrap, dict.fromkeys(topics.all, PARTITIONS)):
        yield topics


@pytest.fixture
async def ledger_db(fresh_database_url: str) -> AsyncIterator[LedgerDb]:
    """A migrated ledger in its own schema of the session's fresh database, so tests never see
    each other's rows; afterwards the invariants and every hash chain are checked (unless the
    test tampered with the ledger on purpose)."""
    schema = f"ledger_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(fresh_database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    url = with_search_path(fresh_database_url, schema)
    conn = await asyncpg.connect(url)
    try:
        await migrate_ledger(conn)
    finally:
        await conn.close()
    # The devstack's superuser, trusted on 127.0.0.1: what the tamper tests act as.
    scheme, _, rest = fresh_database_url.partition("://")
    superuser = f"{scheme}://postgres@{rest.split('@', 1)[-1]}"
    db = LedgerDb(url, schema, with_search_path(superuser, schema))
    yield db
    if not db.tampered:
        await assert_sound(db.url)
