"""The hot path's validation and hashing against the reference."""

# The same event or the same errors.
#
# parse_event_json and event_from_proto vouch for good events without pydantic (event_fast), and
# content_hash writes the canonical JSON with msgspec (canonical). Each is compared here with the
# implementation it replaced, kept below as the reference: on good, odd and hostile input, both give
# the same event (same values, same types, same fields set, same hash) or refuse with the same
# errors.

import json
from datetime import date
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bench.domain import events_file
from subsidy.contract.codec import event_from_proto, event_to_proto
from subsidy.domain.canonical import canonical_json
from subsidy.domain.events import (
    EnterpriseEvent,
    FieldError,
    InvalidEvent,
    complete,
    parse_event,
    parse_event_json,
)
from subsidy.events.v1 import events_pb2 as epb
from tests.contract.test_codec import EXAMPLES
from tests.factories import event
from tests.hostile_strategies import (
    INVISIBLE,
    ODD_TEXT,
    Hostile,
    HostileProto,
    budget,
    good_events,
    hostile_json,
    hostile_protos,
    line,
)


def reference_json(raw: str | bytes) -> EnterpriseEvent:
    """parse_event_json as it was before event_fast: pydantic's JSON parser, then parse_event."""
    try:
        found = EnterpriseEvent.model_validate_json(raw)
    except ValidationError:
        pass
    else:
        if complete(found):
            return found
    try:
        data = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError) as err:
        raise InvalidEvent([FieldError("event", f"not valid JSON: {err}")]) from None
    return parse_event(data)


def reference_proto(message: epb.EnterpriseEvent) -> EnterpriseEvent:
    """event_from_proto as it was: the JSON mapping, then parse_event."""
    return parse_event(json_format.MessageToDict(message))


def _shape(value: Any) -> Any:
    """A value with every type spelled out (1 == 1.0 == True to ==, not here)."""
    if isinstance(value, BaseModel):
        fields = {k: _shape(v) for k, v in value.__dict__.items() if k in type(value).model_fields}
        return (type(value).__name__, sorted(value.model_fields_set), fields)
    return (type(value).__name__, value)


def _verdict(parse: Any, given_input: Any) -> Any:
    """What a parser made of the input: the event in full, or the errors in full."""
    try:
        found = parse(given_input)
    except InvalidEvent as err:
        return ("refused", [(e.field, e.message) for e in err.errors], err.event_id)
    dumped = found.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert canonical_json(found) == dumped
    return ("event", _shape(found), found.content_hash(), dumped)


def _same_json(raw: str | bytes) -> Any:
    verdict = _verdict(parse_event_json, raw)
    assert verdict == _verdict(reference_json, raw)
    return verdict


def _same_proto(message: Message) -> Any:
    assert isinstance(message, epb.EnterpriseEvent)
    verdict = _verdict(event_from_proto, message)
    assert verdict == _verdict(reference_proto, message)
    return verdict


# Values a field may be given: right, wrong, odd, out of range.
ODD_VALUES = st.one_of(
    ODD_TEXT,
    st.sampled_from(["", " ", "x" * 129, "x" * 257, "2025-02-30", "2025-07-01", "٢٠٢٥-٠١-٠١",
                     "12", "0012", "-5", "1e3", "SIP", "sip", "LEAD", "NATIONAL", "VERTICAL_LLM",
                     "a\u202eb", *INVISIBLE, "\x00", "１２"]),
    st.sampled_from([0, 1, 2, -1, 2000, 2100, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**30]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 10.0, 1e9, 1e9 + 1, 5e-324, 1e16, 1e300]),
    st.booleans(),
    st.none(),
    st.just([]),
    st.just({}),
)  # fmt: skip


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event of any payload type with fields changed, dropped, added or nulled."""
    payload_type = draw(st.sampled_from(sorted(EXAMPLES)))
    data = event(payload_type, dict(EXAMPLES[payload_type]), eventId=draw(ODD_TEXT))
    for target in (data, data[payload_type]):
        for key in draw(st.lists(st.sampled_from(sorted(target)), max_size=3, unique=True)):
            action = draw(st.sampled_from(["set", "set", "drop", "null"]))
            if action == "drop":
                del target[key]
            else:
                target[key] = None if action == "null" else draw(ODD_VALUES)
    extra = draw(st.sampled_from(["", "", "revision", "correction", "unknown", "snake",
                                  "second_payload", "submitter", "null_payload"]))  # fmt: skip
    if extra == "revision":
        data["revision"] = draw(st.sampled_from([1, 2, 0, 2**31]))
    elif extra == "correction":
        data |= {"revision": 2, "correctionReason": draw(ODD_TEXT | st.just(" "))}
    elif extra == "unknown":
        data["robot"] = 1
    elif extra == "snake":
        data["event_id"] = data.pop("eventId", "e-1")
    elif extra == "second_payload":
        data["projectDesignated"] = {"itemId": "p"}
    elif extra == "null_payload":
        data["projectDesignated"] = None
    elif extra == "submitter":
        data["submittedBy"] = draw(
            st.sampled_from(
                [
                    {"principal": "feed-a", "channel": "FEED_WATCHER"},
                    {"principal": "Bad Name"},
                    {"principal": "p", "acceptedTime": "2025-07-01T00:00:00Z", "other": 1},
                    None,
                ]
            )
        )
    return data


@budget(600)
@given(mutated_events(), st.booleans())
def test_mutated_events_of_every_type_get_the_reference_verdict(
    data: dict[str, Any], ascii_only: bool
) -> None:
    _same_json(json.dumps(data, ensure_ascii=ascii_only).encode())


@budget(300)
@given(hostile_json())
def test_hostile_lines_get_the_reference_refusal(hostile: Hostile) -> None:
    assert _same_json(hostile.raw)[0] == "refused"


@budget(200)
@given(st.data())
def test_odd_but_valid_events_are_the_reference_events(data: st.DataObject) -> None:
    raw = line(data.draw(good_events(5, "odd-5")))
    assert _same_json(raw)[0] == "event"
    assert _same_json(raw.decode())[0] == "event"


def test_a_generated_feed_is_judged_as_the_reference_judges_it() -> None:
    """The benchmark's own feed: thousands of good events and its share of bad lines."""
    lines = events_file(50_000).read_bytes().splitlines()[:4_000]
    verdicts = [_same_json(raw)[0] for raw in lines]
    assert verdicts.count("event") > 3_500
    assert "refused" in verdicts


