"""Domain ↔ protobuf: events, evaluations (entitlements.v1) and decisions (decisions.v1)."""

# Events are validated by the one set of rules (the contract's models) for JSONL files, the ingest
# API and Kafka alike; protobuf events are read from their fields, not through JSON.

import json
from datetime import UTC, date, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from subsidy.contract.instants import timestamp
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Award
from subsidy.domain.entitlements import Entitlement, Reason, Status, TraceStep
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.event_fast import build_or_none
from subsidy.domain.events import (
    EnterpriseEvent,
    FieldError,
    InvalidEvent,
    complete,
    parse_event,
)
from subsidy.domain.ledger.records import AppealNote, CorrectionNote, Decision
from subsidy.events.v1 import events_pb2 as epb

_AWARD_TO_PB = {
    Award.CEILING: dpb.CEILING,
    Award.REVIEW: dpb.REVIEW,
    Award.RATE: dpb.RATE,
    Award.REFERRED: dpb.REFERRED_AWARD,
    Award.RECORDED: dpb.RECORDED_AWARD,
}
_AWARD_FROM_PB = {v: k for k, v in _AWARD_TO_PB.items()}


def event_to_proto(event: EnterpriseEvent, *, submitter: bool = False) -> epb.EnterpriseEvent:
    """A validated event as its protobuf message; with `submitter`, also who submitted it (a
    review the ledger keeps for later). Without, a submitter a client claimed is dropped: only
    the ingest API sets `submitted_by`, from the caller's credential."""
    message = json_format.ParseDict(event.to_json_dict(), epb.EnterpriseEvent())
    if submitter and event.submitted_by is not None:
        json_format.ParseDict(
            event.submitted_by.model_dump(by_alias=True, exclude_none=True),
            message.submitted_by,
        )
    return message


def event_from_proto(message: epb.EnterpriseEvent) -> EnterpriseEvent:
    """Validate a protobuf event with the same rules as JSON input (raises InvalidEvent). Its
    provenance is not content: the domain event carries it as `submitted_by`, unhashed.

    Read straight from the message's fields into the models' compiled rules (event_fast);
    only an event those do not vouch for goes through the JSON mapping and parse_event, the
    reference, which decides it and names every bad field."""
    event = build_or_none(EnterpriseEvent, _fields(message))
    if event is not None and complete(event):
        return event
    return parse_event(json_format.MessageToDict(message))


def _fields(message: Message) -> dict[str, Any]:
    """The fields a message carries, by JSON name, as the JSON mapping would list them (set
    fields only: proto3 leaves out defaults; an `optional` one set to 0 is set), with Python
    values: an enum by name, a Timestamp as RFC 3339, a message as its own fields. An int64
    stays an int (the mapping writes a string, which the fen rule reads as the same int); a
    float that is not finite is left as it is, for the reference to refuse."""
    found: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.full_name == "google.protobuf.Timestamp":
                found[field.json_name] = value.ToJsonString()
            else:
                found[field.json_name] = _fields(value)
        elif field.type == field.TYPE_ENUM:
            assert field.enum_type is not None
            known = field.enum_type.values_by_number.get(value)
            found[field.json_name] = value if known is None else known.name
        else:
            found[field.json_name] = value
    return found


def provenance_of(message: epb.EnterpriseEvent) -> epb.Provenance | None:
    """Who submitted the event, as the ingest API recorded it (None if it carries none)."""
    return message.submitted_by if message.HasField("submitted_by") else None


def provenance_json(provenance: epb.Provenance | None) -> str | None:
    """A provenance in the contract's JSON mapping (as the ledger stores it), or None."""
    if provenance is None:
        return None
    # What json_format.MessageToJson(indent=None, sort_keys=True) writes, at a third of its
    # cost (the ledger writes one per event): keys in sorted order, unset fields left out.
    # tests/contract/test_provenance_json.py holds the two equal for any provenance.
    fields: dict[str, str] = {}
    if provenance.accepted_at:
        fields["acceptedAt"] = provenance.accepted_at
    if provenance.HasField("accepted_time"):
        fields["acceptedTime"] = provenance.accepted_time.ToJsonString()
    if provenance.channel:
        fields["channel"] = epb.SubmissionChannel.Name(provenance.channel)
    if provenance.principal:
        fields["principal"] = provenance.principal
    return json.dumps(fields)


