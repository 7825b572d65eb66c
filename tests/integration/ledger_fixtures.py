"""Fixtures of the ledger integration tests, loaded by `pytest_plugins` (never imported, so that
pytest can rewrite its asserts): a ledger schema and private topics per test."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from subsidy.harness.databases import with_search_path
from tests.integration.kafka_support import private_topics
from tests.integration.ledger_kafka import PARTITIONS, Topics
from tests.integration.ledger_support import LedgerDb, as_role, assert_sound, migrated_ledger_schema


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
    schema, url = await migrated_ledger_schema(fresh_database_url, "ledger")
    db = LedgerDb(url, schema, with_search_path(as_role(fresh_database_url, "postgres"), schema))
    yield db
    if not db.tampered:
        await assert_sound(db.url)
