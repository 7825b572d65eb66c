"""Dated values in the catalog: a key's values by start date, and the versions they make."""

# As OpenFisca's parameters do, a value the policy may change is written either plainly or as
# `{values: {START: value, …}}`; from each start date on, that value is in force. Every start date
# of any key bounds a version: the catalog resolved at that date, in force until the next one.

from datetime import date, timedelta
from typing import Any

# The keys of a raw catalog whose values may be dated: the policy's window and a rule's terms.
POLICY_DATED = ("valid_from", "valid_to", "second_review_from_yuan")
# A key that an overlay dates but the catalog left out: left out again before that date (an
# absent item cap means "the ceiling", which no value written in its place would say).
_ABSENT = "(absent)"


class DatedValueError(ValueError):
    """A `values:` mapping that is not a mapping of start dates to values."""


def is_dated(value: Any) -> bool:
    """Is this a `{values: {…}}` mapping rather than a plain value?"""
    return isinstance(value, dict) and set(value) == {"values"}


def _starts(where: str, value: dict[str, Any]) -> list[tuple[date, Any]]:
    values = value["values"]
    if not isinstance(values, dict) or not values:
        raise DatedValueError(f"{where}: 'values' must map start dates to values")
    out = []
    for start, v in values.items():
        try:
            day = start if isinstance(start, date) else date.fromisoformat(str(start))
        except ValueError:
            raise DatedValueError(f"{where}: {start!r} is not a start date YYYY-MM-DD") from None
        out.append((day, v))
    return sorted(out, key=lambda sv: sv[0])


def _dated_slots(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(where, the mapping holding it, key) of every dated value in a raw catalog."""
    slots = [
        (f"policy: key {key!r}", raw["policy"], key)
        for key in POLICY_DATED
        if is_dated(raw["policy"].get(key))
    ]
    for rule in raw["rules"]:
        slots.extend(
            (f"rule {rule.get('id')}: key {key!r}", rule, key)
            for key, value in rule.items()
            if is_dated(value)
        )
    return slots


def boundaries(raw: dict[str, Any]) -> list[date]:
    """Every start date of a dated value, sorted: where one version ends and the next begins."""
    days = {
        day for where, holder, key in _dated_slots(raw) for day, _ in _starts(where, holder[key])
    }
    return sorted(days)


def resolved_at(raw: dict[str, Any], day: date) -> dict[str, Any]:
    """A copy of the raw catalog with each dated value replaced by the one in force on `day`
    (before its first start date, its first value: the window then says whether it counts)."""
    copy: dict[str, Any] = {
        **raw,
        "policy": dict(raw["policy"]),
        "rules": [dict(r) for r in raw["rules"]],
    }
    for where, holder, key in _dated_slots(copy):
        starts = _starts(where, holder[key])
        in_force = [v for start, v in starts if start <= day]
        value = in_force[-1] if in_force else starts[0][1]
        if value == _ABSENT:
            del holder[key]
        else:
            holder[key] = value
    return copy


def spans(raw: dict[str, Any]) -> list[tuple[date, date]]:
    """The versions' date ranges, first to last, together covering every date."""
    starts = [day for day in boundaries(raw) if day > date.min]
    edges = [date.min, *starts]
    ends = [*(s - timedelta(days=1) for s in starts), date.max]
    return list(zip(edges, ends, strict=True))


def date_from(holder: dict[str, Any], key: str, start: date, value: Any) -> None:
    """Put `value` in force for holder[key] from `start` on, keeping what was in force before
    (an overlay with an effective date)."""
    current = holder.get(key, _ABSENT)
    values = dict(current["values"]) if is_dated(current) else {date.min.isoformat(): current}
    values[start.isoformat()] = value
    holder[key] = {"values": values}
