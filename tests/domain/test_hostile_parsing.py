"""Hostile input at the parser, codec, gRPC-status and dead-letter level (hypothesis)."""

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.contract.codec import decode_event, event_to_proto
from subsidy.domain.catalog import load_catalog
from subsidy.domain.events import MAX_ERRORS, InvalidEvent, parse_event_json
from subsidy.domain.money import parse_yuan
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.grpc_errors import bad_request
from tests.factories import event
from tests.hostile_strategies import (
    Hostile,
    HostileProto,
    budget,
    clean,
    good_events,
    hostile_json,
    hostile_protos,
    line,
    undecodable_protobuf,
)
from tests.support.records import PLAIN_FRAMERS

CATALOG = load_catalog()
# What gRPC clients accept in trailers without refusing some at random.
TRAILER_SOFT_LIMIT = 8 * 1024
# The broker's default max.message.bytes, which the dead-letter topic keeps.
MAX_MESSAGE_BYTES = 1_048_588


def _refusal(raw: bytes) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_event_json(raw)
    return caught.value


def _check_errors(err: InvalidEvent, field: str | None) -> None:
    fields = [e.field for e in err.errors]
    assert err.errors
    if field is not None:
        assert field in fields
    assert len(err.errors) <= MAX_ERRORS
    for e in err.errors:
        assert clean(e.field, 100), e.field
        assert clean(e.message, 1_000), e.message
    assert err.event_id is None or (clean(err.event_id, 128) or err.event_id.isprintable())


@budget(400)
@given(hostile_json())
def test_every_hostile_line_is_refused_naming_the_field(hostile: Hostile) -> None:
    err = _refusal(hostile.raw)
    _check_errors(err, hostile.field)
    # What the ingest API answers: every field named, within what a client accepts.
    status = bad_request(err.errors)
    assert sum(len(k) + len(v) for k, v in status.trailing_metadata) < TRAILER_SOFT_LIMIT / 2
    assert len(status.details) <= 1_000


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[" * 100_000, "event"),  # was a RecursionError
        (b'{"eventId": ' + b"9" * 10_000 + b"}", "event"),  # was int's 4300-digit ValueError
        (b'{"eventId": "\\u0000", "\\u0000": 1}', "'\\x00'"),  # NUL id and key: were stored
        (b'{"eventId": "\\ud800"}', "eventId"),  # a lone surrogate id: was stored
        (b'{"' + b"k" * 100_000 + b'": 1}', "'" + "k" * 62 + "…"),  # a 100 kB field name
    ],
    ids=["deep", "digits", "nul", "surrogate", "huge-key"],
)
def test_regressions_are_refusals_with_clean_fields(raw: bytes, field: str) -> None:
    err = _refusal(raw)
    assert field in [e.field for e in err.errors]
    assert err.event_id is None
    _check_errors(err, field)


def test_an_event_with_thousands_of_unknown_fields_gets_a_bounded_refusal() -> None:
    err = _refusal(b"{" + b",".join(b'"k%d": 0' % i for i in range(50_000)) + b"}")
    assert len(err.errors) == MAX_ERRORS
    assert err.errors[-1].message.startswith("and ")
    status = bad_request(err.errors)
    assert sum(len(k) + len(v) for k, v in status.trailing_metadata) < TRAILER_SOFT_LIMIT / 2


@budget(200)
@given(st.data())
def test_odd_but_valid_events_are_accepted_and_survive_protobuf(data: st.DataObject) -> None:
    raw = line(data.draw(good_events(5, "odd-5")))
    event = parse_event_json(raw)
    assert decode_event(event_to_proto(event).SerializeToString()) == event


@budget(300)
@given(hostile_protos())
def test_hostile_protobuf_contents_are_refused_naming_the_field(hostile: HostileProto) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_event(hostile.message.SerializeToString())
    _check_errors(caught.value, hostile.field)


@budget(300)
@given(undecodable_protobuf())
def test_undecodable_protobuf_is_an_invalid_event_never_a_crash(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode_event(raw)


@pytest.mark.parametrize(("key", "size"), [(b"k", 1_000_000), (b"k" * 900_000, 10)])
def test_a_dead_letter_of_a_huge_message_fits_the_broker(key: bytes, size: int) -> None:
    bloated = epb.EnterpriseEvent(event_id="x" * size, enterprise_name="y")
    outcome = handle_message(
        Incoming("in", 0, 7, key, bloated.SerializeToString()),
        CATALOG,
        output_topic="out",
        dead_letter_topic="dlq",
        framers=PLAIN_FRAMERS,
    )
    assert outcome.topic == "dlq"
    # Over the limit, no retry could publish it: the worker stalled on it for ever.
    assert len(outcome.value) + len(outcome.key or b"") < MAX_MESSAGE_BYTES // 2
    letter = epb.DeadLetter.FromString(outcome.value)
    assert (letter.topic, letter.offset) == ("in", 7)
    assert "bytes" in letter.error
    assert letter.field_errors


@pytest.mark.parametrize("text", ["1" * 100_000, "1" + "0" * 17, "100000000000000000.5"])
def test_huge_yuan_amounts_are_refused_at_once(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match="too large"):
        parse_yuan(text)
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    "text", ["1e999999", "9e100000", "1e3", "1_000", "١٢٣", "１２３", "Infinity", "NaN", "-5", "+5",
             "1,000", ".5", "5."]
)  # fmt: skip
def test_yuan_amounts_are_plain_ascii_decimals(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match="not a plain decimal number"):
        parse_yuan(text)
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0", 0), ("1234.5", 123_450), (" 99999999999999999.99 ", 9_999_999_999_999_999_999)],
)
def test_plain_yuan_amounts_become_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_json_line_must_be_utf8(encoding: str) -> None:
    lab = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "l", "certificateId": "C"}
    good = json.dumps(
        event("certificationObtained", lab, enterpriseName="实验室"), ensure_ascii=False
    )
    assert parse_event_json(good.encode()).event_id
    with pytest.raises(InvalidEvent) as caught:
        parse_event_json(good.encode(encoding))
    assert [e.field for e in caught.value.errors] == ["event"]
    assert "utf-8" in str(caught.value)
