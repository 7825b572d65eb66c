"""Enterprise events (docs/contract.md §1), validated field by field, errors naming the field."""

import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from subsidy.domain.enums import CertificationKind, District, StandardLevel, StandardRole
from subsidy.domain.money import INT64_MAX
from subsidy.domain.submitter import Submitter

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"[0-9]+")


def _fen(value: object) -> int:
    """An amount in fen: a JSON integer or a string of digits, positive, within int64."""
    if isinstance(value, bool):
        raise ValueError("must be an integer number of fen, not a boolean")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a positive integer number of fen (digits only)")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("must be an integer number of fen")
    if value <= 0:
        raise ValueError("must be positive")
    if value > INT64_MAX:
        raise ValueError(f"must be at most {INT64_MAX}")
    return value


def _calendar_date(value: object) -> date:
    """`YYYY-MM-DD` naming a real calendar day."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a real calendar date") from None


# Feeds repeat the same enterprises over and over and stdnum's check is costly, so remember.
@functools.lru_cache(maxsize=65_536)
def _enterprise_id(value: str) -> str:
    """统一社会信用代码 (GB 32100-2015): 18 characters whose check character verifies."""
    if uscc.compact(value) != value:
        raise ValueError("must be 18 characters, digits and upper-case letters, no spaces")
    try:
        return str(uscc.validate(value))
    except StdnumError as err:
        raise ValueError(f"not a valid 统一社会信用代码: {err}") from None


# Text fields: bounded, and free of control characters (they end up in logs, mail and CSV)
# and of invisible ones that make a name read as something else: bidi overrides and isolates,
# zero-width characters, the BOM (all Cf), lone surrogates and line separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible_text(value: str) -> str:
    """Text a person reads as it is: no control or invisible formatting characters."""
    if value.isprintable():  # the common case; only other spaces, Co and Cn look closer
        return value
    for position, char in enumerate(value, 1):
        if unicodedata.category(char) in _HIDDEN:
            name = unicodedata.name(char, "(a control character)")
            raise ValueError(
                "must not contain control or invisible characters (bidi controls, zero-width"
                f" characters): U+{ord(char):04X} {name} at character {position}"
            )
    return value


_VISIBLE = AfterValidator(visible_text)
Id = Annotated[str, Field(min_length=1, max_length=128, strict=True), _VISIBLE]
Text = Annotated[str, Field(min_length=1, max_length=256, strict=True), _VISIBLE]
Fen = Annotated[int, BeforeValidator(_fen)]
EnterpriseId = Annotated[str, Field(strict=True), AfterValidator(_enterprise_id)]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
Positive = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
NonNegative = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


class _Model(BaseModel):
    """Contract models: camelCase on the wire, unknown fields rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )


class CertificationObtained(_Model):
    """A certification or recognition: a lab, a product, a title…"""

    kind: CertificationKind
    item_id: Id
    certificate_id: Id
    stage: Positive | None = None
    humanoid: StrictBool | None = None
    approved_amount_fen: Fen | None = None


class ComputeInvoiceFiled(_Model):
    """An AI compute invoice paid."""

    item_id: Id
    amount_fen: Fen
    model_params_billions: Annotated[float, Field(ge=0, le=1e9)] | None = None
    application_scenarios: NonNegative | None = None


class StandardPublished(_Model):
    """A standard the enterprise led or took part in."""

    item_id: Id
    level: StandardLevel
    role: StandardRole


class ExhibitionHeld(_Model):
    """A professional exhibition or national-level event held in Suzhou."""

    item_id: Id
    approved_amount_fen: Fen | None = None


class ServiceReportFiled(_Model):
    """A public service platform's report on last year's service."""

    item_id: Id
    service_year: Annotated[StrictInt, Field(ge=2000, le=2100)]
    approved_amount_fen: Fen | None = None


class ProjectDesignated(_Model):
    """A major project designated."""

    item_id: Id


class CapacityInvestmentFiled(_Model):
    """A capacity expansion investment filed."""

    item_id: Id
    investment_fen: Fen


