"""Live before bulk on the real Kafka and PostgreSQL."""

# A SubmitBatch waits while the pipeline's backlog (consumer groups' lag) is at the bound and goes
# once it falls, a Submit never waits, a chunk past its deadline is refused naming the backlog, 0
# disables; and the ingest principal reads that backlog with exactly the grants the access table
# gives it.

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import astuple, dataclass
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import event_from_proto
from subsidy.devstack import kafka_grants, kafka_logins
from subsidy.devstack.endpoints import external_kafka
from subsidy.devstack.paths import layout
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import kafka_access as access
from subsidy.ingest import metrics
from subsidy.ingest.backlog import KafkaBacklog, Stage
from subsidy.ingest.bootstrap import ingest_server
from subsidy.ingest.settings import IngestSettings
from subsidy.ingest.sink import event_record
from tests.ingest.server import AUTH, PARTITIONS, cert_event, read_topic, writers
from tests.ledger.database import as_role
from tests.support.grpc_tls import GrpcTls
from tests.support.kafka import client_options, connection
from tests.support.topics import private_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

BOUND = 10
# Records already waiting for eligibility: above BOUND, so bulk is held.
BACKLOG = 30


@dataclass(frozen=True)
class Pipeline:
    """This test's events and entitlements topics and the two groups whose lag is measured."""

    bootstrap: str
    events: str
    entitlements: str
    eligibility_group: str
    ledger_group: str


@pytest.fixture
def pipeline(kafka_bootstrap: str) -> Iterator[Pipeline]:
    tag = uuid.uuid4().hex[:12]
    p = Pipeline(kafka_bootstrap, f"test.admit.events.{tag}", f"test.admit.ent.{tag}",
                 f"test-admit-eligibility-{tag}", f"test-admit-ledger-{tag}")  # fmt: skip
    with private_topics(kafka_bootstrap, {p.events: PARTITIONS, p.entitlements: PARTITIONS}):
        yield p


async def _fill(bootstrap: str, topic: str, count: int) -> None:
    """`count` events on topic as ingest would have put them, read by nobody yet."""
    producer = AIOKafkaProducer(**client_options(bootstrap), acks="all")
    await producer.start()
    try:
        for i in range(count):
            key, value = event_record(event_from_proto(cert_event(enterprise=1000 + i)))
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _commit_all(bootstrap: str, topic: str, group: str) -> None:
    """The group has done everything on topic so far (as its workers would commit)."""
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


@asynccontextmanager
async def _serving(
    p: Pipeline, database_url: str, tls: GrpcTls, **overrides: Any
) -> AsyncIterator["api_pb2_grpc.IngestServiceAsyncStub"]:
    """An ingest server measuring this pipeline's groups, and a stub to it."""
    settings = IngestSettings.model_validate({
        "kafka_bootstrap": p.bootstrap,
        "database_url": as_role(database_url, "ingest_server"),
        "topic": p.events, "entitlements_topic": p.entitlements,
        "eligibility_group_id": p.eligibility_group, "ledger_group_id": p.ledger_group,
        "credentials": writers(), "grpc_address": "127.0.0.1:0",
        "bulk_max_backlog": BOUND, **tls.env(), **overrides,
    })  # fmt: skip
    async with (
        ingest_server(settings, grace=1.0) as running,
        tls.channel(f"127.0.0.1:{running.port}") as ch,
    ):
        yield api_pb2_grpc.IngestServiceStub(ch)  # type: ignore[misc]


def _requests(events: list[epb.EnterpriseEvent]) -> Iterator[api_pb2.SubmitRequest]:
    return (api_pb2.SubmitRequest(event=e) for e in events)


async def _ids(p: Pipeline) -> set[str]:
    return {e.event_id for _, _, e in await read_topic(p.bootstrap, p.events)}


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_batch_waits_for_the_backlog_and_a_live_event_does_not(
    pipeline: Pipeline, fresh_database_url: str, grpc_tls: GrpcTls
) -> None:
    await _fill(pipeline.bootstrap, pipeline.events, BACKLOG)
    waits = _sample("subsidy_ingest_bulk_wait_seconds_count")
    async with _serving(pipeline, fresh_database_url, grpc_tls, bulk_max_wait_s=60) as stub:
        bulk = [cert_event(enterprise=i) for i in range(1, 4)]
        batch = asyncio.ensure_future(stub.SubmitBatch(_requests(bulk), metadata=AUTH, timeout=90))
        await asyncio.sleep(2.0)
        assert not batch.done(), "bulk must wait while the backlog is at the bound"
        assert _sample("subsidy_ingest_pipeline_backlog", {"stage": "eligibility"}) >= BACKLOG

        live = cert_event(enterprise=99)
        started = time.monotonic()
        await stub.Submit(api_pb2.SubmitRequest(event=live), metadata=AUTH, timeout=10)
        assert time.monotonic() - started < 3.0, "a live event is never held"
        on_kafka = await _ids(pipeline)
        assert live.event_id in on_kafka
        assert not on_kafka & {e.event_id for e in bulk}
        assert not batch.done()

        # The eligibility workers catch up: the backlog falls below the bound, bulk goes.
        await _commit_all(pipeline.bootstrap, pipeline.events, pipeline.eligibility_group)
        response = await asyncio.wait_for(batch, 20)
        assert response.accepted == len(bulk)
        assert {e.event_id for e in bulk} <= await _ids(pipeline)
    assert _sample("subsidy_ingest_bulk_wait_seconds_count") == waits + 1
    assert _sample("subsidy_ingest_pipeline_backlog", {"stage": "eligibility"}) < BOUND


