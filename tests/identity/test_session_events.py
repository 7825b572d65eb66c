"""What a person's session may submit beyond its role's types, on the real ingest server."""

# With sessions: no correction and no retraction, events dated today in Beijing under a
# portal-<uuid4> id; and a correction by anyone (machines too) only from the original's sender,
# keeping its type.

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.domain.beijing import BEIJING
from subsidy.domain.catalog import load_catalog
from subsidy.domain.events import parse_event_json
from subsidy.identity.principal import Principal, Role
from subsidy.ingest.permissions import SessionBindings
from tests.identity.platform import (
    BUREAU_RULE,
    OTHER_BUREAU,
    OTHER_WRITER_TOKEN,
    PORTAL_SOURCE,
    Platform,
    platform,
)
from tests.ingest.server import TOKEN
from tests.ledger.api import TOP_UP, violated_fields
from tests.support.grpc_tls import GrpcTls
from tests.support.topics import private_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

WRITER = (("authorization", f"Bearer {TOKEN}"),)
OTHER_WRITER = (("authorization", f"Bearer {OTHER_WRITER_TOKEN}"),)
# A source both machine writers are bound to.
MACHINE_SOURCE = "sz-miit-portal"
OTHER_BUREAU_RULE = next(r.id for r in load_catalog().rules if OTHER_BUREAU in r.responsible_units)


@pytest.fixture(scope="module")
async def running(
    fresh_database_url: str, kafka_bootstrap: str, grpc_tls: GrpcTls
) -> AsyncIterator[Platform]:
    topic = f"test.identity.events.{uuid.uuid4().hex}"
    with private_topics(kafka_bootstrap, {topic: 1}):
        async with platform(fresh_database_url, kafka_bootstrap, topic, grpc_tls) as started:
            yield started


def today() -> str:
    return datetime.now(BEIJING).date().isoformat()


def event(source: str = PORTAL_SOURCE, **payload: Any) -> dict[str, Any]:
    """An event about TOP_UP as the portal's pages send it: a portal-<uuid4> id, today's
    date in Beijing."""
    return {"eventId": f"portal-{uuid.uuid4()}", "source": source, "enterpriseId": TOP_UP,
            "enterpriseName": "苏州矩阵机器人有限公司", "district": "SIP",
            "occurredOn": today(), **payload}  # fmt: skip


def review(rule: str = BUREAU_RULE, approved: bool = True, **more: Any) -> dict[str, Any]:
    decided = {"eventRef": "api-topup-1", "ruleId": rule, "approved": approved}
    if approved:
        decided["approvedAmountFen"] = 30_000_000
    return {"reviewDecided": decided, **more}


def objection() -> dict[str, Any]:
    return {"objectionFiled": {"eventRef": "api-topup-1", "ruleId": BUREAU_RULE,
                               "reason": "公示期间异议"}}  # fmt: skip


def corrected(original: dict[str, Any], revision: int, **payload: Any) -> dict[str, Any]:
    """`original` again as `revision`, its payload replaced by `payload` if given."""
    kept = {k: v for k, v in original.items() if not payload or k not in _PAYLOADS}
    return {**kept, **payload, "revision": revision, "correctionReason": "录入有误"}


_PAYLOADS = ("reviewDecided", "objectionFiled", "appealFiled", "appealDecided")


