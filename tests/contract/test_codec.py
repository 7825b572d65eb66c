"""The event contract (docs/contract.md §1): JSON ↔ protobuf for every payload, field errors."""

import json
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy.contract.codec import (
    decode_event,
    evaluation_from_proto,
    evaluation_to_proto,
    event_from_proto,
    event_to_proto,
)
from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import PAYLOAD_TYPES, InvalidEvent, parse_event, parse_event_json
from subsidy.events.v1 import events_pb2
from tests.factories import event

EXAMPLES: dict[str, dict[str, Any]] = {
    "certificationObtained": {
        "kind": "FIRST_UNIT_EQUIPMENT",
        "itemId": "u-1",
        "certificateId": "C-1",
        "stage": 2,
        "humanoid": True,
        "approvedAmountFen": "50000000",
    },
    "computeInvoiceFiled": {
        "itemId": "INV-1",
        "amountFen": 123456,
        "modelParamsBillions": 10.5,
        "applicationScenarios": 5,
    },
    "standardPublished": {"itemId": "GB/T 1-2025", "level": "NATIONAL", "role": "LEAD"},
    "exhibitionHeld": {"itemId": "expo", "approvedAmountFen": 1},
    "serviceReportFiled": {"itemId": "plat", "serviceYear": 2025, "approvedAmountFen": 2},
    "projectDesignated": {"itemId": "proj"},
    "capacityInvestmentFiled": {"itemId": "cap", "investmentFen": "99"},
    "reviewDecided": {
        "eventRef": "ev-1",
        "ruleId": "m06.exhibition",
        "approved": True,
        "approvedAmountFen": 100,
    },
    "certificationRevoked": {"itemId": "lab", "reason": "撤销"},
    "otherSupportReceived": {"itemId": "lab", "program": "姑苏英才", "amountFen": 5},
    # The account name is the enterpriseName tests.factories.event gives every event.
    "payeeAccountRegistered": {
        "bankName": "中国工商银行苏州分行",
        "accountNumber": "0012345678901234567",
        "accountName": "苏州测试机器人有限公司",
    },
    "objectionFiled": {"eventRef": "ev-1", "ruleId": "m06.exhibition", "reason": "材料不实"},
    "appealFiled": {
        "eventRef": "ev-1",
        "ruleId": "m06.exhibition",
        "reason": "规模符合要求",
        "attachmentRef": "file-1",
    },
    "appealDecided": {
        "appealRef": "ev-2",
        "eventRef": "ev-1",
        "ruleId": "m06.exhibition",
        "upheld": False,
        "reason": "材料不足",
    },
    "eventRetracted": {"eventRef": "ev-1", "reason": "证书信息重复报送"},
}


def test_examples_cover_every_payload_of_the_proto() -> None:
    oneof = events_pb2.EnterpriseEvent.DESCRIPTOR.oneofs_by_name["payload"]
    assert {f.json_name for f in oneof.fields} == set(PAYLOAD_TYPES) == set(EXAMPLES)


