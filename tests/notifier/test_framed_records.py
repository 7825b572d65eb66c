"""Decisions framed in the schema registry's wire format."""

# The notifier checks the ledger's signature over the payload, and a refused one is dead-lettered
# with its bytes as read.

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka.schema_registry import SchemaRegistryClient

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.infra import records, topics
from subsidy.infra.lifecycle import running
from subsidy.ledger.relay import signed_headers
from subsidy.notifier.bootstrap import notifier_worker
from subsidy.notifier.settings import NotifierSettings
from tests.notifier.receivers import (
    MailStore,
    WebhookReceiver,
    decision,
    eventually,
    read_dead_letters,
)
from tests.notifier.stack import MAIL, A, ledger_signer
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
    smtp: MailStore,
    receiver: WebhookReceiver,
    subscribed_a: NotifierSettings,
) -> None:
    settings = subscribed_a
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
