"""A catalog rule's schema: the keys it may hold, one validator per key, the Rule they build."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from subsidy.domain.enums import CertificationKind, District
from subsidy.domain.events import PAYLOAD_TYPES
from subsidy.domain.money import INT64_MAX, yuan_to_fen


class Award(StrEnum):
    """How a rule's amount is found (docs/rules.md, "Award kinds")."""

    CEILING = "ceiling"
    REVIEW = "review"
    RATE = "rate"
    REFERRED = "referred"
    RECORDED = "recorded"


class CatalogError(ValueError):
    """The catalog or an overlay is invalid; the message names the rule and key."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """Which events a rule reads: a payload type, and for some rules kinds or thresholds."""

    payload: str
    kinds: frozenset[CertificationKind] = frozenset()
    # 超百亿: strictly more than this many billion parameters.
    min_model_params_billions_exclusive: Decimal | None = None
    min_application_scenarios: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the catalog (docs/rules.md, "The rules"), resolved to fen and Decimal."""

    id: str
    measure: int
    title: str
    clause: str
    trigger: Trigger
    award: Award
    responsible_units: tuple[str, ...]
    rank: int
    ceiling_fen: int | None = None
    rate: Decimal | None = None
    annual_cap_fen: int | None = None
    item_cap_fen: int | None = None
    max_years: int | None = None
    humanoid_uplift: Decimal | None = None
    staged: bool = False
    second_review_from_fen: int | None = None
    # G3 as the payouts read it (docs/payouts.md): the unit whose fund pays (原渠道), the
    # city's share of a payment by district (财政体制; "default" for the rest), and the days an
    # award is on public notice (公示) before it may be paid, None for none.
    paying_unit: str = ""
    city_shares: tuple[tuple[str, Decimal], ...] = (("default", Decimal(1)),)
    publicity_days: int | None = None

    def city_share(self, district: str) -> Decimal:
        """The city's share of a payment to an enterprise of `district`."""
        shares = dict(self.city_shares)
        return shares.get(district, shares["default"])


@dataclass(frozen=True, slots=True)
class RuleDefaults:
    """What the policy gives every rule that gives none of its own."""

    second_review_from_fen: int | None = None
    city_shares: tuple[tuple[str, Decimal], ...] = (("default", Decimal(1)),)
    publicity_days: int | None = None  # for review awards


# ---- validators: each takes the field's label ("rule <id>: key '<key>'") and its raw value ----


