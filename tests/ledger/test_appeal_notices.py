"""The appeals' outbox on PostgreSQL and its relay on Kafka."""

# One notice per appeal and kind, written with the appeal or its decision, never again when a
# correction decides the history anew; published on the appeals topic keyed by enterprise and signed
# over the notice context.

import asyncio
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, TopicPartition

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.beijing import BEIJING
from subsidy.domain.deadlines import Queue, due
from subsidy.infra.lifecycle import running
from subsidy.infra.signing_keys import (
    APPEAL_NOTICE_CONTEXT,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    Verifier,
)
from subsidy.ledger.bootstrap import ledger_relay
from tests.ledger.appeals import FILED, FIRM, appeal_events, correction
from tests.ledger.database import LedgerDb, fetch, signing_keys, worker_settings
from tests.ledger.test_explain_corrections import feed_one_by_one
from tests.ledger.topics import Topics
from tests.support.kafka import client_options

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

KINDS = {
    "apl-expo-1p#APPEAL_FILED", "apl-inv-2p#APPEAL_FILED", "apl-expo-2p#APPEAL_FILED",
    "apl-expo-1p#APPEAL_REOPENED", "apl-inv-2p#APPEAL_UPHELD_BY_CORRECTION",
    "apl-expo-2p#APPEAL_DISMISSED",
}  # fmt: skip
UNSENT = "SELECT count(*) FROM appeal_notices WHERE sent_at IS NULL"


def _records(bootstrap: str, topic: str) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
    """Every record of the topic with its headers, from the beginning."""
    consumer = KafkaConsumer(**client_options(bootstrap), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = sum(consumer.end_offsets(partitions).values())
        out: list[tuple[bytes, bytes, dict[str, bytes]]] = []
        while len(out) < end:
            for records in consumer.poll(timeout_ms=1_000).values():
                out += [(r.key, r.value, dict(r.headers)) for r in records]
        return out
    finally:
        consumer.close()


async def _notices(url: str) -> dict[str, dpb.AppealNotice]:
    rows = await fetch(url, "SELECT notice_id, kind, message FROM appeal_notices ORDER BY id")
    found = {r["notice_id"]: dpb.AppealNotice.FromString(r["message"]) for r in rows}
    assert all(found[r["notice_id"]].kind == dpb.AppealNoticeKind.Value(r["kind"]) for r in rows)
    return found


async def test_each_appeal_and_kind_is_noted_once_and_published_signed(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    await feed_one_by_one(ledger_db.url, appeal_events())
    notices = await _notices(ledger_db.url)
    assert set(notices) == KINDS

    filed = notices["apl-expo-1p#APPEAL_FILED"]
    (row,) = await fetch(ledger_db.url, "SELECT recorded_at FROM appeals WHERE event_id = $1",
                         "apl-expo-1p")  # fmt: skip
    recorded: datetime = row["recorded_at"]
    assert (filed.appeal_id, filed.event_id, filed.enterprise_id, filed.entitlement_id,
            filed.rule_id, filed.measure, filed.status, filed.reason, filed.filed_by) == (
        "apl-expo-1p", "apl-expo-1p", FIRM, "apl-expo-1/m06.exhibition", "m06.exhibition", 6,
        dpb.DENIED, "展会规模与参展商数量均符合要求", "portal-enterprise")  # fmt: skip
    assert filed.filed_at == recorded.astimezone(BEIJING).isoformat(timespec="seconds")
    assert filed.due_at == due(Queue.APPEALS, recorded).isoformat(timespec="seconds")
    assert filed.due_at.endswith("T23:59:59+08:00")
    # The Timestamps beside the deprecated strings: the same instants, to the microsecond.
    assert filed.filed_time.ToDatetime(tzinfo=UTC) == recorded
    assert filed.due_time.ToDatetime(tzinfo=UTC) == due(Queue.APPEALS, recorded)
    assert not filed.HasField("decided_time")
    assert not filed.decided_by
    assert list(filed.funding_channels)
    assert filed.enterprise_name

    reopened = notices["apl-expo-1p#APPEAL_REOPENED"]
    assert (reopened.event_id, reopened.status, reopened.decided_by, reopened.reason) == (
        "apl-expo-1d", dpb.PENDING_REVIEW, "reviewer-li", "材料齐全，重新审核")  # fmt: skip
    upheld = notices["apl-inv-2p#APPEAL_UPHELD_BY_CORRECTION"]
    assert (upheld.status, upheld.granted_fen, upheld.reason) == (
        dpb.DENIED, 0, "请数据来源更正发票")  # fmt: skip
    assert upheld.filed_at == notices["apl-inv-2p#APPEAL_FILED"].filed_at
    dismissed = notices["apl-expo-2p#APPEAL_DISMISSED"]
    assert (dismissed.status, dismissed.reason, dismissed.decided_at[-6:]) == (
        dpb.DENIED, "参展商数量不足", "+08:00")  # fmt: skip
    # The string is cut to the second; the Timestamp keeps the whole instant.
    decided = dismissed.decided_time.ToDatetime(tzinfo=UTC)
    assert decided.replace(microsecond=0) == datetime.fromisoformat(dismissed.decided_at)

    # The correction decides the whole history again, the appeals included: nothing new.
    before = await fetch(ledger_db.url, "SELECT count(*) FROM decisions")
    await feed_one_by_one(ledger_db.url, correction())
    after = await fetch(ledger_db.url, "SELECT count(*) FROM decisions")
    assert after[0][0] > before[0][0]
    assert await _notices(ledger_db.url) == notices

    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics, relay_poll_seconds=0.2)
    async with running(ledger_relay(settings)) as relay:
        for _ in range(100):
            left = await fetch(ledger_db.url, UNSENT)
            if left[0][0] == 0:
                break
            await asyncio.sleep(0.1)
    assert relay.published > len(KINDS)  # the decisions as well
    verifier = Verifier.from_file(signing_keys()[1])
    published = _records(kafka_bootstrap, ledger_topics.appeals)
    assert len(published) == len(KINDS)
    for key, value, headers in published:
        assert key == FIRM.encode()
        assert headers[KEY_ID_HEADER] == verifier.key_id.encode()
        assert verifier.valid(headers[SIGNATURE_HEADER], APPEAL_NOTICE_CONTEXT + value)
        # Not a decision's signature: copied to decisions.v1 it would not check.
        assert not verifier.valid(headers[SIGNATURE_HEADER], value)
    assert {dpb.AppealNotice.FromString(v).notice_id for _, v, _ in published} == KINDS
    # Each a CloudEvent named by its notice (the natural key, stable across a restore).
    assert {h["ce_id"].decode() for _, _, h in published} == {
        f"appeal-notice/{dpb.AppealNotice.FromString(v).notice_id}" for _, v, _ in published
    }
    assert {h["ce_type"] for _, _, h in published} == {b"cn.gov.suzhou.subsidy.appeal-notice.v1"}
    assert {n.appeal_id for n in notices.values()} == set(FILED)
