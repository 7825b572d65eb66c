"""appealFiled and appealDecided (docs/contract.md §1, Appeals)."""

# Each bad field refused by its path through every door (a decoded dict, a JSONL line, protobuf),
# good ones round trip.

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format

from subsidy.contract.codec import decode_event, event_to_proto
from subsidy.domain.events import EnterpriseEvent, InvalidEvent, parse_event, parse_event_json
from subsidy.events.v1 import events_pb2 as epb
from tests.factories import event

FILED = {"eventRef": "ev-7", "ruleId": "m06.exhibition", "reason": "展会规模符合要求",
         "attachmentRef": "file-2025-0810-001"}  # fmt: skip
DECIDED = {"appealRef": "ev-8", "eventRef": "ev-7", "ruleId": "m06.exhibition", "upheld": True,
           "reason": "材料齐全,重新审核"}  # fmt: skip


def _proto(raw: dict[str, Any]) -> EnterpriseEvent:
    message = json_format.ParseDict(raw, epb.EnterpriseEvent())
    return decode_event(message.SerializeToString())


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
def test_good_appeals_round_trip_through_protobuf(door: str) -> None:
    for payload_type, payload in (("appealFiled", FILED), ("appealDecided", DECIDED),
                                  ("appealDecided", {**DECIDED, "upheld": False})):  # fmt: skip
        parsed = DOORS[door](event(payload_type, payload))
        assert parsed.payload_type == payload_type
        assert parse_event(json_format.MessageToDict(event_to_proto(parsed))) == parsed
    no_attachment = {k: v for k, v in FILED.items() if k != "attachmentRef"}
    assert DOORS[door](event("appealFiled", no_attachment)).payload.attachment_ref is None  # type: ignore[union-attr]


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize(
    ("payload_type", "change", "field"),
    [
        ("appealFiled", {"reason": "   "}, "appealFiled.reason"),
        ("appealFiled", {"reason": "理" * 2001}, "appealFiled.reason"),
        ("appealFiled", {"reason": "申请\u202e理由"}, "appealFiled.reason"),
        ("appealFiled", {"attachmentRef": "f" * 201}, "appealFiled.attachmentRef"),
        ("appealFiled", {"attachmentRef": "file\n1"}, "appealFiled.attachmentRef"),
        ("appealFiled", {"attachmentRef": "file\u200b1"}, "appealFiled.attachmentRef"),
        ("appealFiled", {"eventRef": ""}, "appealFiled.eventRef"),
        ("appealDecided", {"reason": ""}, "appealDecided.reason"),
        ("appealDecided", {"reason": "理" * 2001}, "appealDecided.reason"),
        ("appealDecided", {"appealRef": "a" * 129}, "appealDecided.appealRef"),
        ("appealDecided", {"ruleId": ""}, "appealDecided.ruleId"),
    ],
)
def test_a_bad_field_is_refused_by_its_path(
    door: str, payload_type: str, change: dict[str, Any], field: str
) -> None:
    base = FILED if payload_type == "appealFiled" else DECIDED
    assert _fields(event(payload_type, {**base, **change}), door) == [field]


@pytest.mark.parametrize("door", sorted(DOORS))
def test_an_appeal_decision_must_say_upheld_or_dismissed(door: str) -> None:
    silent = {k: v for k, v in DECIDED.items() if k != "upheld"}
    assert _fields(event("appealDecided", silent), door) == ["appealDecided.upheld"]


def test_a_reason_of_2000_characters_and_an_attachment_of_200_are_taken() -> None:
    raw = event("appealFiled", {**FILED, "reason": "理" * 2000, "attachmentRef": "f" * 200})
    assert parse_event(raw).payload.reason == "理" * 2000  # type: ignore[union-attr]
