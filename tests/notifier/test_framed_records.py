"""Decisions framed in the schema registry's wire format: the notifier checks the ledger's
signature over the payload, and a refused one is dead-lettered with its bytes as read."""

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import SecretStr

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.infra import records, topics
from subsidy.infra.lifecycle import running
from subsidy.ledger.relay import signed_headers
from subsidy.notifier.bootstrap import notifier_pool, notifier_worker
from subsidy.notifier.repository import put_subscriptions
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import Subscription
from tests.notifier.receivers import (
    MailStore,
    WebhookReceiver,
    decision,
    eventually,
    read_dead_letters,
)
from tests.notifier.stack import MAIL, SECRETS, SENDER, A, ledger_keys, ledger_signer
from tests.support.kafka import client_options

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CATALOG: Catalog = load_catalog()


def _framer() -> records.Framer:
    """The ledger's framer for decisions, against confluent-kafka's in-process registry."""
    client = SchemaRegistryClient.new_client({"url": f"mock://notifier-{uuid.uuid4().hex[:8]}"})
    records.register(client)
    return records.framer(client, "mock://notifier", topics.DECISIONS.name, "/subsidy/ledger")


async def test_a_framed_decision_is_verified_over_its_payload_and_dead_lettered_whole(
    kafka_bootstrap: str,
    topic: str,
    dead_letters: str,
    db_url: str,
    smtp: MailStore,
    receiver: WebhookReceiver,
) -> None:
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
    forged, genuine = (
        decision(CATALOG, A, event_id, "m12.training_base", dpb.PAID,
                 granted_fen=100_000_000, cash_delta_fen=100_000_000)
        for event_id in ("ev-framed-forged", "ev-framed-genuine")
    )  # fmt: skip
    framer = _framer()
    forged_value = framer.frame(forged.SerializeToString())
    genuine_payload = genuine.SerializeToString()
    producer = AIOKafkaProducer(**client_options(kafka_bootstrap), acks="all")
    await producer.start()
    try:
        # As the ledger's relay writes them: the frame around the payload, signed over the
        # payload; the forged one with no signature.
        await producer.send_and_wait(topic, forged_value, key=A.encode())
        await producer.send_and_wait(
            topic, framer.frame(genuine_payload), key=A.encode(),
            headers=signed_headers(ledger_signer(), genuine_payload),
        )  # fmt: skip
    finally:
        await producer.stop()

    async with running(notifier_worker(settings, CATALOG)):

        async def genuine_delivered() -> bool:
            return bool(receiver.keys("a")) and bool(smtp.to(MAIL[A]))

        await eventually(genuine_delivered, what="the framed genuine decision's webhook and mail")

    assert receiver.keys("a") == {genuine.decision_id}
    [letter] = read_dead_letters(kafka_bootstrap, dead_letters, 1)
    assert letter.stage == "notifier"
    assert letter.value == forged_value  # the original bytes, frame and all