@pytest.mark.parametrize("payload_type", sorted(EXAMPLES))
def test_json_protobuf_round_trip(payload_type: str) -> None:
    raw = event(payload_type, EXAMPLES[payload_type])
    parsed = parse_event(raw)
    message = event_to_proto(parsed)
    # The proto's JSON names are the contract's: protobuf's own parser takes the same JSON.
    assert json_format.Parse(json.dumps(raw), events_pb2.EnterpriseEvent()) == message
    assert event_from_proto(message) == parsed
    assert decode_event(message.SerializeToString()) == parsed
    assert parsed.payload_type == payload_type


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"enterpriseId": "91350100M000100Y44"}, "enterpriseId"),
        ({"enterpriseId": "9135010"}, "enterpriseId"),
        ({"district": "SHANGHAI"}, "district"),
        ({"occurredOn": "2025-02-30"}, "occurredOn"),
        ({"occurredOn": "2025/07/01"}, "occurredOn"),
        ({"eventId": ""}, "eventId"),
        ({"eventId": None}, "eventId"),
        (
            {"computeInvoiceFiled": {"itemId": "i", "amountFen": -1}},
            "computeInvoiceFiled.amountFen",
        ),
        (
            {"computeInvoiceFiled": {"itemId": "i", "amountFen": 2**63}},
            "computeInvoiceFiled.amountFen",
        ),
        (
            {"computeInvoiceFiled": {"itemId": "i", "amountFen": 1.5}},
            "computeInvoiceFiled.amountFen",
        ),
        (
            {"computeInvoiceFiled": {"itemId": "i", "amountFen": "12.50"}},
            "computeInvoiceFiled.amountFen",
        ),
        ({"computeInvoiceFiled": {"itemId": "i"}}, "computeInvoiceFiled.amountFen"),
        ({"computeInvoiceFiled": None}, "payload"),
        ({"projectDesignated": {"itemId": "p"}}, "payload"),
        (
            {"computeInvoiceFiled": {"itemId": "i", "amountFen": 1, "extra": 1}},
            "computeInvoiceFiled.extra",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_names_the_field(change: dict[str, Any], field: str) -> None:
    raw = event("computeInvoiceFiled", {"itemId": "INV", "amountFen": 100})
    raw.update(change)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert field in [e.field for e in caught.value.errors]


def test_every_bad_field_is_reported_at_once() -> None:
    raw = event(
        "certificationObtained",
        {"kind": "NOPE", "itemId": "x", "certificateId": "c"},
        district="MARS",
        occurredOn="2025-13-01",
    )
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert {e.field for e in caught.value.errors} == {
        "district",
        "occurredOn",
        "certificationObtained.kind",
    }


def test_review_approved_needs_an_amount() -> None:
    raw = event("reviewDecided", {"eventRef": "e", "ruleId": "r", "approved": True})
    with pytest.raises(InvalidEvent, match=r"reviewDecided\.approvedAmountFen"):
        parse_event(raw)


@pytest.mark.parametrize("line", [b"{not json", b"[1,2]", b"\xff\xfe", b'"text"'])
def test_lines_that_are_not_objects_are_rejected(line: bytes) -> None:
    with pytest.raises(InvalidEvent, match="event"):
        parse_event_json(line)


def test_undecodable_protobuf_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="undecodable protobuf"):
        decode_event(b"\xff\xff\xff\xff")


def test_same_content_same_hash_whatever_the_spelling() -> None:
    a = parse_event(event("computeInvoiceFiled", {"itemId": "I", "amountFen": 100}, eventId="x"))
    b = parse_event(event("computeInvoiceFiled", {"amountFen": "100", "itemId": "I"}, eventId="x"))
    c = parse_event(event("computeInvoiceFiled", {"itemId": "I", "amountFen": 101}, eventId="x"))
    assert a.content_hash() == b.content_hash() != c.content_hash()


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=20), st.sampled_from(["2025-02-30", "2025-07-01", "SIP", "NATIONAL", "12.5",
                                           "91350100M000100Y43", "PROVINCIAL_KEY_LAB"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    payload_type=st.sampled_from(sorted(EXAMPLES)),
    top_changes=st.dictionaries(st.sampled_from(["eventId", "district", "occurredOn",
                                                 "enterpriseId", "source", "enterpriseName",
                                                 "revision", "correctionReason", "bogus"]),
                                 _VALUES, max_size=2),
    payload_changes=st.dictionaries(st.text(max_size=12) | st.sampled_from(
        ["amountFen", "kind", "itemId", "approved", "stage", "approvedAmountFen", "accountName",
         "accountNumber", "bankName", "reason"]), _VALUES, max_size=2),
)  # fmt: skip
def test_json_lines_and_objects_are_judged_alike(
    payload_type: str, top_changes: dict[str, Any], payload_changes: dict[str, Any]
) -> None:
    raw = event(payload_type, {**EXAMPLES[payload_type], **payload_changes}, **top_changes)
    line = json.dumps(raw)

    def outcome(parse: Any, arg: Any) -> Any:
        try:
            return parse(arg)
        except InvalidEvent as err:
            return str(err)

    assert outcome(parse_event_json, line) == outcome(parse_event, json.loads(line))


def test_a_rejected_review_keeps_approved_false_through_protobuf() -> None:
    raw = event("reviewDecided", {"eventRef": "e", "ruleId": "m06.exhibition", "approved": False})
    parsed = parse_event(raw)
    assert decode_event(event_to_proto(parsed).SerializeToString()) == parsed


@pytest.mark.parametrize("payload_type", sorted(EXAMPLES))
def test_an_evaluation_carrying_the_received_bytes_reads_as_one_encoded_again(
    payload_type: str,
) -> None:
    # Eligibility passes the event's bytes through; the ledger must see the same evaluation.
    parsed = parse_event(event(payload_type, EXAMPLES[payload_type]))
    evaluation = evaluate(parsed, load_catalog())
    received = event_to_proto(parsed).SerializeToString()
    carried = evaluation_from_proto(evaluation_to_proto(evaluation, received))
    encoded = evaluation_from_proto(evaluation_to_proto(evaluation))
    assert carried == encoded == (evaluation, parsed.content_hash())
