"""Kafka for the ledger integration tests."""

# Private topics, producing records, waiting until a group has consumed them, reading a topic back.

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition

from tests.support.kafka import client_options

PARTITIONS = 6
CONSUME_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Topics:
    """One test's private topics."""

    input: str
    decisions: str
    dead_letters: str

    @property
    def anchors(self) -> str:
        """The relay's anchor log topic, beside the decisions."""
        return f"{self.decisions}.anchors"

    @property
    def appeals(self) -> str:
        """The relay's appeal notices' topic, beside the decisions."""
        return f"{self.decisions}.appeals"

    @property
    def all(self) -> list[str]:
        return [self.input, self.decisions, self.dead_letters, self.anchors, self.appeals]


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes, bytes]],
    partition_of: Any = None,
) -> int:
    """Send (key, value) records in order with an idempotent producer; returns how many.
    `partition_of(index)` forces a partition (to make workers race on one enterprise)."""
    producer = AIOKafkaProducer(**client_options(bootstrap), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sends = []
        for i, (key, value) in enumerate(records):
            partition = None if partition_of is None else partition_of(i)
            sends.append(await producer.send(topic, key=key, value=value, partition=partition))
        await asyncio.gather(*sends)
        return len(sends)
    finally:
        await producer.stop()


def lag(bootstrap: str, topic: str, group: str) -> int:
    """Records of the topic the group has not committed yet."""
    consumer = KafkaConsumer(**client_options(bootstrap), group_id=group, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
        return sum(end - (consumer.committed(tp) or 0) for tp, end in ends.items())
    finally:
        consumer.close()


async def wait_consumed(
    bootstrap: str, topic: str, group: str, timeout_s: float = CONSUME_TIMEOUT_S
) -> None:
    """Until the group has committed offsets up to the end of every partition."""
    deadline = time.monotonic() + timeout_s
    while True:
        behind = await asyncio.to_thread(lag, bootstrap, topic, group)
        if behind == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group} still {behind} records behind on {topic}")
        await asyncio.sleep(0.5)


def read_all(bootstrap: str, topic: str, timeout_s: float = 15.0) -> list[tuple[bytes, bytes]]:
    """Every record on a topic, from the beginning (no group)."""
    consumer = KafkaConsumer(
        **client_options(bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3_000,
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end")
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in batch)
        return out
    finally:
        consumer.close()
