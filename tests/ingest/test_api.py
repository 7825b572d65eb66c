"""IngestService on the real Kafka and PostgreSQL: accept, de-duplicate, conflict, reject, auth."""

from collections.abc import AsyncIterator, Sequence

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import event_from_proto
from subsidy.domain.events import InvalidEvent
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.grpc_errors import field_violations
from subsidy.infra.grpc_server import Registration, start_server
from subsidy.ingest.permissions import Submitters
from subsidy.ingest.service import (
    SERVICE_NAME,
    Delivery,
    Hashed,
    IngestServicer,
    Unavailable,
    auth_interceptor,
)
from subsidy.ingest.settings import IngestSettings
from subsidy.ingest.store import IngestStore
from tests.factories import bad_check
from tests.ingest.server import (
    AUTH,
    OTHER_TOKEN,
    PRINCIPAL,
    TOKEN,
    Ingest,
    cert_event,
    read_topic,
    writers,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _stub(ch: grpc.aio.Channel) -> "api_pb2_grpc.IngestServiceAsyncStub":
    return api_pb2_grpc.IngestServiceStub(ch)  # type: ignore[return-value]


async def _ids_on_kafka(ingest: Ingest) -> list[str]:
    return [e.event_id for _, _, e in await read_topic(ingest.bootstrap, ingest.topic)]


async def _rejections(ingest: Ingest, event_id: str) -> list[str]:
    conn = await asyncpg.connect(ingest.database_url)
    try:
        rows = await conn.fetch(
            "SELECT error FROM ingest_rejections WHERE event_id = $1 ORDER BY rejection_id",
            event_id,
        )
    finally:
        await conn.close()
    return [r["error"] for r in rows]


async def test_submit_puts_the_event_on_kafka_keyed_by_enterprise(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    sent = cert_event(enterprise=11)
    response = await _stub(channel).Submit(api_pb2.SubmitRequest(event=sent), metadata=AUTH)
    assert response.event_id == sent.event_id
    assert not response.duplicate

    records = [(k, e) for _, k, e in await read_topic(ingest.bootstrap, ingest.topic)
               if e.event_id == sent.event_id]  # fmt: skip
    assert len(records) == 1
    key, received = records[0]
    assert key == sent.enterprise_id.encode()
    got = event_from_proto(received)
    # The same event, and ingest's record of who sent it (the client sent none).
    assert got.model_copy(update={"submitted_by": None}) == event_from_proto(sent)
    assert got.submitted_by is not None
    assert got.submitted_by.principal == PRINCIPAL

    conn = await asyncpg.connect(ingest.database_url)
    try:
        stored = await conn.fetchval(
            "SELECT content_hash FROM ingest_accepted_events WHERE event_id = $1", sent.event_id
        )
    finally:
        await conn.close()
    assert stored == event_from_proto(sent).content_hash()


async def test_the_same_event_again_is_a_duplicate_and_adds_nothing_to_kafka(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    sent = cert_event(enterprise=12)
    stub = _stub(channel)
    await stub.Submit(api_pb2.SubmitRequest(event=sent), metadata=AUTH)
    before = await _ids_on_kafka(ingest)

    again = await stub.Submit(api_pb2.SubmitRequest(event=sent), metadata=AUTH)

    assert again.duplicate
    assert again.event_id == sent.event_id
    assert await _ids_on_kafka(ingest) == before
    assert before.count(sent.event_id) == 1


async def test_the_same_id_with_other_content_is_already_exists(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    first = cert_event(enterprise=13)
    changed = epb.EnterpriseEvent()
    changed.CopyFrom(first)
    changed.enterprise_name = "改了名字的公司"
    stub = _stub(channel)
    await stub.Submit(api_pb2.SubmitRequest(event=first), metadata=AUTH)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Submit(api_pb2.SubmitRequest(event=changed), metadata=AUTH)

    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "eventId" in (err.value.details() or "")
    on_kafka = [e for _, _, e in await read_topic(ingest.bootstrap, ingest.topic)
                if e.event_id == first.event_id]  # fmt: skip
    assert [e.enterprise_name for e in on_kafka] == [first.enterprise_name]
    assert await _rejections(ingest, first.event_id) == [
        "eventId: an earlier event with this id has different content"
    ]


async def test_an_invalid_event_is_invalid_argument_with_field_violations(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    bad = cert_event(enterprise=14)
    bad.enterprise_id = bad_check(14)
    bad.occurred_on = "2025-02-30"
    before = await _ids_on_kafka(ingest)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _stub(channel).Submit(api_pb2.SubmitRequest(event=bad), metadata=AUTH)

    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(err.value)
    assert [field for field, _ in violations] == ["enterpriseId", "occurredOn"]
    assert "check digit" in violations[0][1]
    assert "2025-02-30 is not a real calendar date" in violations[1][1]
    assert await _ids_on_kafka(ingest) == before
    with pytest.raises(InvalidEvent) as expected:
        event_from_proto(bad)
    # Logged for the export exactly as simulate prints a rejection.
    assert await _rejections(ingest, bad.event_id) == [str(expected.value)]


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token"),),
        (("authorization", f"Basic {TOKEN}"),),
        (("authorization", TOKEN),),
    ],
    ids=["missing", "wrong", "not-bearer", "no-scheme"],
)
async def test_writers_without_a_valid_token_are_unauthenticated(
    ingest: Ingest, channel: grpc.aio.Channel, metadata: Sequence[tuple[str, str]]
) -> None:
    sent = cert_event(enterprise=15)
    stub = _stub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as single:
        await stub.Submit(api_pb2.SubmitRequest(event=sent), metadata=metadata)
    assert single.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def requests() -> AsyncIterator[api_pb2.SubmitRequest]:
        yield api_pb2.SubmitRequest(event=sent)

    with pytest.raises(grpc.aio.AioRpcError) as batch:
        await stub.SubmitBatch(requests(), metadata=metadata)
    assert batch.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert sent.event_id not in await _ids_on_kafka(ingest)


async def test_every_configured_token_works_and_health_stays_open(
    channel: grpc.aio.Channel,
) -> None:
    response = await _stub(channel).Submit(
        api_pb2.SubmitRequest(event=cert_event(enterprise=16)),
        metadata=(("authorization", f"bearer {OTHER_TOKEN}"),),
    )
    assert not response.duplicate
    health = health_pb2_grpc.HealthStub(channel)
    checked = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    assert checked.status == health_pb2.HealthCheckResponse.SERVING


async def test_submit_batch_reports_rejections_by_index_and_keeps_order(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    first, second = cert_event(enterprise=17), cert_event(enterprise=17)
    invalid = cert_event(enterprise=17)
    invalid.district = epb.DISTRICT_UNSPECIFIED
    conflicting = epb.EnterpriseEvent()
    conflicting.CopyFrom(second)
    conflicting.occurred_on = "2025-07-01"
    events = [first, invalid, first, second, conflicting]

    async def requests() -> AsyncIterator[api_pb2.SubmitRequest]:
        for e in events:
            yield api_pb2.SubmitRequest(event=e)

    response = await _stub(channel).SubmitBatch(requests(), metadata=AUTH)

    assert (response.accepted, response.duplicates) == (2, 1)
    assert [(r.index, r.event_id, [e.field for e in r.errors]) for r in response.rejected] == [
        (1, invalid.event_id, ["district"]),
        (4, second.event_id, ["eventId"]),
    ]
    mine = [i for i in await _ids_on_kafka(ingest) if i in (first.event_id, second.event_id)]
    assert mine == [first.event_id, second.event_id]  # same key, same partition, file order


class _BrokenKafka:
    """A sink whose every send fails, as when Kafka is down."""

    async def send_all(
        self, events: Sequence[Hashed], provenance: epb.Provenance | None = None
    ) -> list[Delivery | Exception]:
        return [ConnectionError("broker down") for _ in events]


async def test_nothing_is_recorded_when_kafka_does_not_acknowledge(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    pool = await asyncpg.create_pool(ingest.database_url, min_size=1, max_size=2)
    try:
        grants = IngestSettings.model_validate({"credentials": writers()}).writers
        submitters = Submitters(grants)
        servicer = IngestServicer(IngestStore(pool), _BrokenKafka(), ingest.topic, submitters)
        sent = cert_event(enterprise=18)
        submitter = submitters.of(AUTH)
        assert submitter is not None
        with pytest.raises(Unavailable):
            await servicer.process([api_pb2.SubmitRequest(event=sent)], submitter)

        server, port = await start_server(
            [Registration(lambda _, s: api_pb2_grpc.add_IngestServiceServicer_to_server(
                servicer, s), servicer, SERVICE_NAME)],
            "127.0.0.1:0",
            [auth_interceptor(grants)],
            transport=ingest.tls.server_tls(),
        )  # fmt: skip
        try:
            async with ingest.tls.channel(f"127.0.0.1:{port}") as broken:
                # The channel is up (TLS and all): the UNAVAILABLE below is the broker's.
                await health_pb2_grpc.HealthStub(broken).Check(health_pb2.HealthCheckRequest())
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await _stub(broken).Submit(api_pb2.SubmitRequest(event=sent), metadata=AUTH)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await server.stop(None)
    finally:
        await pool.close()

    # The client retries against a healthy server: the event is new, not a duplicate.
    retried = await _stub(channel).Submit(api_pb2.SubmitRequest(event=sent), metadata=AUTH)
    assert not retried.duplicate
    assert (await _ids_on_kafka(ingest)).count(sent.event_id) == 1