class ReviewDecided(_Model):
    """A review decision on an entitlement that awaited one."""

    event_ref: Id
    rule_id: Id
    approved: StrictBool
    approved_amount_fen: Fen | None = None


class CertificationRevoked(_Model):
    """A certification withdrawn: every grant on the item is reversed."""

    item_id: Id
    reason: Text


class OtherSupportReceived(_Model):
    """Support for an item from another city programme (counts for 就高不重复)."""

    item_id: Id
    program: Text
    amount_fen: Fen


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
]

PAYLOAD_TYPES: tuple[PayloadType, ...] = PayloadType.__args__  # type: ignore[attr-defined]

# Payloads that create no entitlement of their own: they change existing ones (docs/contract.md §2).
LEDGER_PAYLOADS: frozenset[str] = frozenset(
    {"reviewDecided", "certificationRevoked", "otherSupportReceived"}
)


class EnterpriseEvent(_Model):
    """One fact about one enterprise; `eventId` is its idempotency key."""

    event_id: Id
    source: Text
    enterprise_id: EnterpriseId
    enterprise_name: Text
    district: District
    occurred_on: CalendarDate
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
    # Who submitted it (docs/security.md, Provenance): not content, so never hashed or dumped.
    submitted_by: Submitter | None = Field(default=None, exclude=True)

    @functools.cached_property
    def payload_type(self) -> PayloadType:
        """The camelCase name of the one payload this event carries."""
        for name in PAYLOAD_TYPES:
            if getattr(self, _SNAKE[name]) is not None:
                return name
        raise AssertionError("validated events carry exactly one payload")

    @property
    def payload(self) -> Payload:
        """The one payload this event carries."""
        return getattr(self, _SNAKE[self.payload_type])  # type: ignore[no-any-return]

    def to_json_dict(self) -> dict[str, Any]:
        """The event in the contract's JSON shape (camelCase, absent fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: equal iff the content is equal, whatever the spelling.
        Canonical because pydantic writes fields in the model's order, values normalised."""
        canonical = self.model_dump_json(by_alias=True, exclude_none=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def optional_field(payload: Payload, name: str) -> Any:
    """A field only some payload types have, or None. Not getattr(payload, name, None): on a
    pydantic model a missing attribute goes through __getattr__ and an exception, costly on
    the hot path; validated fields all sit in the instance's __dict__."""
    return payload.__dict__.get(name)


# camelCase payload name → model attribute.
_SNAKE: dict[str, str] = {
    to_camel(f): f for f in EnterpriseEvent.model_fields if to_camel(f) in PAYLOAD_TYPES
}
_PAYLOAD_ATTRS = frozenset(_SNAKE.values())


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
    review = event.review_decided
    if review is not None and review.approved and review.approved_amount_fen is None:
        errors.append(FieldError("reviewDecided.approvedAmountFen", "required when approved"))
    if errors:
        raise InvalidEvent(errors, event_id)
    return event


def _complete(event: EnterpriseEvent) -> bool:
    """The checks the model itself leaves to parse_event: one payload, a review's amount."""
    # Only the fields the input named can hold a payload: a set intersection, not ten getattrs.
    named = event.model_fields_set & _PAYLOAD_ATTRS
    if sum(getattr(event, attr) is not None for attr in named) != 1:
        return False
    review = event.review_decided
    return review is None or not review.approved or review.approved_amount_fen is not None


def parse_event_json(line: str | bytes) -> EnterpriseEvent:
    """Validate one JSONL line. Good lines take pydantic's JSON parser (several times faster);
    anything else goes through parse_event, so every error is reported the same way."""
    try:
        event = EnterpriseEvent.model_validate_json(line)
    except ValidationError:
        pass
    else:
        if _complete(event):
            return event
    try:
        # UTF-8 only, as the contract says: json.loads would also take UTF-16 and UTF-32 bytes.
        data = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
    # ValueError: also bad UTF-8 and integers past 4300 digits; RecursionError: deep nesting.
    except (ValueError, RecursionError) as err:
        raise InvalidEvent([FieldError("event", f"not valid JSON: {err}")]) from None
    return parse_event(data)
