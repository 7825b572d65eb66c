"""Enterprise events (docs/contract.md §1), validated field by field, errors naming the field."""

import contextlib
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from subsidy.domain.appeal_events import AppealDecided as AppealDecided
from subsidy.domain.appeal_events import AppealFiled as AppealFiled
from subsidy.domain.canonical import canonical_json
from subsidy.domain.enums import CertificationKind, District, StandardLevel, StandardRole
from subsidy.domain.event_fast import parse_json_or_none
from subsidy.domain.fields import (
    AccountNumber,
    CalendarDate,
    ContractModel,
    Fen,
    Id,
    NonNegative,
    Positive,
    SayingText,
    Text,
)

# Re-exported: the services and the notifier take these from the events' module.
from subsidy.domain.fields import EnterpriseId as EnterpriseId
from subsidy.domain.fields import visible_text as visible_text
from subsidy.domain.submitter import Submitter


class CertificationObtained(ContractModel):
    """A certification or recognition: a lab, a product, a title…"""

    kind: CertificationKind
    item_id: Id
    certificate_id: Id
    stage: Positive | None = None
    humanoid: StrictBool | None = None
    approved_amount_fen: Fen | None = None


class ComputeInvoiceFiled(ContractModel):
    """An AI compute invoice paid."""

    item_id: Id
    amount_fen: Fen
    model_params_billions: Annotated[float, Field(ge=0, le=1e9)] | None = None
    application_scenarios: NonNegative | None = None


class StandardPublished(ContractModel):
    """A standard the enterprise led or took part in."""

    item_id: Id
    level: StandardLevel
    role: StandardRole


class ExhibitionHeld(ContractModel):
    """A professional exhibition or national-level event held in Suzhou."""

    item_id: Id
    approved_amount_fen: Fen | None = None


class ServiceReportFiled(ContractModel):
    """A public service platform's report on last year's service."""

    item_id: Id
    service_year: Annotated[StrictInt, Field(ge=2000, le=2100)]
    approved_amount_fen: Fen | None = None


class ProjectDesignated(ContractModel):
    """A major project designated."""

    item_id: Id


class CapacityInvestmentFiled(ContractModel):
    """A capacity expansion investment filed."""

    item_id: Id
    investment_fen: Fen


class ReviewDecided(ContractModel):
    """A review decision on an entitlement that awaited one."""

    event_ref: Id
    rule_id: Id
    approved: StrictBool
    approved_amount_fen: Fen | None = None
    reason: Text | None = None  # why, as the reviewer wrote it


class CertificationRevoked(ContractModel):
    """A certification withdrawn: every grant on the item is reversed."""

    item_id: Id
    reason: Text


class OtherSupportReceived(ContractModel):
    """Support for an item from another city programme (counts for 就高不重复)."""

    item_id: Id
    program: Text
    amount_fen: Fen


class PayeeAccountRegistered(ContractModel):
    """The bank account payouts go to (收款账户); it replaces the previous one from now on."""

    bank_name: SayingText
    account_number: AccountNumber
    # Must be the event's enterpriseName exactly: checked by parse_event (_account_name).
    account_name: Text


class ObjectionFiled(ContractModel):
    """An objection (异议) raised during a public notice (公示) against an entitlement."""

    event_ref: Id
    rule_id: Id
    reason: SayingText


class EventRetracted(ContractModel):
    """An earlier event of the same enterprise withdrawn, as if it had never been sent."""

    event_ref: Id
    reason: SayingText


Payload = (
    CertificationObtained
    | ComputeInvoiceFiled
    | StandardPublished
    | ExhibitionHeld
    | ServiceReportFiled
    | ProjectDesignated
    | CapacityInvestmentFiled
    | ReviewDecided
    | CertificationRevoked
    | OtherSupportReceived
    | PayeeAccountRegistered
    | ObjectionFiled
    | EventRetracted
    | AppealFiled
    | AppealDecided
)

PayloadType = Literal[
    "certificationObtained",
    "computeInvoiceFiled",
    "standardPublished",
    "exhibitionHeld",
    "serviceReportFiled",
    "projectDesignated",
    "capacityInvestmentFiled",
    "reviewDecided",
    "certificationRevoked",
    "otherSupportReceived",
    "payeeAccountRegistered",
    "objectionFiled",
    "eventRetracted",
    "appealFiled",
    "appealDecided",
]