def yuan_term(where: str, value: Any) -> int | None:
    """A term in whole yuan (a rule's or the policy's), as fen; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CatalogError(f"{where}: must be a positive whole number of yuan, got {value!r}")
    fen = yuan_to_fen(value)
    if fen > INT64_MAX:
        raise CatalogError(f"{where}: too large")
    return fen


def _fraction(where: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        # Through str so that a YAML float such as 0.2 becomes exactly Decimal("0.2").
        result = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(f"{where}: not a decimal number: {value!r}") from None
    if isinstance(value, bool) or not result.is_finite() or not 0 < result <= 1:
        raise CatalogError(f"{where}: must be a decimal in (0, 1], got {value!r}")
    return result


def city_shares(where: str, value: Any) -> tuple[tuple[str, Decimal], ...]:
    """A city share (a decimal in [0, 1]) or shares by district with a `default`."""
    raw = value if isinstance(value, dict) else {"default": value}
    if "default" not in raw:
        raise CatalogError(f"{where}: needs a 'default' share")
    shares = []
    for district, share in raw.items():
        if district != "default" and district not in District.__members__:
            raise CatalogError(f"{where}: unknown district {district!r}")
        try:
            exact = Decimal(str(share))
        except InvalidOperation:
            raise CatalogError(f"{where}.{district}: not a decimal number: {share!r}") from None
        if isinstance(share, bool) or not exact.is_finite() or not 0 <= exact <= 1:
            raise CatalogError(f"{where}.{district}: must be a decimal in [0, 1], got {share!r}")
        shares.append((str(district), exact))
    return tuple(sorted(shares))


def notice_days(where: str, value: Any) -> int | None:
    """Days on public notice: a whole number 1…60, or null for none."""
    if value is None:
        return None
    if not _is_int(value) or not 1 <= value <= 60:
        raise CatalogError(f"{where}: must be a whole number of days 1…60 or null, got {value!r}")
    return int(value)


def _is_int(value: Any) -> bool:
    # YAML's true/false are ints to Python, never a number in the catalog.
    return isinstance(value, int) and not isinstance(value, bool)


def _measure(where: str, value: Any) -> int:
    if not _is_int(value) or not 1 <= value <= 12:
        raise CatalogError(f"{where} must be 1…12, got {value!r}")
    return int(value)


def _award(where: str, value: Any) -> Award:
    try:
        return Award(value)
    except ValueError:
        raise CatalogError(
            f"{where} must be one of {[a.value for a in Award]}, got {value!r}"
        ) from None


def _max_years(where: str, value: Any) -> int | None:
    if value is not None and (not _is_int(value) or value < 1):
        raise CatalogError(f"{where} must be a positive integer")
    return None if value is None else int(value)


def _units(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
        raise CatalogError(f"{where} must be a list of names")
    return tuple(value)


def _text(where: str, value: Any) -> str:
    return str(value)


def _flag(where: str, value: Any) -> bool:
    return bool(value)


TRIGGER_KEYS = {
    "payload",
    "kinds",
    "min_model_params_billions_exclusive",
    "min_application_scenarios",
}


def _trigger(where: str, raw: Any) -> Trigger:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a mapping")
    for key in raw:
        if key not in TRIGGER_KEYS:
            raise CatalogError(f"{where}: unknown key {key!r}")
    payload = raw.get("payload")
    if payload not in PAYLOAD_TYPES:
        raise CatalogError(f"{where}.payload: unknown payload type {payload!r}")
    kinds = raw.get("kinds") or []
    try:
        kind_set = frozenset(CertificationKind(k) for k in kinds)
    except ValueError as err:
        raise CatalogError(f"{where}.kinds: {err}") from None
    if (payload == "certificationObtained") != bool(kind_set):
        raise CatalogError(f"{where}.kinds: needed for certificationObtained and only there")
    scenarios = raw.get("min_application_scenarios")
    if scenarios is not None and not _is_int(scenarios):
        raise CatalogError(f"{where}.min_application_scenarios: must be an integer")
    params = raw.get("min_model_params_billions_exclusive")
    try:
        threshold = None if params is None else Decimal(str(params))
    except InvalidOperation:
        raise CatalogError(f"{where}.min_model_params_billions_exclusive: not a number") from None
    return Trigger(payload, kind_set, threshold, scenarios)


# ---- the table ---------------------------------------------------------------------------


def _award_fits(where: str, given: dict[str, Any]) -> None:
    """The award kind against the amount keys it needs; records the kind as paid."""
    award: Award = given["award"]
    ceiling = given.get("ceiling_yuan")
    rate = given.get("rate")
    # A referred rule that the policy data gives an amount pays as a ceiling rule.
    if award is Award.REFERRED and ceiling is not None:
        award = given["award"] = Award.CEILING
    if award is Award.CEILING and ceiling is None:
        raise CatalogError(f"{where}: a ceiling rule needs key 'ceiling_yuan'")
    if award is Award.RATE and rate is None:
        raise CatalogError(f"{where}: a rate rule needs key 'rate'")
    if award is not Award.RATE and rate is not None:
        raise CatalogError(f"{where}: key 'rate' only fits a rate rule")


def _paying_unit_listed(where: str, given: dict[str, Any]) -> None:
    """原渠道: a rule pays from the fund of one of its responsible units."""
    unit = given.get("paying_unit")
    if unit is not None and unit not in given["responsible_units"]:
        raise CatalogError(f"{where}: key 'paying_unit' must be one of its responsible_units")


@dataclass(frozen=True, slots=True)
class Field:
    """How one key of a rule is read: its validator, and a check across keys to run once it
    is read (the check reads only keys read before it)."""

    validate: Callable[[str, Any], Any]
    overlay: bool = False  # may a policy overlay change it (docs/contract.md §3)?
    then: Callable[[str, dict[str, Any]], None] | None = None


# Every key a rule may hold, in the order they are checked (the first fault is the one named).
RULE_FIELDS: dict[str, Field] = {
    "id": Field(_text),
    "measure": Field(_measure),
    "title": Field(_text),
    "clause": Field(_text),
    "award": Field(_award, overlay=True),
    "ceiling_yuan": Field(yuan_term, overlay=True),
    "rate": Field(_fraction, overlay=True, then=_award_fits),
    "item_cap_yuan": Field(yuan_term, overlay=True),
    "max_years": Field(_max_years, overlay=True),
    "responsible_units": Field(_units),
    "trigger": Field(_trigger),
    "annual_cap_yuan": Field(yuan_term, overlay=True),
    "humanoid_uplift": Field(_fraction, overlay=True),
    "staged": Field(_flag),
    "second_review_from_yuan": Field(yuan_term, overlay=True),
    "paying_unit": Field(_text, overlay=True, then=_paying_unit_listed),
    "city_share": Field(city_shares, overlay=True),
    "publicity_days": Field(notice_days, overlay=True),
}
# Keys every rule must give, in the order a missing one is named.
REQUIRED_KEYS = ("measure", "title", "clause", "trigger", "award", "responsible_units")
OVERLAY_RULE_KEYS = frozenset(key for key, f in RULE_FIELDS.items() if f.overlay)
RULE_KEYS = frozenset(RULE_FIELDS)


def _fields(where: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Every key the rule gives, validated: unknown keys and missing required ones refused."""
    for key in raw:
        if key not in RULE_FIELDS:
            raise CatalogError(f"{where}: unknown key {key!r}")
    for key in REQUIRED_KEYS:
        if raw.get(key) in (None, "", []):
            raise CatalogError(f"{where}: key {key!r} is required")
    given: dict[str, Any] = {}
    for key, f in RULE_FIELDS.items():
        if key in raw:
            given[key] = f.validate(f"{where}: key {key!r}", raw[key])
        if f.then is not None:
            f.then(where, given)
    return given