async def test_the_ledgers_lag_counts_too(
    pipeline: Pipeline, fresh_database_url: str, grpc_tls: GrpcTls
) -> None:
    """Entitlements the ledger has not decided hold bulk as events eligibility has not done."""
    await _fill(pipeline.bootstrap, pipeline.entitlements, BACKLOG)
    async with _serving(pipeline, fresh_database_url, grpc_tls, bulk_max_wait_s=60) as stub:
        bulk = [cert_event(enterprise=5)]
        batch = asyncio.ensure_future(stub.SubmitBatch(_requests(bulk), metadata=AUTH, timeout=90))
        await asyncio.sleep(1.5)
        assert not batch.done()
        assert _sample("subsidy_ingest_pipeline_backlog", {"stage": "ledger"}) == BACKLOG
        await _commit_all(pipeline.bootstrap, pipeline.entitlements, pipeline.ledger_group)
        assert (await asyncio.wait_for(batch, 20)).accepted == 1


async def test_past_its_deadline_a_batch_is_refused_naming_the_backlog(
    pipeline: Pipeline, fresh_database_url: str, grpc_tls: GrpcTls
) -> None:
    await _fill(pipeline.bootstrap, pipeline.events, BACKLOG)
    refused = _sample("subsidy_ingest_bulk_refused_total")
    bulk = [cert_event(enterprise=7)]
    # The setting's deadline…
    async with _serving(pipeline, fresh_database_url, grpc_tls, bulk_max_wait_s=1) as stub:
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.SubmitBatch(_requests(bulk), metadata=AUTH, timeout=60)
        assert 1.0 <= time.monotonic() - started < 10.0
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = err.value.details() or ""
    assert f"backlog {BACKLOG}" in details, details
    assert f"INGEST_BULK_MAX_BACKLOG {BOUND}" in details
    assert details.startswith(f"处理管道积压 {BACKLOG} 条事件")
    # …or sooner the call's own: refused, not DEADLINE_EXCEEDED, with time left to say so.
    async with _serving(pipeline, fresh_database_url, grpc_tls, bulk_max_wait_s=600) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.SubmitBatch(_requests(bulk), metadata=AUTH, timeout=4)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert bulk[0].event_id not in await _ids(pipeline)
    assert _sample("subsidy_ingest_bulk_refused_total") == refused + 2


async def test_bound_zero_admits_bulk_whatever_the_backlog(
    pipeline: Pipeline, fresh_database_url: str, grpc_tls: GrpcTls
) -> None:
    await _fill(pipeline.bootstrap, pipeline.events, BACKLOG)
    async with _serving(pipeline, fresh_database_url, grpc_tls, bulk_max_backlog=0) as stub:
        bulk = [cert_event(enterprise=i) for i in range(20, 23)]
        response = await stub.SubmitBatch(_requests(bulk), metadata=AUTH, timeout=10)
    assert response.accepted == len(bulk)
    assert {e.event_id for e in bulk} <= await _ids(pipeline)


@pytest.fixture
def granted(kafka_bootstrap: str) -> Iterator[tuple[access.TopicNames, access.GroupIds]]:
    """Private topics and groups with the access table granted on them."""
    tag = uuid.uuid4().hex[:8]
    topics = access.TopicNames(*(f"admit.{tag}.{n}" for n in astuple(access.TopicNames())))
    groups = access.GroupIds(*(f"admit-{tag}-{g}" for g in astuple(access.GroupIds())))
    admin = connection(kafka_bootstrap)
    wanted = {topics.enterprise_events: PARTITIONS, topics.entitlements: PARTITIONS}
    with private_topics(kafka_bootstrap, wanted):
        kafka_grants.grant(admin, access.grants(topics, groups))
        try:
            yield topics, groups
        finally:
            kafka_grants.revoke(admin, access.grants(topics, groups))


async def test_the_ingest_principal_reads_the_backlog_with_its_grants_only(
    kafka_bootstrap: str, granted: tuple[access.TopicNames, access.GroupIds]
) -> None:
    login = kafka_logins.connection(layout(), access.INGEST, kafka_bootstrap)
    if external_kafka() or login is None:
        pytest.skip("the service logins are the local stack's; this broker is external")
    topics, groups = granted
    await _fill(kafka_bootstrap, topics.enterprise_events, 5)
    await _fill(kafka_bootstrap, topics.entitlements, 4)
    await _commit_all(kafka_bootstrap, topics.entitlements, groups.ledger)
    await _fill(kafka_bootstrap, topics.entitlements, 2)
    stages = (Stage("eligibility", groups.eligibility, topics.enterprise_events),
              Stage("ledger", groups.ledger, topics.entitlements))  # fmt: skip
    reader = KafkaBacklog(login, stages)
    try:
        before = time.monotonic()
        reading = await reader.read()
        assert reading is not None
        assert reading.value == 5 + 2
        assert before <= reading.taken_at <= time.monotonic()
    finally:
        await reader.stop()
    # A group the table gives ingest no right on (the notifier's): unreadable, counted, and
    # bulk is then admitted unchecked rather than every feed stopped.
    failures = _sample("subsidy_ingest_backlog_read_failures_total")
    stage = Stage("eligibility", groups.notifier, topics.enterprise_events)
    stranger = KafkaBacklog(login, (stage,))
    try:
        assert await stranger.read() is None
    finally:
        await stranger.stop()
    assert _sample("subsidy_ingest_backlog_read_failures_total") == failures + 1