@pytest.mark.parametrize(
    "raw",
    [
        b'{"eventId": "a", "eventId": "b"}',
        b" \n" + line(event("projectDesignated", {"itemId": "p"})) + b"\n ",
        line(event("projectDesignated", {"itemId": "p", "itemId ": "q"})),
        line(event("computeInvoiceFiled", {"itemId": "i", "amountFen": "007"})),
        line(event("computeInvoiceFiled", {"itemId": "i", "amountFen": 1,
                                           "modelParamsBillions": 3})),
        json.dumps(event("projectDesignated", {"itemId": "p"})).replace('"p"', '"\\ud800"')
        .encode(),
        line(event("projectDesignated", {"itemId": "p"}, occurredOn="2024-02-29")),
    ],
    ids=["duplicate-key", "whitespace", "near-key", "fen-digits", "int-float", "surrogate", "leap"],
)  # fmt: skip
def test_edge_lines_get_the_reference_verdict(raw: bytes) -> None:
    _same_json(raw)


# ---- protobuf ------------------------------------------------------------------------------


def _as_proto(data: dict[str, Any]) -> epb.EnterpriseEvent | None:
    """The event as a protobuf message, when the JSON mapping can say it at all."""
    try:
        return json_format.ParseDict(data, epb.EnterpriseEvent())
    except (json_format.ParseError, ValueError, TypeError, OverflowError):
        return None


@budget(600)
@given(mutated_events())
def test_mutated_protobuf_events_get_the_reference_verdict(data: dict[str, Any]) -> None:
    data.pop("submittedBy", None)  # Provenance differs from Submitter's JSON: tested below
    message = _as_proto(data)
    if message is not None:
        _same_proto(message)


@budget(300)
@given(hostile_protos())
def test_hostile_protobuf_events_get_the_reference_refusal(hostile: HostileProto) -> None:
    assert _same_proto(hostile.message)[0] == "refused"


@pytest.mark.parametrize("payload_type", sorted(EXAMPLES))
def test_every_payload_read_from_protobuf_is_the_reference_event(payload_type: str) -> None:
    data = event(payload_type, EXAMPLES[payload_type])
    message = event_to_proto(parse_event(data))
    assert _same_proto(message)[0] == "event"
    message.submitted_by.principal = "ingest-api"
    message.submitted_by.channel = epb.PORTAL
    message.submitted_by.accepted_at = "2025-07-01T08:00:00+08:00"
    message.submitted_by.accepted_time.FromJsonString("2025-07-01T00:00:00.5Z")
    assert _same_proto(message)[0] == "event"
    message.submitted_by.principal = "Not A Principal"
    assert _same_proto(message)[0] == "refused"


def test_protobuf_values_the_json_mapping_writes_otherwise_are_read_alike() -> None:
    """An optional field set to 0, an unknown enum number, a NaN, an empty payload."""
    base = event("computeInvoiceFiled", {"itemId": "i", "amountFen": 5})
    for attr, value in [("application_scenarios", 0), ("model_params_billions", 0.0),
                        ("model_params_billions", float("nan")),
                        ("model_params_billions", float("inf"))]:  # fmt: skip
        message = json_format.ParseDict(base, epb.EnterpriseEvent())
        setattr(message.compute_invoice_filed, attr, value)
        _same_proto(message)
    message = json_format.ParseDict(base, epb.EnterpriseEvent())
    message.district = 99  # type: ignore[assignment]
    assert _same_proto(message)[0] == "refused"
    message = json_format.ParseDict(base, epb.EnterpriseEvent())
    message.project_designated.SetInParent()
    assert _same_proto(message)[0] == "refused"


# ---- canonical JSON ------------------------------------------------------------------------


@budget(300)
@given(st.floats(min_value=0, max_value=1e9))
def test_canonical_json_is_pydantics_for_every_float_the_contract_allows(params: float) -> None:
    data = event("computeInvoiceFiled", {"itemId": "i", "amountFen": 5,
                                         "modelParamsBillions": params})  # fmt: skip
    found = parse_event(data)
    assert canonical_json(found) == found.model_dump_json(by_alias=True, exclude_none=True).encode()


def test_canonical_json_leaves_values_it_is_unsure_of_to_pydantic() -> None:
    found = parse_event(event("computeInvoiceFiled", {"itemId": "i", "amountFen": 5}))
    invoice = found.payload.model_copy(update={"model_params_billions": 1e16})
    big = found.model_copy(update={"compute_invoice_filed": invoice})
    assert canonical_json(big) == big.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert b"1e+16" in canonical_json(big)  # msgspec would write 1e16
    for each in (found.model_copy(update={"occurred_on": date(2025, 7, 1)}),):
        assert (
            canonical_json(each) == each.model_dump_json(by_alias=True, exclude_none=True).encode()
        )