def decode_event(data: bytes) -> EnterpriseEvent:
    """Bytes from Kafka to a validated event; undecodable bytes are an InvalidEvent too."""
    message = epb.EnterpriseEvent()
    try:
        message.ParseFromString(data)
    except DecodeError as err:
        raise InvalidEvent([FieldError("event", f"undecodable protobuf: {err}")]) from None
    return event_from_proto(message)


def _day(day: date | None) -> str:
    """A date as YYYY-MM-DD, or empty for none."""
    return "" if day is None else day.isoformat()


# An entitlement's optional terms: unset in the message when the rule has none.
TERMS = ("ceiling_fen", "annual_cap_fen", "item_cap_fen", "max_years", "second_review_from_fen")


def entitlement_to_proto(e: Entitlement) -> dpb.Entitlement:
    """An entitlement, its limits and its trace."""
    m = dpb.Entitlement(
        entitlement_id=e.entitlement_id,
        event_id=e.event_id,
        enterprise_id=e.enterprise_id,
        rule_id=e.rule_id,
        item_id=e.item_id,
        year=e.year,
        occurred_on=e.occurred_on.isoformat(),
        measure=e.measure,
        award=_AWARD_TO_PB[e.award],
        status=dpb.Status.Value(e.status.value),
        reasons=[dpb.Reason.Value(r.value) for r in e.reasons],
        entitled_fen=e.entitled_fen,
        stage=e.stage,
        funding_channels=list(e.funding_channels),
        clause=e.clause,
        catalog_version=e.catalog_version,
        trace=[
            dpb.TraceStep(key=t.key, label_zh=t.label_zh, label_en=t.label_en, value=t.value)
            for t in e.trace
        ],
        catalog_rank=e.catalog_rank,
        valid_from=e.valid_from.isoformat(),
        valid_to=e.valid_to.isoformat(),
        version_from=_day(e.version_from),
        version_to=_day(e.version_to),
    )
    for name in TERMS:
        value = getattr(e, name)
        if value is not None:
            setattr(m, name, value)
    return m


def entitlement_from_proto(m: dpb.Entitlement) -> Entitlement:
    """The inverse of entitlement_to_proto."""
    return Entitlement(
        entitlement_id=m.entitlement_id,
        event_id=m.event_id,
        enterprise_id=m.enterprise_id,
        rule_id=m.rule_id,
        item_id=m.item_id,
        occurred_on=date.fromisoformat(m.occurred_on),
        measure=m.measure,
        award=_AWARD_FROM_PB[m.award],
        status=Status(dpb.Status.Name(m.status)),
        entitled_fen=m.entitled_fen,
        catalog_rank=m.catalog_rank,
        catalog_version=m.catalog_version,
        clause=m.clause,
        funding_channels=tuple(m.funding_channels),
        valid_from=date.fromisoformat(m.valid_from),
        valid_to=date.fromisoformat(m.valid_to),
        reasons=tuple(Reason(dpb.Reason.Name(r)) for r in m.reasons),
        stage=m.stage,
        ceiling_fen=m.ceiling_fen if m.HasField("ceiling_fen") else None,
        annual_cap_fen=m.annual_cap_fen if m.HasField("annual_cap_fen") else None,
        item_cap_fen=m.item_cap_fen if m.HasField("item_cap_fen") else None,
        max_years=m.max_years if m.HasField("max_years") else None,
        second_review_from_fen=(
            m.second_review_from_fen if m.HasField("second_review_from_fen") else None
        ),
        version_from=date.fromisoformat(m.version_from) if m.version_from else None,
        version_to=date.fromisoformat(m.version_to) if m.version_to else None,
        trace=tuple(TraceStep(t.key, t.label_zh, t.label_en, t.value) for t in m.trace),
    )


