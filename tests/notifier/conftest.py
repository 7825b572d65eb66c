"""Fixtures of the notifier tests: a decisions topic and a schema of the test's own, and an SMTP
server keeping what it is sent."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from tests.ledger.database import as_role
from tests.notifier.receivers import NOTIFIER_SCHEMA, Hook, MailStore, WebhookReceiver, start_smtp
from tests.notifier.stack import PARTITIONS, SECRETS, A
from tests.support.topics import private_topics


@pytest.fixture
def topic(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A decisions topic for this test only, and an appeals topic beside it, which the
    notifier's settings (and the `subsidy notify` it runs) read from NOTIFIER_APPEALS_TOPIC."""
    name = f"test.notifier.decisions.{uuid.uuid4().hex[:12]}"
    with private_topics(kafka_bootstrap, {name: PARTITIONS, f"{name}.appeals": PARTITIONS}):
        monkeypatch.setenv("NOTIFIER_APPEALS_TOPIC", f"{name}.appeals")
        yield name


@pytest.fixture
def dead_letters(kafka_bootstrap: str) -> Iterator[str]:
    """A dead-letter topic for this test only."""
    name = f"test.notifier.dlq.{uuid.uuid4().hex[:12]}"
    with private_topics(kafka_bootstrap, {name: 1}):
        yield name


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver for enterprise A, answering after up to a second."""
    peer = WebhookReceiver({"a": Hook(SECRETS[A])}, hang_seconds=1.0)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@pytest.fixture
async def db_url(fresh_database_url: str) -> AsyncIterator[str]:
    """The session's fresh database, in a migrated schema of this test's own, as the
    notifier's login (it never migrates, and never runs as the owner)."""
    schema, url = await create_schema(fresh_database_url, NOTIFIER_SCHEMA)
    await migrate_platform(url)
    yield as_role(url, "notifier_worker")
    await drop_schema(fresh_database_url, schema)


@pytest.fixture
def smtp() -> Iterator[MailStore]:
    """An SMTP server keeping what it is sent."""
    controller, store = start_smtp()
    try:
        yield store
    finally:
        controller.stop()
