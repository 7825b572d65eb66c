"""The policy catalog as data: rules with their clauses, caps and triggers; overlays; versioning."""

import hashlib
import json
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from subsidy.domain import dated
from subsidy.domain.enums import CertificationKind
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


@dataclass(frozen=True, slots=True)
class Catalog:
    """The policy: validity window, rules in catalog order, and a content version. A policy
    whose terms change on dates holds one Catalog per version in `versions`, each in force over
    [effective_from, effective_to]; `at(day)` is the one an event of that day is judged by. The
    policy itself then reads as its first version, with the whole document's hash as version."""

    policy_id: str
    title: str
    valid_from: date
    valid_to: date
    global_clauses: Mapping[str, str]
    rules: tuple[Rule, ...]
    version: str
    effective_from: date = date.min
    effective_to: date = date.max
    versions: tuple["Catalog", ...] = ()
    _by_trigger: Mapping[tuple[str, str | None], tuple[Rule, ...]] = field(
        repr=False, default_factory=dict
    )

    def at(self, day: date) -> "Catalog":
        """The version in force on `day`."""
        if not self.versions:
            return self
        starts = [v.effective_from for v in self.versions]
        return self.versions[max(0, bisect_right(starts, day) - 1)]

    @property
    def timeline(self) -> tuple["Catalog", ...]:
        """Every version, first to last (the policy alone when its terms never change)."""
        return self.versions or (self,)

    def holds(self, version: str) -> bool:
        """Is `version` one of this policy's versions?"""
        return any(v.version == version for v in self.timeline)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; KeyError if there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def rules_for(self, payload_type: str, kind: str | None = None) -> tuple[Rule, ...]:
        """Rules a payload type (and, for certifications, a kind) may trigger, in catalog
        order."""
        return self._by_trigger.get((payload_type, kind), ())


TRIGGER_KEYS = {
    "payload",
    "kinds",
    "min_model_params_billions_exclusive",
    "min_application_scenarios",
}
OVERLAY_RULE_KEYS = frozenset(
    {
        "award",
        "ceiling_yuan",
        "rate",
        "annual_cap_yuan",
        "item_cap_yuan",
        "max_years",
        "humanoid_uplift",
    }
)
# What a rule in the catalog may say: the keys an overlay may change, and the rest.
RULE_KEYS = OVERLAY_RULE_KEYS | {
    "id",
    "measure",
    "title",
    "clause",
    "trigger",
    "responsible_units",
    "staged",
}
OVERLAY_KEYS = ("effective_from", "valid_from", "valid_to", "rules")


def _yuan(where: str, value: Any) -> int | None:
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


