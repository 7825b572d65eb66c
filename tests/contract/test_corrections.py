"""Corrections and retractions in the event contract (docs/contract.md §1)."""

# Revision, correctionReason and eventRetracted through every door (a decoded dict, a JSONL line,
# protobuf), on to the ledger inside an Evaluation, with an original's hash unchanged.

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format

from subsidy.contract.codec import (
    decode_event,
    evaluation_from_proto,
    evaluation_to_proto,
    event_to_proto,
)
from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import EnterpriseEvent, InvalidEvent, parse_event, parse_event_json
from subsidy.domain.simulate import simulate
from subsidy.events.v1 import events_pb2 as epb
from tests.factories import event

FEED = "js-provincial-cert-feed"
CERT = "CERT-2025-0001"
CERTIFICATION = {"kind": "PROVINCIAL_KEY_LAB", "itemId": "lab-1", "certificateId": CERT,
                 "stage": 1, "humanoid": True, "approvedAmountFen": 50_000_000}  # fmt: skip
ORIGINAL = event("certificationObtained", CERTIFICATION, eventId=f"{FEED}:{CERT}", source=FEED)
# ORIGINAL's content hash as the code before corrections computed it: an original keeps its
# hash, or every event accepted before would conflict with itself when sent again.
ORIGINAL_HASH = "e1daedbd2b59415758233e367ef64d4b0c4787e3c67654abf85bfb4c143e00b4"
REASON = "核定金额录入有误"
RETRACTION = {"eventRef": "ev-1", "reason": "证书信息重复报送"}


def _proto(raw: dict[str, Any]) -> EnterpriseEvent:
    """Through Kafka's door: the JSON as protobuf (protobuf's own parser), bytes, decoded."""
    return decode_event(json_format.ParseDict(raw, epb.EnterpriseEvent()).SerializeToString())


DOORS: dict[str, Callable[[dict[str, Any]], EnterpriseEvent]] = {
    "dict": parse_event,
    "jsonl": lambda raw: parse_event_json(json.dumps(raw, ensure_ascii=False)),
    "protobuf": _proto,
}


def _fields(raw: dict[str, Any], door: str) -> list[str]:
    with pytest.raises(InvalidEvent) as caught:
        DOORS[door](raw)
    return [e.field for e in caught.value.errors]


@pytest.mark.parametrize("door", sorted(DOORS))
def test_an_original_keeps_its_hash_with_or_without_revision_1(door: str) -> None:
    absent = DOORS[door](ORIGINAL)
    one = DOORS[door]({**ORIGINAL, "revision": 1})
    assert absent == one
    assert absent.revision is None
    assert absent.revision_number == 1
    assert absent.content_hash() == one.content_hash() == ORIGINAL_HASH
    assert "revision" not in one.to_json_dict()
    assert not event_to_proto(one).HasField("revision")


@pytest.mark.parametrize("door", sorted(DOORS))
def test_revision_3_round_trips_through_protobuf_and_changes_the_hash(door: str) -> None:
    raw = {**ORIGINAL, "revision": 3, "correctionReason": REASON}
    parsed = DOORS[door](raw)
    assert (parsed.revision, parsed.revision_number, parsed.correction_reason) == (3, 3, REASON)
    message = event_to_proto(parsed)
    assert (message.revision, message.correction_reason) == (3, REASON)
    # The proto's JSON names are the contract's: protobuf's own parser takes the same JSON.
    assert json_format.ParseDict(raw, epb.EnterpriseEvent()) == message
    back = decode_event(message.SerializeToString())
    assert back == parsed
    assert back.to_json_dict() == raw
    assert back.content_hash() == parsed.content_hash() != ORIGINAL_HASH


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"revision": 2}, ["correctionReason"]),  # a correction must say why
        ({"revision": 2, "correctionReason": " \u3000"}, ["correctionReason"]),
        ({"correctionReason": REASON}, ["correctionReason"]),  # only a correction has one
        ({"revision": 1, "correctionReason": REASON}, ["correctionReason"]),
        ({"revision": 0, "correctionReason": REASON}, ["revision"]),
        ({"revision": -2, "correctionReason": REASON}, ["revision"]),
    ],
)
def test_a_revision_and_its_reason_go_together(
    door: str, change: dict[str, Any], fields: list[str]
) -> None:
    assert _fields({**ORIGINAL, **change}, door) == fields


@pytest.mark.parametrize("door", ["dict", "jsonl"])
@pytest.mark.parametrize("revision", [2.0, "2", True, 2**31])
def test_a_revision_is_a_whole_number_in_int32(door: str, revision: object) -> None:
    assert _fields({**ORIGINAL, "revision": revision, "correctionReason": REASON}, door) == [
        "revision"
    ]


@pytest.mark.parametrize("door", sorted(DOORS))
def test_a_retraction_round_trips_and_creates_no_entitlement(door: str) -> None:
    parsed = DOORS[door](event("eventRetracted", RETRACTION, eventId="ev-9"))
    assert parsed.payload_type == "eventRetracted"
    assert parsed.event_retracted is not None
    assert parsed.event_retracted.event_ref == "ev-1"
    message = event_to_proto(parsed)
    assert message.WhichOneof("payload") == "event_retracted"
    assert decode_event(message.SerializeToString()) == parsed
    assert evaluate(parsed, load_catalog()).entitlements == ()


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize(
    ("payload", "top", "fields"),
    [
        ({"reason": "x"}, {}, ["eventRetracted.eventRef"]),
        ({"eventRef": "ev-1"}, {}, ["eventRetracted.reason"]),
        ({"eventRef": "ev-1", "reason": "  "}, {}, ["eventRetracted.reason"]),
        ({"eventRef": "", "reason": "x"}, {}, ["eventRetracted.eventRef"]),
        (RETRACTION, {"revision": 2, "correctionReason": REASON}, ["revision"]),
    ],
)
def test_a_bad_retraction_is_refused_naming_the_field(
    door: str, payload: dict[str, Any], top: dict[str, Any], fields: list[str]
) -> None:
    assert _fields(event("eventRetracted", payload, **top), door) == fields


def test_an_evaluation_carries_the_correction_to_the_ledger() -> None:
    # entitlements.v1 carries the whole event: revision and reason reach the ledger with it.
    corrected = parse_event({**ORIGINAL, "revision": 2, "correctionReason": REASON})
    evaluation = evaluate(corrected, load_catalog())
    assert evaluation.entitlements  # evaluated like any certification
    for received in (event_to_proto(corrected).SerializeToString(), None):
        (read, digest) = evaluation_from_proto(evaluation_to_proto(evaluation, received))
        assert read == evaluation
        assert (read.event.revision, read.event.correction_reason) == (2, REASON)
        assert digest == corrected.content_hash()


def test_a_jsonl_correction_parses_and_one_without_a_reason_is_refused() -> None:
    line = json.dumps({**ORIGINAL, "revision": 2, "correctionReason": REASON}, ensure_ascii=False)
    parsed = parse_event_json(line)
    assert (parsed.revision_number, parsed.correction_reason) == (2, REASON)
    bad = json.dumps({**ORIGINAL, "eventId": "ev-no-reason", "revision": 2}, ensure_ascii=False)
    # `subsidy simulate` refuses it before the ledger, naming the field.
    assert simulate([bad], load_catalog()).to_contract()["rejectedEvents"] == [
        {"eventId": "ev-no-reason",
         "error": "correctionReason: 更正须说明原因 / required when revision is above 1"},
    ]  # fmt: skip
