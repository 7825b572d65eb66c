"""Corrections and retractions through the ingest API on the real Kafka and PostgreSQL."""

# docs/contract.md §1: a higher revision replaces, the same or a lower one with other content
# conflicts, a correction of nothing is refused, a retraction passes like any event.

from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import asyncpg
import grpc
import pytest

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import event_from_proto
from subsidy.events.v1 import events_pb2 as epb
from subsidy.harness.databases import create_schema, drop_schema
from subsidy.infra.grpc_errors import field_violations
from subsidy.ingest.store import MIGRATIONS
from tests.ingest.server import AUTH, PRINCIPAL, Ingest, cert_event, read_topic
from tests.ledger.database import as_role

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _stub(ch: grpc.aio.Channel) -> "api_pb2_grpc.IngestServiceAsyncStub":
    return api_pb2_grpc.IngestServiceStub(ch)  # type: ignore[return-value]


def _revised(
    original: epb.EnterpriseEvent, revision: int, reason: str = "核定金额录入有误", **change: Any
) -> epb.EnterpriseEvent:
    """The original as revision `revision`, its approved amount (or what `change` names)
    changed."""
    revised = epb.EnterpriseEvent()
    revised.CopyFrom(original)
    revised.revision = revision
    revised.correction_reason = reason
    revised.certification_obtained.approved_amount_fen = 40_000_000 + revision
    for name, value in change.items():
        setattr(revised, name, value)
    return revised


def _retraction(original: epb.EnterpriseEvent, event_id: str) -> epb.EnterpriseEvent:
    return epb.EnterpriseEvent(
        event_id=event_id, source=original.source, enterprise_id=original.enterprise_id,
        enterprise_name=original.enterprise_name, district=original.district,
        occurred_on="2025-07-15",
        event_retracted=epb.EventRetracted(event_ref=original.event_id, reason="证书信息重复报送"),
    )  # fmt: skip


async def _on_kafka(ingest: Ingest, event_id: str) -> list[epb.EnterpriseEvent]:
    return [e for _, _, e in await read_topic(ingest.bootstrap, ingest.topic)
            if e.event_id == event_id]  # fmt: skip


