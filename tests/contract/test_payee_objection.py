"""payeeAccountRegistered and objectionFiled (docs/contract.md §1)."""

# Each bad field refused by its path through every door (a decoded dict, a JSONL line, protobuf),
# good ones round trip.

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format

from subsidy.contract.codec import decode_event, event_to_proto
from subsidy.domain.events import (
    ACCOUNT_NAME_MISMATCH,
    EnterpriseEvent,
    InvalidEvent,
    parse_event,
    parse_event_json,
)
from subsidy.events.v1 import events_pb2 as epb
from tests.factories import event

NAME = "苏州测试机器人有限公司"  # tests.factories.event's enterpriseName
PAYEE = {"bankName": "中国银行苏州分行", "accountNumber": "0466123456789012345",
         "accountName": NAME}  # fmt: skip
OBJECTION = {"eventRef": "ev-7", "ruleId": "m06.exhibition", "reason": "展会未在苏州举办"}


def _proto(raw: dict[str, Any]) -> EnterpriseEvent:
    """Through Kafka's door: the JSON as protobuf (protobuf's own parser), bytes, decoded."""
    message = json_format.ParseDict(raw, epb.EnterpriseEvent())
    return decode_event(message.SerializeToString())


DOORS: dict[str, Callable[[dict[str, Any]], EnterpriseEvent]] = {
    "dict": parse_event,
    "jsonl": lambda raw: parse_event_json(json.dumps(raw, ensure_ascii=False)),
    "protobuf": _proto,
}


def _errors(raw: dict[str, Any], door: str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidEvent) as caught:
        DOORS[door](raw)
    return [(e.field, e.message) for e in caught.value.errors]


@pytest.mark.parametrize("door", sorted(DOORS))
def test_an_account_name_other_than_the_enterprise_name_is_refused_naming_it(door: str) -> None:
    for other in ("苏州别家机器人有限公司", f"{NAME} ", NAME[:-2]):
        raw = event("payeeAccountRegistered", {**PAYEE, "accountName": other})
        assert _errors(raw, door) == [("payeeAccountRegistered.accountName", ACCOUNT_NAME_MISMATCH)]
    assert ACCOUNT_NAME_MISMATCH.startswith("户名与企业名称不一致")


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize(
    "number",
    [
        "6222 0012 3456 7890",  # spaces are not stripped
        "62220012345678901A",
        "6222-0012-3456-7890",
        "６２２２００１２３４５６７８９０",  # full-width digits
        "٦٢٢٢٠٠١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits: \\d would take them
        "1234567",  # 7 digits: too short
        "1" * 33,  # too long
        "",
    ],
)
def test_an_account_number_of_anything_but_8_to_32_digits_is_refused(
    door: str, number: str
) -> None:
    raw = event("payeeAccountRegistered", {**PAYEE, "accountNumber": number})
    fields = [field for field, _ in _errors(raw, door)]
    assert fields == ["payeeAccountRegistered.accountNumber"]


def test_an_account_number_sent_as_a_json_number_is_refused() -> None:
    # A number would lose leading zeros: the contract takes the digits as a string.
    raw = event("payeeAccountRegistered", {**PAYEE, "accountNumber": 62220012345678901})
    assert [f for f, _ in _errors(raw, "dict")] == ["payeeAccountRegistered.accountNumber"]


@pytest.mark.parametrize("number", ["12345678", "0" * 32, "6222021001123456789"])
def test_8_to_32_digits_are_an_account_number(number: str) -> None:
    parsed = parse_event(event("payeeAccountRegistered", {**PAYEE, "accountNumber": number}))
    assert parsed.payee_account_registered is not None
    assert parsed.payee_account_registered.account_number == number


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize("bank", ["", "   ", "中国银行\u202e苏州分行"])
def test_a_bank_name_must_be_visible_text(door: str, bank: str) -> None:
    raw = event("payeeAccountRegistered", {**PAYEE, "bankName": bank})
    assert [f for f, _ in _errors(raw, door)] == ["payeeAccountRegistered.bankName"]


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": None}, "objectionFiled.reason"),
        ({"reason": ""}, "objectionFiled.reason"),
        ({"reason": " \u3000"}, "objectionFiled.reason"),
        ({"eventRef": None}, "objectionFiled.eventRef"),
        ({"ruleId": None}, "objectionFiled.ruleId"),
        ({"ruleId": "r" * 129}, "objectionFiled.ruleId"),
    ],
)
def test_an_objection_needs_its_entitlement_and_a_reason(
    door: str, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**OBJECTION, **change}.items() if v is not None}
    assert [f for f, _ in _errors(event("objectionFiled", body), door)] == [field]


@pytest.mark.parametrize(("payload_type", "payload"), [
    ("payeeAccountRegistered", PAYEE), ("objectionFiled", OBJECTION),
])  # fmt: skip
def test_both_round_trip_through_protobuf_unchanged(
    payload_type: str, payload: dict[str, Any]
) -> None:
    parsed = parse_event(event(payload_type, payload, eventId="ev-rt"))
    back = decode_event(event_to_proto(parsed).SerializeToString())
    assert back == parsed
    assert back.to_json_dict()[payload_type] == payload
    assert back.content_hash() == parsed.content_hash()
