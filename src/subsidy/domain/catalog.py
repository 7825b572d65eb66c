"""The policy catalog as data: rules with their clauses, caps and triggers; overlays; versioning."""

import hashlib
import json
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from subsidy.domain import dated
from subsidy.domain.catalog_schema import (
    OVERLAY_RULE_KEYS,
    RULE_KEYS,
    TRIGGER_KEYS,
    Award,
    CatalogError,
    Rule,
    RuleDefaults,
    Trigger,
    build_rule,
    city_shares,
    notice_days,
    yuan_term,
)

# The rule's types and keys live in catalog_schema with their validators; this module is
# where the rest of the code finds them.
__all__ = [
    "OVERLAY_KEYS",
    "OVERLAY_RULE_KEYS",
    "RULE_KEYS",
    "TRIGGER_KEYS",
    "Award",
    "Catalog",
    "CatalogError",
    "Rule",
    "Trigger",
    "apply_overlay",
    "build_catalog",
    "load_catalog",
    "raw_catalog",
]


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


OVERLAY_KEYS = ("effective_from", "valid_from", "valid_to", "rules")
# The policy's default four-eyes threshold, in yuan (docs/rules.md, "Four eyes").
SECOND_REVIEW = "second_review_from_yuan"
FUNDING_KEYS = ("city_share", "publicity_days")


def _date(where: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CatalogError(f"{where}: not a date YYYY-MM-DD: {value!r}") from None


def _rule_defaults(policy: dict[str, Any]) -> RuleDefaults:
    """The policy's terms for every rule that gives none: four eyes, and G3's funding
    (`funding: {city_share, publicity_days}`, docs/payouts.md)."""
    four_eyes = yuan_term("policy: key 'second_review_from_yuan'", policy.get(SECOND_REVIEW))
    funding = policy.get("funding") or {}
    if not isinstance(funding, dict):
        raise CatalogError("policy: key 'funding' must be a mapping")
    for key in funding:
        if key not in FUNDING_KEYS:
            raise CatalogError(f"policy: funding: unknown key {key!r}")
    return RuleDefaults(
        second_review_from_fen=four_eyes,
        city_shares=city_shares("policy: funding: key 'city_share'", funding.get("city_share", 1)),
        publicity_days=notice_days(
            "policy: funding: key 'publicity_days'", funding.get("publicity_days")
        ),
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
    defaults = _rule_defaults(policy)
    rules = tuple(build_rule(r, rank, defaults) for rank, r in enumerate(raw["rules"]))
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