def session(running: Platform, actor: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {running.token(actor, 'valid')}"),)


async def submit(running: Platform, auth: Any, sent: dict[str, Any]) -> api_pb2.SubmitResponse:
    async with running.tls.channel(running.ingest_address) as channel:
        stub = api_pb2_grpc.IngestServiceStub(channel)
        request = api_pb2.SubmitRequest(event_json=json.dumps(sent).encode())
        answer: api_pb2.SubmitResponse = await stub.Submit(request, metadata=auth, timeout=30)
        return answer


async def refused(running: Platform, auth: Any, sent: dict[str, Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await submit(running, auth, sent)
    return err.value


async def batch(running: Platform, auth: Any, sent: dict[str, Any]) -> list[str]:
    """SubmitBatch of one event: the fields its rejection names (none: accepted)."""
    async with running.tls.channel(running.ingest_address) as channel:
        stub = api_pb2_grpc.IngestServiceStub(channel)
        request = api_pb2.SubmitRequest(event_json=json.dumps(sent).encode())
        answer = await stub.SubmitBatch(iter([request]), metadata=auth, timeout=30)
    return [e.field for r in answer.rejected for e in r.errors]


async def stored(running: Platform, event_id: str) -> tuple[Any, ...] | None:
    """The accepted row of `event_id`: (revision in force, sender, type), None if none."""
    conn = await asyncpg.connect(running.owner_url)
    try:
        row = await conn.fetchrow(
            "SELECT revision, submitted_by, event_type FROM ingest_accepted_events"
            " WHERE event_id = $1",
            event_id,
        )
    finally:
        await conn.close()
    return None if row is None else tuple(row)


# (who sent the original and what, who corrects it and how): the review's author itself, a
# second person of the bureau turning its four-eyes approval into a rejection, another
# bureau's reviewer moving it to its own rule, the enterprise making it an objection.
CORRECTIONS = {
    "own-review": ("reviewer_bureau", review(), "reviewer_bureau", review(approved=False)),
    "approval-to-rejection": ("approver", review(), "reviewer_bureau", review(approved=False)),
    "another-bureau": ("reviewer_bureau", review(), "reviewer_other_bureau",
                       review(rule=OTHER_BUREAU_RULE)),
    "enterprise-objection": ("reviewer_bureau", review(), "enterprise_own", objection()),
}  # fmt: skip


@pytest.mark.parametrize(("author", "first", "corrector", "change"), list(CORRECTIONS.values()),
                         ids=list(CORRECTIONS))  # fmt: skip
async def test_a_person_corrects_no_event(
    running: Platform, author: str, first: dict[str, Any], corrector: str, change: dict[str, Any]
) -> None:
    original = event(**first)
    await submit(running, session(running, author), original)
    for revision in (2, 3):
        correction = corrected(original, revision, **change)
        err = await refused(running, session(running, corrector), correction)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err.details()
        assert violated_fields(err) == ["revision"]
        assert await batch(running, session(running, corrector), correction) == ["revision"]
    assert await stored(running, original["eventId"]) == (1, author.replace("_", "-"),
                                                          "reviewDecided")  # fmt: skip


@pytest.mark.parametrize("actor", ["enterprise_own", "reviewer_bureau", "approver"])
async def test_a_person_retracts_no_event(running: Platform, actor: str) -> None:
    original = event(**review())
    await submit(running, session(running, "reviewer_bureau"), original)
    retraction = event(eventRetracted={"eventRef": original["eventId"], "reason": "撤回"})
    err = await refused(running, session(running, actor), retraction)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert violated_fields(err) == ["eventRetracted"]
    assert await stored(running, retraction["eventId"]) is None


async def test_a_machine_s_event_is_corrected_by_its_sender_only(running: Platform) -> None:
    original = event(MACHINE_SOURCE, **review())
    await submit(running, WRITER, original)
    correction = corrected(original, 2, **review(approved=False))
    err = await refused(running, OTHER_WRITER, correction)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert violated_fields(err) == ["revision"]
    assert await batch(running, OTHER_WRITER, correction) == ["revision"]
    assert await stored(running, original["eventId"]) == (1, "test-writer", "reviewDecided")
    # Its sender corrects it, through either of its tokens.
    assert not (await submit(running, WRITER, correction)).duplicate
    assert await stored(running, original["eventId"]) == (2, "test-writer", "reviewDecided")
    # A repeat of an accepted revision stays a duplicate, whoever sends it.
    assert (await submit(running, OTHER_WRITER, correction)).duplicate


async def test_a_correction_keeps_the_payload_s_type(running: Platform) -> None:
    original = event(MACHINE_SOURCE, **review())
    await submit(running, WRITER, original)
    correction = corrected(original, 3, **objection())
    err = await refused(running, WRITER, correction)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "objectionFiled: 更正不得改变事件类型" in (err.details() or "")
    assert await batch(running, WRITER, correction) == ["objectionFiled"]
    # Revision 3 is not used up: the review's own correction is still taken.
    assert not (
        await submit(running, WRITER, corrected(original, 3, **review(approved=False)))
    ).duplicate


async def test_an_event_whose_sender_is_unknown_is_corrected_by_nobody(running: Platform) -> None:
    """An event accepted before ingest recorded senders (submitted_by NULL)."""
    original = event(MACHINE_SOURCE, **review())
    conn = await asyncpg.connect(running.owner_url)
    try:
        await conn.execute(
            "INSERT INTO ingest_accepted_events (event_id, content_hash, enterprise_id, source,"
            " topic, kafka_partition, kafka_offset) VALUES ($1, 'h', $2, $3, 't', 0, 0)",
            original["eventId"], TOP_UP, MACHINE_SOURCE,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO ingest_event_revisions (event_id, revision, content_hash)"
            " VALUES ($1, 1, 'h')",
            original["eventId"],
        )
    finally:
        await conn.close()
    err = await refused(running, WRITER, corrected(original, 2, **review(approved=False)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert violated_fields(err) == ["revision"]


def _days_away(days: int) -> str:
    return (datetime.now(BEIJING).date() + timedelta(days=days)).isoformat()


# Who sends what, dated how: a reviewer's and an approver's decisions back-dated past a notice
# (its 公示 would be over at once), by a day, or ahead; an enterprise's filings likewise.
DATED = [
    ("reviewer_bureau", review(), -8),
    ("reviewer_bureau", review(approved=False), -1),
    ("approver", review(), -30),
    ("approver", review(), 1),
    ("enterprise_own", objection(), -8),
    ("enterprise_own", {"payeeAccountRegistered": {
        "bankName": "中国农业银行苏州分行", "accountNumber": "1054000123456789012",
        "accountName": "苏州矩阵机器人有限公司"}}, -1),
]  # fmt: skip


@pytest.mark.parametrize(("actor", "payload", "days"), DATED,
                         ids=[f"{a}-{next(iter(p))}-{d}" for a, p, d in DATED])  # fmt: skip
async def test_a_person_s_event_is_dated_today_in_beijing(
    running: Platform, actor: str, payload: dict[str, Any], days: int
) -> None:
    dated = {**event(**payload), "occurredOn": _days_away(days)}
    err = await refused(running, session(running, actor), dated)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err.details()
    assert violated_fields(err) == ["occurredOn"]
    assert await batch(running, session(running, actor), dated) == ["occurredOn"]
    assert await stored(running, dated["eventId"]) is None
    # The same, dated today, is taken.
    today_s = {**dated, "occurredOn": today()}
    assert not (await submit(running, session(running, actor), today_s)).duplicate
    assert await stored(running, dated["eventId"]) is not None


async def test_a_machine_s_event_keeps_the_date_it_states(running: Platform) -> None:
    """Feeds send facts of the past: only people's events are dated by the clock."""
    old = {**event(MACHINE_SOURCE, **review()), "occurredOn": "2025-06-30"}
    assert not (await submit(running, WRITER, old)).duplicate


def test_today_is_beijing_s_day_not_utc_s() -> None:
    """At 00:30 in Beijing, 16:30 UTC of the day before: Beijing's date is today's."""
    moment = datetime(2025, 9, 10, 16, 30, tzinfo=UTC)
    bindings = SessionBindings(PORTAL_SOURCE, load_catalog(), clock=lambda: moment)
    person = Principal("reviewer-x", Role.REVIEWER, None, "市工信局", "cred_x")
    submitter = bindings.of(person)
    assert submitter is not None
    refused_on = {}
    for day in (date(2025, 9, 10), date(2025, 9, 11)):
        sent = {**event(**review()), "occurredOn": day.isoformat()}
        refused_on[day] = [
            e.field for e in submitter.refusals(parse_event_json(json.dumps(sent).encode()))
        ]
    assert refused_on == {date(2025, 9, 10): ["occurredOn"], date(2025, 9, 11): []}


# Ids a person might choose: a feed's (reserving it), a UUID of another version, in capitals,
# with something after it, without the prefix.
NOT_PERSONS_IDS = {
    "feed-id": lambda: f"{MACHINE_SOURCE}:REVIEW-{uuid.uuid4().hex[:8]}",
    "uuid1": lambda: f"portal-{uuid.uuid1()}",
    "capitals": lambda: f"portal-{str(uuid.uuid4()).upper()}",
    "suffix": lambda: f"portal-{uuid.uuid4()}-2",
    "bare-uuid": lambda: str(uuid.uuid4()),
}


@pytest.mark.parametrize("make", list(NOT_PERSONS_IDS.values()), ids=list(NOT_PERSONS_IDS))
@pytest.mark.parametrize("actor", ["enterprise_own", "reviewer_bureau"])
async def test_a_person_s_event_id_is_portal_and_a_random_uuid(
    running: Platform, actor: str, make: Any
) -> None:
    payload = objection() if actor.startswith("enterprise") else review()
    chosen = {**event(**payload), "eventId": make()}
    err = await refused(running, session(running, actor), chosen)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err.details()
    assert violated_fields(err) == ["eventId"]
    assert await batch(running, session(running, actor), chosen) == ["eventId"]
    assert await stored(running, chosen["eventId"]) is None


async def test_a_person_cannot_take_an_id_a_feed_will_send(running: Platform) -> None:
    feeds = event(MACHINE_SOURCE, **review())
    feeds["eventId"] = f"{MACHINE_SOURCE}:REVIEW-{uuid.uuid4().hex[:8]}"
    junk = {**event(**review(approved=False)), "eventId": feeds["eventId"]}
    await refused(running, session(running, "reviewer_bureau"), junk)
    # The feed's real event comes later and is taken, not refused as a conflict.
    assert not (await submit(running, WRITER, feeds)).duplicate
    assert await stored(running, feeds["eventId"]) == (1, "test-writer", "reviewDecided")
