"""Hypothesis strategies of hostile input (and of good events to mix in) for every door."""

import json
import os
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from subsidy.domain.enums import CertificationKind, District
from subsidy.domain.events import PAYLOAD_TYPES
from subsidy.events.v1 import events_pb2 as epb
from tests.factories import bad_check, enterprise_id

# HOSTILE_SCALE=50 multiplies every budget and draws fresh examples (a deeper local search);
# by default the examples are derandomized, so CI sees the same ones every run.
SCALE = int(os.environ.get("HOSTILE_SCALE", "1"))


def budget(examples: int, *, shrink: bool = True) -> settings:
    """The settings of one hostile test: `examples` × HOSTILE_SCALE, no deadline."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        # Integration examples drive real servers: each is a batch, and shrinking one would
        # replay it against the state the first run left.
        phases=tuple(Phase) if shrink else (Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
    )  # fmt: skip


# ---- good events -------------------------------------------------------------------------

# Text that is valid but odd: CJK, emoji, right-to-left letters and digits, combining
# characters, other spaces. No control characters, lone surrogates or invisible formatting
# characters (bidi controls, zero-width ones): those are invalid (INVISIBLE).
ODD_TEXT = (
    st.lists(
        st.sampled_from(["苏", "州", "机", "器", "人", "🤖", "👩", "\u05d0", "\u0627", "\u3000",
                         "\u00a0", "\u0301", "\u0663", "ﷺ", "a", "Z", "-", " ",
                         "\U0001f1e8\U0001f1f3"]),
        min_size=1,
        max_size=12,
    )
    .map("".join)
    .filter(lambda s: s.strip() != "")
)  # fmt: skip
# Bidi overrides and isolates, zero-width characters, the BOM, a C1 control, a line separator.
INVISIBLE = ["\u202e", "\u202a", "\u2067", "\u2069", "\u200b", "\u200d", "\u200f", "\u2060",
             "\ufeff", "\x85", "\x9b", "\u2028"]  # fmt: skip
PAYING_KINDS = ["MUNICIPAL_KEY_LAB", "PROVINCIAL_KEY_LAB", "FIRST_UNIT_EQUIPMENT", "VERTICAL_LLM",
                "HIGH_TECH_ENTERPRISE", "TRAINING_BASE"]  # fmt: skip
FEN = st.integers(min_value=1, max_value=2**63 - 1)


@st.composite
def good_events(draw: st.DrawFn, enterprise: int, event_id: str) -> dict[str, Any]:
    """A valid event of `enterprise` with odd but legal text and amounts up to int64."""
    payload_type = draw(st.sampled_from(["certificationObtained", "computeInvoiceFiled",
                                         "exhibitionHeld", "otherSupportReceived"]))  # fmt: skip
    item = draw(st.sampled_from(["lab-1", "lab-2", "inv-1"]))
    payload: dict[str, Any]
    if payload_type == "certificationObtained":
        payload = {"kind": draw(st.sampled_from(PAYING_KINDS)), "itemId": item,
                   "certificateId": draw(ODD_TEXT)}  # fmt: skip
        if draw(st.booleans()):
            payload["approvedAmountFen"] = draw(FEN | FEN.map(str))
        if draw(st.booleans()):
            payload["humanoid"] = draw(st.booleans())
    elif payload_type == "computeInvoiceFiled":
        payload = {"itemId": item, "amountFen": draw(FEN | FEN.map(str)),
                   "modelParamsBillions": draw(st.floats(0, 1e9)),
                   "applicationScenarios": draw(st.integers(0, 2**31 - 1))}  # fmt: skip
    elif payload_type == "exhibitionHeld":
        payload = {"itemId": item, "approvedAmountFen": draw(FEN)}
    else:
        payload = {"itemId": item, "program": draw(ODD_TEXT), "amountFen": draw(FEN)}
    return {
        "eventId": event_id,
        "source": draw(ODD_TEXT),
        "enterpriseId": enterprise_id(enterprise),
        "enterpriseName": draw(ODD_TEXT),
        "district": draw(st.sampled_from([d.value for d in District])),
        "occurredOn": draw(st.dates().map(lambda d: d.isoformat())),
        payload_type: payload,
    }


def line(event: dict[str, Any]) -> bytes:
    """An event as one JSONL line, UTF-8, non-ASCII characters as they are."""
    return json.dumps(event, ensure_ascii=False).encode()


# ---- hostile JSON ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """Bytes that must be refused, and the field the refusal must name (None: any field)."""

    raw: bytes
    field: str | None
    how: str


TEXT_FIELDS = ["eventId", "source", "enterpriseName", "certificationObtained.itemId",
               "certificationObtained.certificateId"]  # fmt: skip
BAD_DATES = ["2025-02-30", "2025-02-29", "0000-00-00", "99999-01-01", "2025-13-01", "2025-00-10",
             "2025-1-1", "20250101", "2025/01/01", "２０２５-01-01", "٢٠٢٥-٠١-٠١",
             "2025-01-01T00:00:00", "", " 2025-01-01"]  # fmt: skip
BAD_AMOUNTS: list[Any] = [2**63, 2**64, 10**30, -1, 0, -(2**63), 1e308, 1.5, 1.0, "12a", "",
                          " 1", "-5", "1e3", True, [], {}, "١٢٣", "１２"]  # fmt: skip
WRONG_TYPES: list[Any] = [0, 1.5, True, [], ["x"], {"a": 1}]
KNOWN_KEYS = {"eventId", "source", "enterpriseId", "enterpriseName", "district", "occurredOn",
              *PAYLOAD_TYPES}  # fmt: skip
# The JSON token json.dumps writes for these floats; they must be refused, not read.
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _cert(draw: st.DrawFn) -> dict[str, Any]:
    """A good event turned into a certificationObtained one."""
    event = {k: v for k, v in draw(good_events(1, "hostile-1")).items() if k not in PAYLOAD_TYPES}
    event["certificationObtained"] = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1",
                                      "certificateId": "C-1"}  # fmt: skip
    return event


def _set(event: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = event
    for p in parents:
        target = target.setdefault(p, {})
    target[last] = value


@st.composite
def hostile_events(draw: st.DrawFn, huge: tuple[int, int] = (300, 5_000)) -> Hostile:
    """A well-formed JSON object breaking the contract in one way; `huge` bounds the length of
    oversized strings."""
    event = _cert(draw)
    how = draw(st.sampled_from(["wrong_type", "huge", "control", "surrogate", "date", "amount",
                                "enum", "unknown_type", "missing", "extra", "odd_key",
                                "two_payloads", "check_char", "review", "non_finite"]))  # fmt: skip
    field: str | None
    if how == "wrong_type":
        field = draw(st.sampled_from([*TEXT_FIELDS, "district", "occurredOn", "enterpriseId"]))
        _set(event, field, draw(st.sampled_from(WRONG_TYPES)))
    elif how == "huge":
        field = draw(st.sampled_from(TEXT_FIELDS))
        unit = draw(ODD_TEXT)
        _set(event, field, unit * (draw(st.integers(*huge)) // len(unit) + 1))
    elif how == "control":
        field = draw(st.sampled_from(TEXT_FIELDS))
        bad = draw(
            st.sampled_from(["\x00", "\x1f", "\x7f", "\n", "\r", "\t", "\x1b[31m", *INVISIBLE])
        )
        _set(event, field, draw(ODD_TEXT) + bad + draw(ODD_TEXT))
    elif how == "surrogate":
        field = draw(st.sampled_from(TEXT_FIELDS))
        _set(event, field, "x" + draw(st.sampled_from(["\ud800", "\udfff", "\udbff"])))
        # ensure_ascii writes the lone surrogate as the JSON escape \udXXX.
        return Hostile(json.dumps(event).encode(), field, how)
    elif how == "date":
        field = "occurredOn"
        event[field] = draw(st.sampled_from(BAD_DATES))
    elif how == "amount":
        field = "computeInvoiceFiled.amountFen"
        del event["certificationObtained"]
        event["computeInvoiceFiled"] = {
            "itemId": "inv-1",
            "amountFen": draw(st.sampled_from(BAD_AMOUNTS) | st.integers(min_value=2**63)
                              | st.integers(max_value=0)),
        }  # fmt: skip
    elif how == "non_finite":
        field = "computeInvoiceFiled.modelParamsBillions"
        del event["certificationObtained"]
        value = _NON_FINITE[draw(st.sampled_from(sorted(_NON_FINITE)))]
        event["computeInvoiceFiled"] = {"itemId": "i", "amountFen": 1,
                                        "modelParamsBillions": value}  # fmt: skip
    elif how == "enum":
        field = draw(st.sampled_from(["district", "certificationObtained.kind"]))
        known = {d.value for d in District} | {k.value for k in CertificationKind}
        odd = st.sampled_from(["sip", "SIP ", "苏州工业园区", "KIND_UNSPECIFIED"])
        name = draw(st.text(max_size=20).filter(lambda s: s not in known) | st.integers() | odd)
        _set(event, field, name)
    elif how == "unknown_type":
        field = "payload"
        event["robotExploded"] = event.pop("certificationObtained")
    elif how == "missing":
        field = draw(st.sampled_from([*TEXT_FIELDS, "district", "occurredOn", "enterpriseId",
                                      "certificationObtained.kind"]))  # fmt: skip
        *parents, last = field.split(".")
        (event[parents[0]] if parents else event).pop(last)
    elif how == "extra":
        key = "junk" + draw(st.text(alphabet="abcXYZ_", max_size=8))
        field = draw(st.sampled_from([key, f"certificationObtained.{key}"]))
        junk: Any = draw(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                      lambda inner: st.lists(inner, max_size=3)
                                      | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                                      max_leaves=20))  # fmt: skip
        _set(event, field, junk)
    elif how == "odd_key":
        # The key is the sender's text: reported escaped and cut, so any field will do.
        field = None
        key = draw(st.sampled_from(["\x00", "\ud800", "k" * 100_000, "\u202e" * 3, "a.b", ""])
                   | st.text(min_size=1).filter(lambda k: k not in KNOWN_KEYS))  # fmt: skip
        event[key] = draw(st.sampled_from(WRONG_TYPES))
        return Hostile(json.dumps(event).encode(), field, how)
    elif how == "two_payloads":
        field = "payload"
        event["projectDesignated"] = {"itemId": "p-1"}
    elif how == "check_char":
        field = "enterpriseId"
        event[field] = draw(st.sampled_from([bad_check(7), enterprise_id(7).lower(),
                                             enterprise_id(7)[:-1], " " + enterprise_id(7),
                                             "9" * 18, ""]))  # fmt: skip
    else:
        field = "reviewDecided.approvedAmountFen"
        del event["certificationObtained"]
        event["reviewDecided"] = {"eventRef": "x", "ruleId": "m06.exhibition", "approved": True}
    return Hostile(line(event), field, how)


@st.composite
def undecodable(draw: st.DrawFn) -> Hostile:
    """Bytes that are no JSON object at all: the refusal names `event`."""
    good = line(draw(good_events(2, "undecodable-2")))
    how = draw(st.sampled_from(["binary", "truncated", "deep", "digits", "not_object",
                                "invalid_utf8"]))  # fmt: skip
    if how == "binary":
        # 0x80 can start no encoding json.loads detects, so this is never a JSON document.
        raw = b"\x80" + draw(st.binary(max_size=200))
    elif how == "truncated":
        raw = good[: draw(st.integers(0, len(good) - 1))]
    elif how == "deep":
        depth = draw(st.integers(5_000, 200_000))
        raw = draw(st.sampled_from([b"[", b'{"a":'])) * depth
    elif how == "digits":
        raw = b'{"eventId": ' + b"9" * draw(st.integers(5_000, 50_000)) + b"}"
    elif how == "not_object":
        raw = draw(st.sampled_from([b"null", b"[]", b'"text"', b"42", b"true", b"[{}]"]))
    else:
        cut = draw(st.integers(1, len(good) - 1))
        raw = (
            good[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + good[cut:]
        )
    return Hostile(raw, "event" if how != "invalid_utf8" else None, how)


def hostile_json(huge: tuple[int, int] = (300, 5_000)) -> st.SearchStrategy[Hostile]:
    """Any hostile JSON line."""
    return hostile_events(huge) | undecodable()


def clean(text: str, limit: int = 200) -> bool:
    """What an error may say about the input: short, printable (so no NUL, no lone surrogate,
    no bidi override), storable in PostgreSQL and a gRPC trailer."""
    return 0 < len(text) <= limit and text.isprintable()


# ---- hostile protobuf --------------------------------------------------------------------


@dataclass(frozen=True)
class HostileProto:
    """A protobuf event that decodes but breaks the contract, and the field to be named."""

    message: epb.EnterpriseEvent
    field: str
    how: str


@st.composite
def hostile_protos(draw: st.DrawFn, huge: tuple[int, int] = (300, 5_000)) -> HostileProto:
    """Out-of-range numbers, unknown enum numbers, bad text and dates, no payload."""
    m = json_format.ParseDict(_cert(draw), epb.EnterpriseEvent())
    cert = m.certification_obtained
    how = draw(st.sampled_from(["district", "kind", "amount", "stage", "control", "huge", "empty",
                                "date", "no_payload", "params", "service_year"]))  # fmt: skip
    int32 = st.integers(-(2**31), 2**31 - 1)
    if how == "district":
        m.district = epb.District.ValueType(
            draw(int32.filter(lambda n: n not in epb.District.values()))
        )
        field = "district"
    elif how == "kind":
        cert.kind = epb.CertificationKind.ValueType(
            draw(int32.filter(lambda n: n not in epb.CertificationKind.values()))
        )
        field = "certificationObtained.kind"
    elif how == "amount":
        cert.approved_amount_fen = draw(st.integers(-(2**63), 0))
        field = "certificationObtained.approvedAmountFen"
    elif how == "stage":
        cert.stage = draw(st.integers(-(2**31), 0))
        field = "certificationObtained.stage"
    elif how in ("control", "huge", "empty"):
        field = draw(st.sampled_from(["eventId", "source", "enterpriseName", "enterpriseId"]))
        unit = draw(ODD_TEXT)
        value = {"control": unit + draw(st.sampled_from(["\x00", "\x1f", "\x7f"])),
                 "huge": unit * (draw(st.integers(*huge)) // len(unit) + 1),
                 "empty": ""}[how]  # fmt: skip
        setattr(m, {"eventId": "event_id", "source": "source", "enterpriseName": "enterprise_name",
                    "enterpriseId": "enterprise_id"}[field], value)  # fmt: skip
    elif how == "date":
        m.occurred_on = draw(st.sampled_from(BAD_DATES[:-2]))  # not "": that is "empty"
        field = "occurredOn"
    elif how == "no_payload":
        m.ClearField("certification_obtained")
        field = "payload"
    elif how == "params":
        m.compute_invoice_filed.item_id = "inv-1"
        m.compute_invoice_filed.amount_fen = 100
        m.compute_invoice_filed.model_params_billions = draw(
            st.sampled_from([float("nan"), float("inf"), -1.0, 1e308, -1e-320])
        )
        field = "computeInvoiceFiled.modelParamsBillions"
    else:
        m.service_report_filed.item_id = "platform-1"
        m.service_report_filed.service_year = draw(int32.filter(lambda y: not 2000 <= y <= 2100))
        field = "serviceReportFiled.serviceYear"
    return HostileProto(m, field, how)


def undecodable_protobuf() -> st.SearchStrategy[bytes]:
    """Bytes no EnterpriseEvent validates from: noise, or a valid event cut short (its payload
    is serialised last, so any cut loses it or breaks its length)."""
    whole = st.builds(
        lambda n: json_format.ParseDict(
            {"eventId": f"cut-{n}", "source": "s", "enterpriseId": enterprise_id(9),
             "enterpriseName": "苏州", "district": "SIP", "occurredOn": "2025-07-01",
             "projectDesignated": {"itemId": "p"}},
            epb.EnterpriseEvent(),
        ).SerializeToString(deterministic=True),
        st.integers(0, 10**6),
    )  # fmt: skip
    truncated = whole.flatmap(lambda b: st.integers(0, len(b) - 1).map(lambda n: b[:n]))
    return st.binary(max_size=300) | truncated