PAYLOAD_TYPES: tuple[PayloadType, ...] = PayloadType.__args__  # type: ignore[attr-defined]

# Payloads that create no entitlement of their own: the ledger takes them (docs/contract.md §2).
# They are the types listed from reviewDecided on: a review, a revocation and other support
# change existing entitlements; a payee account, an objection and an appeal are recorded (an
# appeal upheld may reopen an entitlement a review rejected); a retraction withdraws an event.
LEDGER_PAYLOADS: frozenset[str] = frozenset(PAYLOAD_TYPES[PAYLOAD_TYPES.index("reviewDecided") :])

# What a correction's revision may be: 1 is the original (absent on the wire and in the hash).
Revision = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]


class EnterpriseEvent(ContractModel):
    """One fact about one enterprise; `eventId` is its idempotency key."""

    event_id: Id
    source: Text
    enterprise_id: EnterpriseId
    enterprise_name: Text
    district: District
    occurred_on: CalendarDate
    # A correction: the same eventId again with a higher revision and its reason replaces the
    # content sent before (docs/contract.md §1, Corrections). None is revision 1, the original.
    revision: Revision | None = None
    correction_reason: SayingText | None = None
    certification_obtained: CertificationObtained | None = None
    compute_invoice_filed: ComputeInvoiceFiled | None = None
    standard_published: StandardPublished | None = None
    exhibition_held: ExhibitionHeld | None = None
    service_report_filed: ServiceReportFiled | None = None
    project_designated: ProjectDesignated | None = None
    capacity_investment_filed: CapacityInvestmentFiled | None = None
    review_decided: ReviewDecided | None = None
    certification_revoked: CertificationRevoked | None = None
    other_support_received: OtherSupportReceived | None = None
    payee_account_registered: PayeeAccountRegistered | None = None
    objection_filed: ObjectionFiled | None = None
    event_retracted: EventRetracted | None = None
    appeal_filed: AppealFiled | None = None
    appeal_decided: AppealDecided | None = None
    # Who submitted it (docs/security.md, Provenance): not content, so never hashed or dumped.
    submitted_by: Submitter | None = Field(default=None, exclude=True)

    @field_validator("revision")
    @classmethod
    def _original_is_absent(cls, value: int | None) -> int | None:
        """Revision 1 is the original as sent without one: the same content, the same hash."""
        return None if value == 1 else value

    @property
    def revision_number(self) -> int:
        """Which revision of the event this is: 1 for the original."""
        return self.revision or 1

    @functools.cached_property
    def payload_type(self) -> PayloadType:
        """The camelCase name of the one payload this event carries."""
        for name in PAYLOAD_TYPES:
            if getattr(self, _SNAKE[name]) is not None:
                return name
        raise AssertionError("validated events carry exactly one payload")

    @functools.cached_property
    def payload(self) -> Payload:
        """The one payload this event carries."""
        return getattr(self, _SNAKE[self.payload_type])  # type: ignore[no-any-return]

    def to_json_dict(self) -> dict[str, Any]:
        """The event in the contract's JSON shape (camelCase, absent fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON (pydantic's dump: fields in the model's order, values
        normalised): equal iff the content is equal, whatever the spelling."""
        return hashlib.sha256(canonical_json(self)).hexdigest()


def optional_field(payload: Payload, name: str) -> Any:
    """A field only some payload types have, or None. Not getattr(payload, name, None): on a
    model a missing attribute costs __getattr__ and an exception; fields sit in __dict__."""
    return payload.__dict__.get(name)


# camelCase payload name → model attribute.
_SNAKE: dict[str, str] = {
    to_camel(f): f for f in EnterpriseEvent.model_fields if to_camel(f) in PAYLOAD_TYPES
}
_PAYLOAD_ATTRS = frozenset(_SNAKE.values())
_CAMEL = {attr: name for name, attr in _SNAKE.items()}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, named by its JSON path (e.g. `certificationObtained.kind`)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidEvent(ValueError):
    """An event that breaks the contract, with one error per bad field."""

    def __init__(self, errors: list[FieldError], event_id: str | None = None) -> None:
        self.errors = errors
        self.event_id = event_id
        super().__init__("; ".join(str(e) for e in errors))


# Error fields and ids are stored, logged and sent in gRPC trailers (8 KB): a bad key or id is
# the sender's text (NUL, surrogates, megabytes), so shown escaped and cut, MAX_ERRORS at most.
MAX_ERRORS = 40
_SHOWN = 64


