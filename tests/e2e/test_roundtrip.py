"""One EnterpriseEvent through the real stack: kafka-python out, aiokafka in, asyncpg to disk."""

import asyncio
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from subsidy.events.v1 import events_pb2
from tests.support.kafka import client_options
from tests.support.topics import private_topics

ENTERPRISE_ID = "91320594MA1X7K2Q8F"  # a well-formed 统一社会信用代码 (check digit F)
PARTITIONS = 3
CONSUME_TIMEOUT_S = 60.0


def _event() -> events_pb2.EnterpriseEvent:
    return events_pb2.EnterpriseEvent(
        event_id=f"roundtrip-{uuid.uuid4()}",
        source="integration-test",
        enterprise_id=ENTERPRISE_ID,
        enterprise_name="苏州示例机器人有限公司",
        district=events_pb2.SIP,
        occurred_on="2025-06-30",
        certification_obtained=events_pb2.CertificationObtained(
            kind=events_pb2.HIGH_TECH_ENTERPRISE,
            item_id="1.3",
            certificate_id="GR202532000123",
            humanoid=True,
            approved_amount_fen=50_000_000,
        ),
    )


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    """A fresh topic for this test only, deleted afterwards."""
    name = f"test.roundtrip.{uuid.uuid4().hex}"
    with private_topics(kafka_bootstrap, {name: PARTITIONS}):
        yield name


def _produce(bootstrap: str, topic: str, event: events_pb2.EnterpriseEvent) -> int:
    """Send the event keyed by enterprise id with acks=all; returns the partition it went to."""
    producer = KafkaProducer(**client_options(bootstrap), acks="all", retries=5)
    try:
        future = producer.send(
            topic, key=event.enterprise_id.encode(), value=event.SerializeToString()
        )
        metadata = future.get(timeout=30)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    return int(metadata.partition)


async def _consume_one(bootstrap: str, topic: str) -> tuple[int, bytes, bytes]:
    """The first record on topic, read in a consumer group that commits its offset."""
    group = f"test-roundtrip-{uuid.uuid4().hex}"
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(bootstrap),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1_000)
            for tp, records in batches.items():
                if records:
                    record = records[0]
                    await consumer.commit({tp: record.offset + 1})
                    committed = await consumer.committed(TopicPartition(topic, tp.partition))
                    assert committed == record.offset + 1
                    assert record.key is not None
                    assert record.value is not None
                    return tp.partition, record.key, record.value
        raise AssertionError(f"no record on {topic} within {CONSUME_TIMEOUT_S:.0f}s")
    finally:
        await consumer.stop()


@pytest.mark.kafka
@pytest.mark.postgres
async def test_event_roundtrips_through_kafka_and_postgres(
    kafka_bootstrap: str, database_url: str, topic: str
) -> None:
    sent = _event()
    partition = await asyncio.to_thread(_produce, kafka_bootstrap, topic, sent)

    got_partition, key, value = await _consume_one(kafka_bootstrap, topic)
    assert got_partition == partition
    assert key == ENTERPRISE_ID.encode()

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE roundtrip_events (event_id text PRIMARY KEY, body bytea NOT NULL)"
        )
        await conn.execute(
            "INSERT INTO roundtrip_events (event_id, body) VALUES ($1, $2)", sent.event_id, value
        )
        stored = await conn.fetchval(
            "SELECT body FROM roundtrip_events WHERE event_id = $1", sent.event_id
        )
    finally:
        await conn.close()

    assert stored == sent.SerializeToString()
    received = events_pb2.EnterpriseEvent.FromString(stored)
    assert received == sent
    assert received.WhichOneof("payload") == "certification_obtained"
    assert received.certification_obtained.approved_amount_fen == 50_000_000