def _item_cap(given: dict[str, Any]) -> int | None:
    """A "per item" cap (docs/rules.md, "The rules"): unless stated, a ceiling or review
    rule's item cap is its ceiling; an explicit null says the rule has no item cap."""
    if "item_cap_yuan" in given:
        cap: int | None = given["item_cap_yuan"]
        return cap
    return given.get("ceiling_yuan") if given["award"] in (Award.CEILING, Award.REVIEW) else None


def _publicity(given: dict[str, Any], default: int | None) -> int | None:
    """公示 (docs/payouts.md): a review award is on notice for the policy's days unless the
    rule says (null: none); other awards only when the rule says."""
    if "publicity_days" in given:
        days: int | None = given["publicity_days"]
        return days
    return default if given["award"] is Award.REVIEW else None


def _second_review(given: dict[str, Any], default: int | None) -> int | None:
    """Four eyes (docs/rules.md): from which approved amount a review rule needs a second
    reviewer; the policy's default unless the rule says, an explicit null never. Only a review
    rule's entitlements are approved by anyone."""
    if given["award"] is not Award.REVIEW:
        return None
    if "second_review_from_yuan" in given:
        threshold: int | None = given["second_review_from_yuan"]
        return threshold
    return default


def build_rule(raw: Any, rank: int, defaults: RuleDefaults = RuleDefaults()) -> Rule:
    """One raw rule of the catalog (the `rank`th) validated into a Rule; the policy's
    defaults (four eyes, city shares, public notice) apply where the rule gives none."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise CatalogError(f"rules[{rank}]: must be a mapping with an id")
    where = f"rule {raw['id']}"
    given = _fields(where, raw)
    return Rule(
        id=given["id"],
        measure=given["measure"],
        title=given["title"],
        clause=given["clause"],
        trigger=given["trigger"],
        award=given["award"],
        responsible_units=given["responsible_units"],
        rank=rank,
        ceiling_fen=given.get("ceiling_yuan"),
        rate=given.get("rate"),
        annual_cap_fen=given.get("annual_cap_yuan"),
        item_cap_fen=_item_cap(given),
        max_years=given.get("max_years"),
        humanoid_uplift=given.get("humanoid_uplift"),
        staged=given.get("staged", False),
        second_review_from_fen=_second_review(given, defaults.second_review_from_fen),
        paying_unit=given.get("paying_unit") or given["responsible_units"][0],
        city_shares=given.get("city_share", defaults.city_shares),
        publicity_days=_publicity(given, defaults.publicity_days),
    )