def _shown(part: object) -> str:
    text = str(part)
    if 0 < len(text) <= _SHOWN and text.isprintable():
        return text
    text = ascii(text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _reported_id(value: object) -> str | None:
    """An eventId as rejections report it: None unless it is itself a valid id."""
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        return None
    try:
        return visible_text(value)
    except ValueError:
        return None


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(_shown(part) for part in loc) or "event"


def parse_event(data: object) -> EnterpriseEvent:
    """Validate one decoded JSON object against the contract; raise InvalidEvent listing every
    bad field."""
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError("event", "must be a JSON object")])
    # An empty, non-string or itself invalid id is no id: rejections report it as null.
    event_id = _reported_id(data.get("eventId"))
    errors: list[FieldError] = []
    present = [name for name in PAYLOAD_TYPES if data.get(name) is not None]
    if not present:
        errors.append(
            FieldError("payload", f"no payload: exactly one of {', '.join(PAYLOAD_TYPES)}")
        )
    elif len(present) > 1:
        errors.append(FieldError("payload", f"more than one payload: {', '.join(present)}"))
    try:
        event = EnterpriseEvent.model_validate(data)
    except ValidationError as err:
        for e in err.errors(include_url=False):
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown field"
            errors.append(FieldError(_field_path(e["loc"]), msg))
        if len(errors) > MAX_ERRORS:
            more = FieldError("event", f"and {len(errors) - MAX_ERRORS + 1} more errors")
            errors = [*errors[: MAX_ERRORS - 1], more]
        raise InvalidEvent(errors, event_id) from None
    errors.extend(_across_fields(event))
    if errors:
        raise InvalidEvent(errors, event_id)
    return event


# The one payee whose account payouts may go to is the enterprise itself.
ACCOUNT_NAME_MISMATCH = "户名与企业名称不一致 / account name does not match enterpriseName"


def _across_fields(event: EnterpriseEvent) -> list[FieldError]:
    """The checks one field alone cannot make: a correction's reason, an approval's amount, a
    payee's account name."""
    if event.revision is not None and event.correction_reason is None:
        return [
            FieldError("correctionReason", "更正须说明原因 / required when revision is above 1")
        ]
    if event.revision is None and event.correction_reason is not None:
        return [FieldError("correctionReason", "only a correction (revision above 1) has one")]
    if event.revision is not None and event.event_retracted is not None:
        return [FieldError("revision", "a retraction is not corrected: retract it instead")]
    review = event.review_decided
    if review is not None and review.approved and review.approved_amount_fen is None:
        return [FieldError("reviewDecided.approvedAmountFen", "required when approved")]
    payee = event.payee_account_registered
    if payee is not None and payee.account_name != event.enterprise_name:
        return [FieldError("payeeAccountRegistered.accountName", ACCOUNT_NAME_MISMATCH)]
    return []


def complete(event: EnterpriseEvent) -> bool:
    """The checks the model leaves to parse_event: one payload, those across fields. Only the
    fields the input named can hold a payload. A complete event's payload and payload_type are
    kept as cached_property would (its first read takes a lock: dearer than all this)."""
    given = [a for a in event.model_fields_set & _PAYLOAD_ATTRS if getattr(event, a) is not None]
    if len(given) != 1 or _across_fields(event):
        return False
    event.__dict__.update(payload=getattr(event, given[0]), payload_type=_CAMEL[given[0]])
    return True


def parse_event_json(line: str | bytes) -> EnterpriseEvent:
    """Validate one JSONL line. Good lines take event_fast (the models' rules, compiled), else
    pydantic's JSON parser (both several times faster than parse_event); anything else goes
    through parse_event, so every error is reported the same way."""
    event = parse_json_or_none(EnterpriseEvent, line)
    if event is None:
        with contextlib.suppress(ValidationError):
            event = EnterpriseEvent.model_validate_json(line)
    if event is not None and complete(event):
        return event
    try:
        # UTF-8 only, as the contract says: json.loads would also take UTF-16 and UTF-32 bytes.
        data = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
    # ValueError: also bad UTF-8 and integers past 4300 digits; RecursionError: deep nesting.
    except (ValueError, RecursionError) as err:
        raise InvalidEvent([FieldError("event", f"not valid JSON: {err}")]) from None
    return parse_event(data)
