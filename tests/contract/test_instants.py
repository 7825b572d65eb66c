"""Instants migrating to google.protobuf.Timestamp (docs/contract.md, Times)."""

# Writers fill the Timestamp and the deprecated string with one instant; readers take the Timestamp
# and fall back to the string, so a message an older release wrote reads the same.

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import pytest
from google.protobuf.message import Message

from subsidy.contract.codec import decision_to_proto, event_from_proto, event_to_proto
from subsidy.contract.instants import instant, parse_instant, timestamp
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.records import AppealDecision
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.cli_output import Lang
from subsidy.ingest.permissions import Submitter
from subsidy.ledger import appeal_notices, explain_view
from subsidy.notifier import appeal_notice_messages, correction_messages, messages
from tests.contract.test_correction_decisions import _decision
from tests.factories import event

DECIDED = datetime(2026, 3, 2, 2, 15, 7, 123456, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
M = TypeVar("M", bound=Message)


def _old(message: M, *timestamps: str) -> M:
    """The message as v0.1.0 wrote it: the same bytes without the Timestamp fields."""
    copy = type(message).FromString(message.SerializeToString())
    for name in timestamps:
        copy.ClearField(name)
    return copy


def _new_only(message: M, *strings: str) -> M:
    """The message as a v2.0.0 writer will: only the Timestamps."""
    copy = type(message).FromString(message.SerializeToString())
    for name in strings:
        copy.ClearField(name)
    return copy


def test_the_codec_writes_the_decision_time_in_both_fields() -> None:
    message = dpb.Decision.FromString(
        decision_to_proto(_decision(None), DECIDED).SerializeToString()
    )
    assert message.decided_at == "2026-03-02T02:15:07.123456+00:00"  # as before the migration
    assert message.decided_time.ToDatetime(tzinfo=UTC) == DECIDED
    assert instant(message, "decided_time", "decided_at") == DECIDED


def test_an_old_decision_with_only_the_string_still_reads() -> None:
    new = decision_to_proto(_decision(None), DECIDED)
    old = _old(new, "decided_time")
    assert not old.HasField("decided_time")
    assert instant(old, "decided_time", "decided_at") == DECIDED
    # The readers say the same of both: the notifier's message, its webhook's decidedAt, the
    # ledger's explain line.
    for language in ("zh", "en"):
        assert (
            messages.render(old, None, language, "enterprise", "").text
            == messages.render(new, None, language, "enterprise", "").text
        )
    # People read it in Beijing time, to the minute.
    assert "2026-03-02 10:15 (Beijing time)" in messages.render(old, None, "en", "bureau", "").text
    fields = correction_messages.fields(old, "en", messages.status_words)
    assert fields["decidedAt"] == "2026-03-02T10:15:07.123456+08:00"
    assert fields == correction_messages.fields(new, "en", messages.status_words)
    assert explain_view._beijing(old, "decided_time", "decided_at", Lang.zh) == (
        "2026-03-02 10:15:07 +08:00")  # fmt: skip


def test_a_decision_with_only_the_timestamp_reads() -> None:
    new = decision_to_proto(_decision(None), DECIDED)
    only = _new_only(new, "decided_at")
    assert only.decided_at == ""
    assert instant(only, "decided_time", "decided_at") == DECIDED
    assert (
        messages.render(only, None, "en", "bureau", "").text
        == messages.render(new, None, "en", "bureau", "").text
    )
    assert correction_messages.fields(only, "zh", messages.status_words)["decidedAt"] == (
        "2026-03-02T10:15:07.123456+08:00"
    )
    assert explain_view._beijing(only, "decided_time", "decided_at", Lang.en) == (
        "2026-03-02 10:15:07 +08:00")  # fmt: skip


def test_the_timestamp_wins_over_the_string() -> None:
    message = dpb.Decision(decided_at="2020-01-01T00:00:00+00:00", decided_time=timestamp(DECIDED))
    assert instant(message, "decided_time", "decided_at") == DECIDED


def test_neither_field_is_no_instant() -> None:
    assert instant(dpb.Decision(), "decided_time", "decided_at") is None
    assert explain_view._beijing(dpb.Decision(), "decided_time", "decided_at", Lang.zh) == (
        "时间未记录")  # fmt: skip
    assert "Decided at" not in messages.render(dpb.Decision(), None, "en", "bureau", "").text


def test_an_appeal_notice_reads_the_same_from_either_field() -> None:
    facts = appeal_notices.Facts("某机器人公司", "m06.exhibition", 6, ("市工信局",), "DENIED", 0)
    recorded = datetime(2025, 10, 13, 3, 0, 0, 654321, tzinfo=UTC)
    decision = AppealDecision(
        event_id="apl-1d", appeal_id="apl-1p", enterprise_id="91320500MA1XXXXXXX",
        entitlement_id="apl-1/m06.exhibition", upheld=False, remedy=None, reason="不符合",
        decided_by="reviewer-li", decided_on=recorded.date(),
    )  # fmt: skip
    filed = appeal_notices.Filed("portal-enterprise", recorded)
    new = appeal_notices.decided_notice(decision, facts, filed, DECIDED)
    assert new.filed_at == "2025-10-13T11:00:00+08:00"  # cut to the second, as before
    assert new.filed_time.ToDatetime(tzinfo=UTC) == recorded  # the whole instant
    assert new.due_time.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(new.due_at)
    assert new.decided_time.ToDatetime(tzinfo=UTC) == DECIDED
    old = _old(new, "filed_time", "due_time", "decided_time")
    only = _new_only(new, "filed_at", "due_at", "decided_at")
    for language in ("zh", "en"):
        rendered = [
            appeal_notice_messages.render_appeal_notice(m, None, language, "enterprise", "")
            for m in (new, old, only)
        ]
        assert len({r.text for r in rendered}) == 1, [r.text for r in rendered]
        due_ats = {json.loads(r.json_body)["dueAt"] for r in rendered}
        assert due_ats == {"2025-11-03T23:59:59+08:00"}


def test_the_ingest_provenance_carries_both() -> None:
    at = datetime(2026, 3, 2, 10, 15, 7, 500000, tzinfo=BEIJING)
    who = Submitter("js-feed", frozenset(), frozenset(), channel=epb.FEED_WATCHER)
    provenance = who.provenance(at)
    assert provenance.accepted_at == "2026-03-02T10:15:07+08:00"
    assert provenance.accepted_time.ToDatetime(tzinfo=UTC) == at
    old = _old(provenance, "accepted_time")
    assert instant(old, "accepted_time", "accepted_at") == at.replace(microsecond=0)


def test_a_time_without_its_offset_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="offset"):
        timestamp(datetime(2026, 3, 2, 10, 15))
    with pytest.raises(ValueError, match="offset"):
        parse_instant("2026-03-02T10:15:00")
    with pytest.raises(ValueError, match="offset"):
        instant(dpb.Decision(decided_at="2026-03-02T10:15:00"), "decided_time", "decided_at")
    # A reader that shows text keeps the string it cannot read, as before the migration.
    soon = dpb.Decision(decided_at="soon")
    assert explain_view._beijing(soon, "decided_time", "decided_at", Lang.zh) == "soon"


def test_the_provenance_keeps_both_when_the_ledger_encodes_the_event_again() -> None:
    # A parked review is stored as the ledger encodes its event again (event_to_proto with its
    # submitter), not as it came off Kafka: the Timestamp must survive that too.
    at = datetime(2026, 3, 2, 10, 15, 7, 500000, tzinfo=BEIJING)
    who = Submitter("js-feed", frozenset(), frozenset(), channel=epb.FEED_WATCHER)
    lab = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}
    received = event_to_proto(parse_event(event("certificationObtained", lab)))
    received.submitted_by.CopyFrom(who.provenance(at))
    again = event_to_proto(event_from_proto(received), submitter=True)
    assert again.submitted_by == received.submitted_by
    assert again.submitted_by.accepted_time.ToDatetime(tzinfo=UTC) == at