async def _fetch(ingest: Ingest, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(ingest.database_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


async def _submit(channel: grpc.aio.Channel, event: epb.EnterpriseEvent) -> api_pb2.SubmitResponse:
    response: api_pb2.SubmitResponse = await _stub(channel).Submit(
        api_pb2.SubmitRequest(event=event), metadata=AUTH
    )
    return response


async def _refused(channel: grpc.aio.Channel, event: epb.EnterpriseEvent) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _submit(channel, event)
    return err.value


async def test_a_higher_revision_is_produced_and_replaces_the_accepted_one(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    original = cert_event(enterprise=41)
    corrected = _revised(original, 2)
    assert not (await _submit(channel, original)).duplicate
    assert not (await _submit(channel, corrected)).duplicate

    on_kafka = await _on_kafka(ingest, original.event_id)
    # Both, in order, on the enterprise's one partition: the ledger re-decides from them.
    assert [(e.HasField("revision"), e.revision, e.correction_reason) for e in on_kafka] == [
        (False, 0, ""), (True, 2, "核定金额录入有误"),
    ]  # fmt: skip
    assert event_from_proto(on_kafka[1]).submitted_by is not None
    assert [e.certification_obtained.approved_amount_fen for e in on_kafka] == [
        50_000_000, 40_000_002,
    ]  # fmt: skip
    (row,) = await _fetch(
        ingest,
        "SELECT revision, content_hash, submitted_by FROM ingest_accepted_events"
        " WHERE event_id = $1",
        original.event_id,
    )
    assert (row["revision"], row["content_hash"], row["submitted_by"]) == (
        2, event_from_proto(corrected).content_hash(), PRINCIPAL,
    )  # fmt: skip
    history = await _fetch(
        ingest,
        "SELECT revision, content_hash, submitted_by FROM ingest_event_revisions"
        " WHERE event_id = $1 ORDER BY revision",
        original.event_id,
    )
    assert [tuple(r) for r in history] == [
        (1, event_from_proto(original).content_hash(), PRINCIPAL),
        (2, event_from_proto(corrected).content_hash(), PRINCIPAL),
    ]


async def test_repeats_of_any_accepted_revision_are_duplicates(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    original = cert_event(enterprise=42)
    corrected = _revised(original, 3)
    await _submit(channel, original)
    await _submit(channel, corrected)
    # The correction again, and the original re-delivered after it (a feed sent twice).
    assert (await _submit(channel, corrected)).duplicate
    assert (await _submit(channel, original)).duplicate
    # Revision 1 written out is the original as sent without one: the same content.
    explicit = epb.EnterpriseEvent()
    explicit.CopyFrom(original)
    explicit.revision = 1
    assert (await _submit(channel, explicit)).duplicate
    assert len(await _on_kafka(ingest, original.event_id)) == 2


async def test_the_same_or_a_lower_revision_with_other_content_is_a_conflict(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    original = cert_event(enterprise=43)
    await _submit(channel, original)
    await _submit(channel, _revised(original, 3))
    same = _revised(original, 3, reason="另一个原因")
    lower = _revised(original, 2)
    changed_original = epb.EnterpriseEvent()
    changed_original.CopyFrom(original)
    changed_original.occurred_on = "2025-07-01"
    for event in (same, lower, changed_original):
        err = await _refused(channel, event)
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "eventId" in (err.details() or "")
    assert len(await _on_kafka(ingest, original.event_id)) == 2
    (row,) = await _fetch(
        ingest, "SELECT revision FROM ingest_accepted_events WHERE event_id = $1",
        original.event_id,
    )  # fmt: skip
    assert row["revision"] == 3


async def test_a_correction_of_an_event_never_accepted_is_refused_naming_revision(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    orphan = _revised(cert_event(enterprise=44), 2)
    err = await _refused(channel, orphan)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    message = f"无可更正的原事件 / no event {orphan.event_id!r} to correct"
    assert field_violations(err) == [("revision", message)]
    assert await _on_kafka(ingest, orphan.event_id) == []
    rows = await _fetch(
        ingest, "SELECT error FROM ingest_rejections WHERE event_id = $1", orphan.event_id
    )
    assert [r["error"] for r in rows] == [f"revision: {message}"]
    # Nothing was taken: the original is still new, and then its correction is taken.
    original = cert_event(enterprise=44, event_id=orphan.event_id)
    assert not (await _submit(channel, original)).duplicate
    assert not (await _submit(channel, _revised(original, 2))).duplicate


async def test_a_correction_keeps_the_events_enterprise_and_source(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    original = cert_event(enterprise=45)
    await _submit(channel, original)
    moved = _revised(original, 2, enterprise_id=cert_event(enterprise=46).enterprise_id)
    err = await _refused(channel, moved)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "enterpriseId: 更正不得改变企业" in (err.details() or "")
    elsewhere = _revised(original, 2, source="sz-miit-portal")
    err = await _refused(channel, elsewhere)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "source: 更正不得改变来源" in (err.details() or "")
    assert len(await _on_kafka(ingest, original.event_id)) == 1


async def test_an_original_and_its_corrections_in_one_batch_are_all_taken_in_order(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    original = cert_event(enterprise=47)
    events = [original, _revised(original, 2), original, _revised(original, 4),
              _revised(original, 3), _revised(original, 5, enterprise_id="")]  # fmt: skip

    async def requests() -> AsyncIterator[api_pb2.SubmitRequest]:
        for e in events:
            yield api_pb2.SubmitRequest(event=e)

    response = await _stub(channel).SubmitBatch(requests(), metadata=AUTH)

    assert (response.accepted, response.duplicates) == (3, 1)
    assert [(r.index, [e.field for e in r.errors]) for r in response.rejected] == [
        (4, ["eventId"]), (5, ["enterpriseId"]),
    ]  # fmt: skip
    on_kafka = await _on_kafka(ingest, original.event_id)
    assert [e.revision for e in on_kafka] == [0, 2, 4]
    rows = await _fetch(
        ingest, "SELECT revision FROM ingest_event_revisions WHERE event_id = $1"
        " ORDER BY revision", original.event_id,
    )  # fmt: skip
    assert [r["revision"] for r in rows] == [1, 2, 4]


async def test_a_retraction_passes_like_any_event(
    ingest: Ingest, channel: grpc.aio.Channel
) -> None:
    original = cert_event(enterprise=48)
    await _submit(channel, original)
    retraction = _retraction(original, f"{original.event_id}-withdrawn")
    assert not (await _submit(channel, retraction)).duplicate
    assert (await _submit(channel, retraction)).duplicate
    (received,) = await _on_kafka(ingest, retraction.event_id)
    assert received.WhichOneof("payload") == "event_retracted"
    assert received.event_retracted.event_ref == original.event_id
    assert event_from_proto(received).payload_type == "eventRetracted"
    # A retraction is not corrected: refused as the contract's validator says.
    corrected = epb.EnterpriseEvent()
    corrected.CopyFrom(retraction)
    corrected.revision = 2
    corrected.correction_reason = "撤回原因写错"
    err = await _refused(channel, corrected)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(err)] == ["revision"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ingest_event_revisions SET content_hash = 'x'",
        "DELETE FROM ingest_event_revisions",
        "UPDATE ingest_accepted_events SET submitted_by = 'someone-else'",
        "DELETE FROM ingest_accepted_events",
    ],
)
async def test_the_ingest_login_may_not_rewrite_the_history(ingest: Ingest, statement: str) -> None:
    conn = await asyncpg.connect(as_role(ingest.database_url, "ingest_server"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


def _migration(name: str) -> str:
    (found,) = [f for f in resources.files(MIGRATIONS).iterdir() if f.name.startswith(name)]
    return found.read_text("utf-8")


async def test_the_migration_makes_every_event_accepted_before_it_its_revision_1(
    ingest: Ingest,
) -> None:
    schema, url = await create_schema(ingest.database_url, "ingest_0004")
    try:
        conn = await asyncpg.connect(url)
        try:
            # What 0003 grants on: the migrator's table, as it stands in a migrated schema.
            await conn.execute("CREATE TABLE schema_migrations (version integer)")
            for name in ("0001", "0002", "0003"):
                await conn.execute(_migration(name))
            await conn.execute(
                "INSERT INTO ingest_accepted_events (event_id, content_hash, enterprise_id,"
                " source, topic, kafka_partition, kafka_offset, submitted_by)"
                " VALUES ('old-1', 'h1', 'e', 's', 't', 0, 7, 'feed')"
            )
            await conn.execute(_migration("0004"))
            accepted = await conn.fetch("SELECT event_id, revision FROM ingest_accepted_events")
            history = await conn.fetch(
                "SELECT event_id, revision, content_hash, submitted_by FROM ingest_event_revisions"
            )
        finally:
            await conn.close()
    finally:
        await drop_schema(ingest.database_url, schema)
    assert [tuple(r) for r in accepted] == [("old-1", 1)]
    assert [tuple(r) for r in history] == [("old-1", 1, "h1", "feed")]
