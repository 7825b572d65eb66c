"""Fixtures of the notifier tests."""

# A decisions topic and a schema of the test's own, and an SMTP server keeping what it is sent.

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from subsidy.notifier.bootstrap import notifier_pool
from subsidy.notifier.repository import put_subscriptions
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import Subscription
from tests.ledger.database import as_role
from tests.notifier.receivers import NOTIFIER_SCHEMA, Hook, MailStore, WebhookReceiver, start_smtp
from tests.notifier.stack import MAIL, PARTITIONS, SECRETS, SENDER, A, ledger_keys
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
async def subscribed_a(
    kafka_bootstrap: str,
    topic: str,
    dead_letters: str,
    db_url: str,
    smtp: MailStore,
    receiver: WebhookReceiver,
) -> NotifierSettings:
    """A notifier on this test's topics and schema, with the ledger's key, enterprise A
    subscribed by webhook (`receiver`) and mail (`smtp`)."""
    settings = NotifierSettings(  # type: ignore[call-arg]
        kafka_bootstrap=kafka_bootstrap, database_url=db_url, topic=topic,
        dead_letter_topic=dead_letters, group_id=f"test-notifier-{uuid.uuid4().hex[:12]}",
        poll_seconds=0.2, webhook_secrets={A: [SecretStr(SECRETS[A])]},
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_sender=SENDER,
        ledger_public_key_file=ledger_keys()[1],
    )  # fmt: skip
    async with notifier_pool(settings) as pool, pool.acquire() as conn:
        await put_subscriptions(conn, [Subscription("enterprise", A, receiver.url("a"),
                                                    MAIL[A], "zh")])  # fmt: skip
    return settings


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
