"""The ingest tests' pieces: a topic, a running ingest server, Kafka reads."""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from subsidy.domain.events import PAYLOAD_TYPES
from subsidy.events.v1 import events_pb2 as epb
from subsidy.ingest.client import IngestSummary, ingest_file
from subsidy.ingest.server import RunningIngest
from tests.factories import enterprise_id as uscc_id
from tests.support.grpc_tls import GrpcTls
from tests.support.kafka import client_options

TOKEN = "test-token-" + uuid.uuid4().hex
OTHER_TOKEN = "rolled-token-" + uuid.uuid4().hex
AUTH = (("authorization", f"Bearer {TOKEN}"),)
PARTITIONS = 3
# The session server's one writer: bound to every event type and the sources the tests send,
# with two tokens (a rotation under way).
PRINCIPAL = "test-writer"
SOURCES = ("integration-test", "sz-miit-portal", "js-provincial-cert-feed")


def writers(
    principal: str = PRINCIPAL,
    tokens: tuple[str, ...] = (TOKEN, OTHER_TOKEN),
    event_types: tuple[str, ...] = PAYLOAD_TYPES,
    sources: tuple[str, ...] = SOURCES,
) -> dict[str, Any]:
    """INGEST_CREDENTIALS with one principal (add others with `|`)."""
    return {
        principal: {
            "tokens": list(tokens), "event_types": list(event_types), "sources": list(sources),
        }
    }  # fmt: skip


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
    """The running server, where it is, and the TLS it serves (its CA checks it)."""

    running: RunningIngest
    address: str
    topic: str
    bootstrap: str
    database_url: str
    tls: GrpcTls

    def send(self, path: Path, token: str = TOKEN) -> IngestSummary:
        """`subsidy ingest`'s client: the file to this server, its certificate checked."""
        return ingest_file(path, server=self.address, token=token, transport=self.tls.client_tls)


async def read_topic(bootstrap: str, topic: str) -> list[tuple[int, bytes, epb.EnterpriseEvent]]:
    """Every record on the topic so far: (partition, key, decoded event), in partition order."""
    consumer = AIOKafkaConsumer(**client_options(bootstrap), enable_auto_commit=False)
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
