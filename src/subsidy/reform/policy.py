"""The two policies compared: the catalog the platform runs (baseline) and it with the reform."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from subsidy.domain.catalog import (
    Catalog,
    CatalogError,
    Rule,
    apply_overlay,
    build_catalog,
    raw_catalog,
)


class ReformInputError(ValueError):
    """Input the comparison cannot use; the message is one line naming the file, field or key."""


@dataclass(frozen=True, slots=True)
class Change:
    """One value the reform changes: a rule's (or the policy's) key, before and after."""

    rule_id: str | None  # None: the policy itself (its validity window)
    key: str
    baseline: str
    reform: str
    effective_from: date | None = None  # None: for every date


@dataclass(frozen=True, slots=True)
class Policies:
    """Baseline and reform catalogs, where they came from, and what differs between them."""

    baseline: Catalog
    reform: Catalog
    reform_overlay: Path
    baseline_overlay: Path | None
    changes: tuple[Change, ...]


def _read_overlay(path: Path, what: str) -> Any:
    """A YAML file's document; ReformInputError naming the file (and line) otherwise."""
    if not path.is_file():
        problem = "not a file" if path.exists() else "no such file"
        raise ReformInputError(f"{what} {path}: {problem}")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ReformInputError(f"{what} {path}: cannot read it: {err}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ReformInputError(f"{what} {path}: not valid YAML{where}: {problem}") from None


def catalog_document(path: Path | None = None) -> Any:
    """A catalog document before any overlay: the one the eligibility service ships, or
    another the platform was pointed at."""
    if path is None:
        return raw_catalog()
    return _read_overlay(path, "baseline catalog")


def load_policies(
    reform_overlay: Path,
    baseline_overlay: Path | None = None,
    baseline_catalog: Path | None = None,
) -> Policies:
    """Baseline = the catalog with the overlay the platform runs (the packaged catalog and no
    overlay unless named); reform = the baseline with the reform overlay on top. Raises
    ReformInputError naming the file and key."""
    raw = catalog_document(baseline_catalog)
    try:
        if baseline_overlay is not None:
            raw = apply_overlay(raw, _read_overlay(baseline_overlay, "baseline overlay"))
        baseline = build_catalog(raw)
    except CatalogError as err:
        where = (
            f"baseline overlay {baseline_overlay}"
            if baseline_overlay
            else f"baseline catalog {baseline_catalog or '(packaged)'}"
        )
        raise ReformInputError(f"{where}: {err}") from None
    document = _read_overlay(reform_overlay, "reform overlay")
    try:
        reform = build_catalog(apply_overlay(raw, document))
    except CatalogError as err:
        raise ReformInputError(f"reform overlay {reform_overlay}: {err}") from None
    return Policies(baseline, reform, reform_overlay, baseline_overlay, changes(baseline, reform))


# A rule's values an overlay can reach, as (key, attribute) pairs, in the order people read.
_RULE_VALUES = (
    ("award", "award"),
    ("ceiling_yuan", "ceiling_fen"),
    ("rate", "rate"),
    ("annual_cap_yuan", "annual_cap_fen"),
    ("item_cap_yuan", "item_cap_fen"),
    ("max_years", "max_years"),
    ("humanoid_uplift", "humanoid_uplift"),
)


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key.endswith("_yuan"):
        return f"¥{value // 100:,}"  # whole yuan, as the policy writes them
    return str(value)


def _rule_changes(before: Rule, after: Rule, day: date | None) -> list[Change]:
    out = []
    for key, attr in _RULE_VALUES:
        old, new = getattr(before, attr), getattr(after, attr)
        if old != new:
            out.append(Change(before.id, key, _shown(key, old), _shown(key, new), day))
    return out


def _versions(catalog: Catalog) -> tuple[Catalog, ...]:
    # A policy whose terms change on dates holds one catalog per version, where the domain
    # has dated catalogs; otherwise it is its own only version.
    return tuple(getattr(catalog, "timeline", (catalog,)))


def _at(catalog: Catalog, day: date) -> Catalog:
    at = getattr(catalog, "at", None)
    return catalog if at is None else at(day)


def changes(baseline: Catalog, reform: Catalog) -> tuple[Change, ...]:
    """Every resolved value that differs (a referred rule given a ceiling shows its award
    turning to `ceiling` and its item cap too): the window first, then rules in catalog order;
    for a policy with dated versions, version by version, each change once from the first
    date it holds."""
    starts = sorted(
        {getattr(v, "effective_from", date.min) for v in _versions(baseline) + _versions(reform)}
    )
    out: dict[tuple[str | None, str, str, str], Change] = {}
    for start in starts:
        before, after = _at(baseline, start), _at(reform, start)
        day = None if start == date.min else start
        found = [
            Change(None, key, str(getattr(before, key)), str(getattr(after, key)), day)
            for key in ("valid_from", "valid_to")
            if getattr(before, key) != getattr(after, key)
        ]
        for rule in before.rules:
            found.extend(_rule_changes(rule, after.rule(rule.id), day))
        for c in found:
            out.setdefault((c.rule_id, c.key, c.baseline, c.reform), c)
    return tuple(out.values())