def evaluation_to_proto(ev: Evaluation, event_bytes: bytes | None = None) -> dpb.Evaluation:
    """What eligibility publishes on entitlements.v1 for one event. `event_bytes`: the event's
    protobuf as it came off Kafka, which was just decoded and validated into `ev.event`; it is
    carried as it came (the ledger decodes it the same way) instead of encoded again through
    the JSON mapping, which cost a seventh of the eligibility worker's time."""
    m = dpb.Evaluation(
        entitlements=[entitlement_to_proto(e) for e in ev.entitlements],
        catalog_version=ev.catalog_version,
        event_hash=ev.event.content_hash(),
    )
    if event_bytes is None:
        m.event.CopyFrom(event_to_proto(ev.event, submitter=True))
    else:
        m.event.ParseFromString(event_bytes)
    return m


def evaluation_from_proto(m: dpb.Evaluation) -> tuple[Evaluation, str]:
    """An evaluation and the event's content hash, as the ledger consumes them."""
    event = event_from_proto(m.event)
    entitlements = tuple(entitlement_from_proto(e) for e in m.entitlements)
    return Evaluation(event, entitlements, m.catalog_version), m.event_hash


def correction_to_proto(note: CorrectionNote) -> dpb.Correction:
    """Why a decision was made again: the correction or retraction, and what it replaced (an
    entitlement the correction created had no status before: STATUS_UNSPECIFIED)."""
    return dpb.Correction(
        event_id=note.event_id,
        revision=note.revision,
        reason=note.reason,
        retracted_by=note.retracted_by or "",
        previous_status=(
            dpb.STATUS_UNSPECIFIED
            if note.previous_status is None
            else dpb.Status.Value(note.previous_status.value)
        ),
        previous_granted_fen=note.previous_granted_fen,
    )


def decision_to_proto(d: Decision, decided_at: datetime | None = None) -> dpb.Decision:
    """A decision as published on decisions.v1; `correction` is set only on one a correction or
    a retraction brought about, `appeal` only on one an upheld appeal brought about. Its time
    goes in both `decided_time` and the deprecated `decided_at` string (until v2.0.0)."""
    e = d.state_ent
    moment = decided_at or datetime.now(UTC)
    return dpb.Decision(
        decision_id=d.decision_id,
        entitlement_id=e.entitlement_id,
        event_id=e.event_id,
        enterprise_id=e.enterprise_id,
        enterprise_name=d.enterprise_name,
        district=epb.District.Value(d.district) if d.district else epb.DISTRICT_UNSPECIFIED,
        rule_id=e.rule_id,
        measure=e.measure,
        item_id=e.item_id,
        year=e.year,
        status=dpb.Status.Value(d.status.value),
        reasons=[dpb.Reason.Value(r.value) for r in d.reasons],
        entitled_fen=d.entitled_fen,
        granted_fen=d.granted_fen,
        cash_delta_fen=d.cash_delta_fen,
        clawback_fen=d.clawback_fen,
        revision=d.revision,
        caused_by_event_id=d.caused_by_event_id,
        funding_channels=list(e.funding_channels),
        clause=e.clause,
        catalog_version=e.catalog_version,
        decided_at=moment.isoformat(),
        decided_time=timestamp(moment),
        version_from=_day(e.version_from),
        version_to=_day(e.version_to),
        correction=None if d.correction is None else correction_to_proto(d.correction),
        appeal=None if d.appeal is None else appeal_to_proto(d.appeal),
    )


def appeal_to_proto(note: AppealNote) -> dpb.AppealCause:
    """The upheld appeal that reopened an entitlement for review."""
    return dpb.AppealCause(
        appeal_ref=note.appeal_ref, upheld=True, reason=note.reason, decided_by=note.decided_by
    )