def _date(where: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CatalogError(f"{where}: not a date YYYY-MM-DD: {value!r}") from None


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
    if scenarios is not None and (isinstance(scenarios, bool) or not isinstance(scenarios, int)):
        raise CatalogError(f"{where}.min_application_scenarios: must be an integer")
    params = raw.get("min_model_params_billions_exclusive")
    try:
        threshold = None if params is None else Decimal(str(params))
    except InvalidOperation:
        raise CatalogError(f"{where}.min_model_params_billions_exclusive: not a number") from None
    return Trigger(payload, kind_set, threshold, scenarios)


def _rule(raw: Any, rank: int) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise CatalogError(f"rules[{rank}]: must be a mapping with an id")
    rid = raw["id"]
    where = f"rule {rid}"
    for key in raw:
        if key not in RULE_KEYS:
            raise CatalogError(f"{where}: unknown key {key!r}")
    for key in ("measure", "title", "clause", "trigger", "award", "responsible_units"):
        if raw.get(key) in (None, "", []):
            raise CatalogError(f"{where}: key {key!r} is required")
    measure = raw["measure"]
    if isinstance(measure, bool) or not isinstance(measure, int) or not 1 <= measure <= 12:
        raise CatalogError(f"{where}: key 'measure' must be 1…12, got {measure!r}")
    try:
        award = Award(raw["award"])
    except ValueError:
        raise CatalogError(
            f"{where}: key 'award' must be one of {[a.value for a in Award]}, got {raw['award']!r}"
        ) from None
    ceiling = _yuan(f"{where}: key 'ceiling_yuan'", raw.get("ceiling_yuan"))
    # A referred rule that the policy data gives an amount pays as a ceiling rule.
    if award is Award.REFERRED and ceiling is not None:
        award = Award.CEILING
    rate = _fraction(f"{where}: key 'rate'", raw.get("rate"))
    if award is Award.CEILING and ceiling is None:
        raise CatalogError(f"{where}: a ceiling rule needs key 'ceiling_yuan'")
    if award is Award.RATE and rate is None:
        raise CatalogError(f"{where}: a rate rule needs key 'rate'")
    if award is not Award.RATE and rate is not None:
        raise CatalogError(f"{where}: key 'rate' only fits a rate rule")
    # A "per item" cap (docs/rules.md, "The rules"): unless stated, a ceiling or review rule's
    # item cap is its ceiling; an explicit null says the rule has no item cap.
    if "item_cap_yuan" in raw:
        item_cap = _yuan(f"{where}: key 'item_cap_yuan'", raw["item_cap_yuan"])
    else:
        item_cap = ceiling if award in (Award.CEILING, Award.REVIEW) else None
    max_years = raw.get("max_years")
    if max_years is not None and (
        isinstance(max_years, bool) or not isinstance(max_years, int) or max_years < 1
    ):
        raise CatalogError(f"{where}: key 'max_years' must be a positive integer")
    units = raw["responsible_units"]
    if not isinstance(units, list) or not all(isinstance(u, str) and u for u in units):
        raise CatalogError(f"{where}: key 'responsible_units' must be a list of names")
    return Rule(
        id=rid,
        measure=measure,
        title=str(raw["title"]),
        clause=str(raw["clause"]),
        trigger=_trigger(f"{where}: key 'trigger'", raw["trigger"]),
        award=award,
        responsible_units=tuple(units),
        rank=rank,
        ceiling_fen=ceiling,
        rate=rate,
        annual_cap_fen=_yuan(f"{where}: key 'annual_cap_yuan'", raw.get("annual_cap_yuan")),
        item_cap_fen=item_cap,
        max_years=max_years,
        humanoid_uplift=_fraction(f"{where}: key 'humanoid_uplift'", raw.get("humanoid_uplift")),
        staged=bool(raw.get("staged", False)),
    )


def build_catalog(raw: Any) -> Catalog:
    """Validate a raw catalog document (as loaded from YAML) into a Catalog, one version per
    span of dates over which no dated value changes."""
    if not isinstance(raw, dict) or not isinstance(raw.get("policy"), dict):
        raise CatalogError("catalog: needs a 'policy' mapping and a 'rules' list")
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise CatalogError("catalog: 'rules' must be a non-empty list")
    if not all(isinstance(r, dict) for r in rules_raw):
        raise CatalogError("catalog: every rule must be a mapping")
    try:
        spans = dated.spans(raw)
        resolved = [(dated.resolved_at(raw, start), start, end) for start, end in spans]
    except dated.DatedValueError as err:
        raise CatalogError(str(err)) from None
    merged: list[tuple[dict[str, Any], date, date]] = []
    for doc, start, end in resolved:  # neighbours that resolve alike are one version
        if merged and merged[-1][0] == doc:
            merged[-1] = (doc, merged[-1][1], end)
        else:
            merged.append((doc, start, end))
    if len(merged) == 1:
        return _version(merged[0][0])
    versions = tuple(_version(doc, start, end) for doc, start, end in merged)
    return replace(versions[0], version=_hash(raw), versions=versions)


def _hash(doc: Any) -> str:
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _version(raw: dict[str, Any], start: date = date.min, end: date = date.max) -> Catalog:
    """One version: a catalog document without dated values, in force over [start, end]."""
    policy = raw["policy"]
    rules = tuple(_rule(r, rank) for rank, r in enumerate(raw["rules"]))
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CatalogError(f"catalog: duplicate rule ids {dupes}")
    valid_from = _date("policy: key 'valid_from'", policy.get("valid_from"))
    valid_to = _date("policy: key 'valid_to'", policy.get("valid_to"))
    if valid_to < valid_from:
        raise CatalogError("policy: 'valid_to' is before 'valid_from'")
    by_trigger: dict[tuple[str, str | None], tuple[Rule, ...]] = {}
    for rule in rules:
        for kind in rule.trigger.kinds or [None]:
            key = (rule.trigger.payload, kind)
            by_trigger[key] = (*by_trigger.get(key, ()), rule)
    return Catalog(
        policy_id=str(policy.get("id", "")),
        title=str(policy.get("title", "")),
        valid_from=valid_from,
        valid_to=valid_to,
        global_clauses=dict(policy.get("global_clauses") or {}),
        rules=rules,
        # The content alone: the same terms are the same version whatever days they cover, so
        # a document that adds a later version keeps the id of every earlier one (a rollout
        # where one service already holds the new document still agrees on past events).
        version=_hash(raw),
        effective_from=start,
        effective_to=end,
        _by_trigger=by_trigger,
    )


def apply_overlay(raw: dict[str, Any], overlay: Any) -> dict[str, Any]:
    """A new raw catalog with a policy overlay (docs/contract.md §3) applied; errors name keys."""
    if overlay is None:
        return raw
    if not isinstance(overlay, dict):
        raise CatalogError("overlay: must be a mapping")
    for key in overlay:
        if key not in OVERLAY_KEYS:
            raise CatalogError(f"overlay: unknown key {key!r}")
    merged: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    # With an effective date the overlay is a new version from that date on; without one it
    # rewrites the policy for every date.
    start = overlay.get("effective_from")
    if start is not None:
        start = _date("overlay: key 'effective_from'", start)

    def put(holder: dict[str, Any], key: str, value: Any) -> None:
        if start is None:
            holder[key] = value
        else:
            dated.date_from(holder, key, start, value)

    for key in ("valid_from", "valid_to"):
        if key in overlay:
            put(merged["policy"], key, str(_date(f"overlay: key {key!r}", overlay[key])))
    rules = {r["id"]: r for r in merged["rules"]}
    changes = overlay.get("rules") or {}
    if not isinstance(changes, dict):
        raise CatalogError("overlay: 'rules' must map rule ids to changes")
    for rule_id, change in changes.items():
        if rule_id not in rules:
            raise CatalogError(f"overlay: unknown rule id {rule_id!r}")
        if not isinstance(change, dict):
            raise CatalogError(f"overlay: rule {rule_id}: must be a mapping of keys")
        for key, value in change.items():
            if key not in OVERLAY_RULE_KEYS:
                raise CatalogError(f"overlay: rule {rule_id}: unknown key {key!r}")
            put(rules[rule_id], key, value)
    return merged


def raw_catalog(path: Path | None = None) -> Any:
    """The catalog document as YAML gives it, before validation or any overlay: the packaged
    one (domain/policy/catalog.yaml) unless `path` names another."""
    from importlib import resources

    if path is None:
        text = (
            resources.files("subsidy.domain").joinpath("policy", "catalog.yaml").read_text("utf-8")
        )
    else:
        text = path.read_text("utf-8")
    return yaml.safe_load(text)


def load_catalog(path: Path | None = None, overlay: Path | None = None) -> Catalog:
    """Load the catalog YAML (the packaged one by default) and an optional overlay."""
    raw = raw_catalog(path)
    if overlay is not None:
        try:
            overlay_doc = yaml.safe_load(overlay.read_text("utf-8"))
        except yaml.YAMLError as err:
            raise CatalogError(f"overlay {overlay}: not valid YAML: {err}") from None
        raw = apply_overlay(raw, overlay_doc)
    return build_catalog(raw)
