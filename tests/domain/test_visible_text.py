"""Names, ids and other text people read carry no control or invisible characters."""

# Bidi overrides and isolates, zero-width characters, the BOM, C0 and C1 controls: each is refused
# naming the field and the character, through every door (JSONL, a decoded dict, protobuf).

import json
from collections.abc import Callable
from typing import Any

import pytest

from subsidy.contract.codec import decode_event
from subsidy.domain.events import InvalidEvent, parse_event, parse_event_json
from subsidy.events.v1 import events_pb2 as epb
from tests.factories import event

# character → the code point the error names
HIDDEN = {
    "\u202a": "U+202A", "\u202b": "U+202B", "\u202c": "U+202C", "\u202d": "U+202D",
    "\u202e": "U+202E", "\u2066": "U+2066", "\u2067": "U+2067", "\u2068": "U+2068",
    "\u2069": "U+2069", "\u200b": "U+200B", "\u200c": "U+200C", "\u200d": "U+200D",
    "\u200e": "U+200E", "\u200f": "U+200F", "\u2060": "U+2060", "\ufeff": "U+FEFF",
    "\x00": "U+0000", "\x1b": "U+001B", "\x7f": "U+007F", "\x85": "U+0085", "\x9b": "U+009B",
    "\u2028": "U+2028", "\u2029": "U+2029",
}  # fmt: skip

# field path → how to put a value there
FIELDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "enterpriseName": lambda v: event("projectDesignated", {"itemId": "p-1"}, enterpriseName=v),
    "source": lambda v: event("projectDesignated", {"itemId": "p-1"}, source=v),
    "eventId": lambda v: event("projectDesignated", {"itemId": "p-1"}, eventId=v),
    "projectDesignated.itemId": lambda v: event("projectDesignated", {"itemId": v}),
    "certificationObtained.certificateId": lambda v: event(
        "certificationObtained", {"kind": "MUNICIPAL_KEY_LAB", "itemId": "l", "certificateId": v}
    ),
    "reviewDecided.eventRef": lambda v: event(
        "reviewDecided", {"eventRef": v, "ruleId": "r", "approved": False}
    ),
    "reviewDecided.ruleId": lambda v: event(
        "reviewDecided", {"eventRef": "e", "ruleId": v, "approved": False}
    ),
    "certificationRevoked.reason": lambda v: event(
        "certificationRevoked", {"itemId": "l", "reason": v}
    ),
    "otherSupportReceived.program": lambda v: event(
        "otherSupportReceived", {"itemId": "l", "program": v, "amountFen": 1}
    ),
}


def _refused(data: dict[str, Any]) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_event_json(json.dumps(data, ensure_ascii=False))
    return caught.value


@pytest.mark.parametrize("char", list(HIDDEN), ids=list(HIDDEN.values()))
def test_an_enterprise_name_with_a_hidden_character_is_refused(char: str) -> None:
    err = _refused(FIELDS["enterpriseName"](f"苏州{char}机器人有限公司"))
    [error] = err.errors
    assert error.field == "enterpriseName"
    assert f"{HIDDEN[char]} " in error.message
    assert "at character 3" in error.message
    assert "invisible" in error.message


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\ufeff", "\x85"])
def test_every_text_field_refuses_hidden_characters(field: str, char: str) -> None:
    err = _refused(FIELDS[field](f"abc{char}"))
    assert [e.field for e in err.errors] == [field]
    assert HIDDEN[char] in err.errors[0].message


@pytest.mark.parametrize(
    "text",
    ["苏州机器人有限公司", "苏州\u3000机器人", "Robo\u00a0Co", "Cafe\u0301", "شركة ١٢٣", "🤖 Lab",
     "=HYPERLINK(1)", "-1"],
    ids=["cjk", "ideographic-space", "nbsp", "combining", "arabic", "emoji", "formula", "minus"],
)  # fmt: skip
def test_visible_text_is_accepted(text: str) -> None:
    for build in FIELDS.values():
        parse_event(build(text))


def test_a_rejected_event_with_a_hidden_character_in_its_id_is_reported_without_it() -> None:
    err = _refused(FIELDS["eventId"]("ev-1\u202e"))
    assert err.event_id is None
    assert _refused(FIELDS["enterpriseName"]("a\u202eb")).event_id is not None


def test_protobuf_events_are_held_to_the_same_rule() -> None:
    message = epb.EnterpriseEvent(
        event_id="ev-1", source="s", enterprise_id="91350100M000100Y43",
        enterprise_name="苏州\u202e司公限有", district=epb.SIP, occurred_on="2025-07-01",
        project_designated=epb.ProjectDesignated(item_id="p"),
    )  # fmt: skip
    with pytest.raises(InvalidEvent) as caught:
        decode_event(message.SerializeToString())
    assert [e.field for e in caught.value.errors] == ["enterpriseName"]
