"""Shared pieces of the ingest integration tests: a topic, a running ingest server, Kafka reads."""

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from subsidy.events.v1 import events_pb2 as epb
from subsidy.ingest.bootstrap import ingest_server
from subsidy.ingest.server import RunningIngest
from subsidy.ingest.settings import IngestSettings
from tests.integration.kafka_support import private_topics
from tests.unit.factories import enterprise_id as uscc_id

TOKEN = "test-token-" + uuid.uuid4().hex
OTHER_TOKEN = "rolled-token-" + uuid.uuid4().hex
AUTH = (("authorization", f"Bearer {TOKEN}"),)
PARTITIONS = 3


def cert_event(
    enterprise: int = 1, event_id: str | None = None, name: str = "苏州测试机器人有限公司"
) -> epb.EnterpriseEvent:
    """A valid certificationObtained event with a fresh id unless one is given."""
    cert = f"CERT-{uuid.uuid4().hex[:12]}"
    return epb.EnterpriseEvent(
        event_id=event_id or f"it-{uuid.uuid4()}",
        source="integration-test",
        enterprise_id=uscc_id(enterprise),
        enterprise_name=name,
        district=epb.SIP,
        occurred_on="2025-06-30",
        certification_obtained=epb.CertificationObtained(
            kind=epb.HIGH_TECH_ENTERPRISE, item_id="1.3", certificate_id=cert, humanoid=True,
            approved_amount_fen=50_000_000,
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class Ingest:
    """The running server and where it is."""

    running: RunningIngest
    address: str
    topic: str
    bootstrap: str
    database_url: str


@pytest.fixture(scope="session")
def ingest_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A topic of this session only, deleted afterwards."""
    name = f"test.ingest.{uuid.uuid4().hex}"
    with private_topics(kafka_bootstrap, {name: PARTITIONS}):
        yield name


@pytest.fixture(scope="session")
async def ingest(
    fresh_database_url: str, kafka_bootstrap: str, ingest_topic: str
) -> AsyncIterator[Ingest]:
    """The ingest server on a free port, producing to this session's topic."""
    # model_validate, not the constructor: the environment of whoever runs the tests (say an
    # INGEST_TOPIC of a live `make run`) must not leak in.
    settings = IngestSettings.model_validate(
        {
            "kafka_bootstrap": kafka_bootstrap,
            "database_url": fresh_database_url,
            "topic": ingest_topic,
            "tokens": f"{TOKEN},{OTHER_TOKEN}",
            "grpc_address": "127.0.0.1:0",
        }
    )
    async with ingest_server(settings, grace=1.0) as running:
        yield Ingest(running, f"127.0.0.1:{running.port}", ingest_topic, kafka_bootstrap,
                     fresh_database_url)  # fmt: skip


@pytest.fixture
async def channel(ingest: Ingest) -> AsyncIterator[grpc.aio.Channel]:
    """An async channel to the ingest server."""
    async with grpc.aio.insecure_channel(ingest.address) as ch:
        yield ch


async def read_topic(bootstrap: str, topic: str) -> list[tuple[int, bytes, epb.EnterpriseEvent]]:
    """Every record on the topic so far: (partition, key, decoded event), in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: list[tuple[int, bytes, epb.EnterpriseEvent]] = []
        for tp in partitions:
            while await consumer.position(tp) < end[tp]:
                batch = await consumer.getmany(tp, timeout_ms=5_000)
                for record in batch.get(tp, []):
                    assert record.key is not None
                    assert record.value is not None
                    out.append((tp.partition, record.key,
                                epb.EnterpriseEvent.FromString(record.value)))  # fmt: skip
        return out
    finally:
        await consumer.stop()
