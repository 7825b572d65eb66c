"""The comparison itself, pure: one history decided under two policies, set side by side."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from subsidy.domain.catalog import Catalog
from subsidy.domain.enums import District
from subsidy.domain.export import distinct_rejections
from subsidy.domain.ledger.records import EntitlementState
from subsidy.domain.simulate import SimulationResult, simulate

# A payout whose rule names no responsible unit still counts somewhere (the ledger's key too).
UNATTRIBUTED = "(no responsible unit)"


@dataclass(frozen=True, slots=True)
class Cost:
    """Granted fen (and paid entitlements) of one group under both policies."""

    key: str
    baseline_fen: int = 0
    reform_fen: int = 0
    baseline_paid: int = 0
    reform_paid: int = 0

    @property
    def delta_fen(self) -> int:
        return self.reform_fen - self.baseline_fen


@dataclass(frozen=True, slots=True)
class EnterpriseChange:
    """An enterprise's total granted under both policies."""

    enterprise_id: str
    name: str
    district: str
    baseline_fen: int
    reform_fen: int

    @property
    def delta_fen(self) -> int:
        return self.reform_fen - self.baseline_fen


@dataclass(frozen=True, slots=True)
class Side:
    """One entitlement under one policy; absent when that policy never created it."""

    status: str
    reasons: tuple[str, ...]
    entitled_fen: int
    granted_fen: int


@dataclass(frozen=True, slots=True)
class EntitlementChange:
    """An entitlement whose status or granted amount differs between the two policies."""

    entitlement_id: str
    enterprise_id: str
    enterprise_name: str
    rule_id: str
    year: int
    baseline: Side | None
    reform: Side | None

    @property
    def baseline_fen(self) -> int:
        return self.baseline.granted_fen if self.baseline else 0

    @property
    def reform_fen(self) -> int:
        return self.reform.granted_fen if self.reform else 0

    @property
    def delta_fen(self) -> int:
        return self.reform_fen - self.baseline_fen

    @property
    def status_changed(self) -> bool:
        before = self.baseline.status if self.baseline else None
        return before != (self.reform.status if self.reform else None)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything the reports show. Measures and years in number order, districts in the
    contract's, channels by cost (largest first); enterprises and entitlements by the size of
    their change, largest first (ties by id)."""

    total: Cost
    by_measure: tuple[Cost, ...]
    by_district: tuple[Cost, ...]
    by_channel: tuple[Cost, ...]
    by_year: tuple[Cost, ...]
    enterprises: tuple[EnterpriseChange, ...]  # only those whose total changes
    entitlements: tuple[EntitlementChange, ...]  # only those whose status or amount changes
    # (from, to, how many) of the status changes; None: the entitlement does not exist there.
    transitions: tuple[tuple[str | None, str | None, int], ...]
    entitlements_compared: int
    rejected_baseline: int
    rejected_reform: int
    parked_baseline: int
    parked_reform: int


def _side(s: EntitlementState) -> Side:
    return Side(s.status.value, tuple(r.value for r in s.reasons), s.entitled_fen, s.granted_fen)


def _costs(
    baseline: list[EntitlementState],
    reform: list[EntitlementState],
    keys: Callable[[EntitlementState], Iterable[str]],
    order: Callable[[Cost], Any],
) -> tuple[Cost, ...]:
    """Granted per key on both sides; a group exists when either side has an entitlement in
    it, so a group the reform empties (or fills) still shows."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for side, states in enumerate((baseline, reform)):
        for s in states:
            for key in keys(s):
                slot = sums[key]
                slot[side] += s.granted_fen
                slot[2 + side] += s.granted_fen > 0
    return tuple(sorted((Cost(k, *v) for k, v in sums.items()), key=order))


def _numeric(c: Cost) -> int:
    return int(c.key)


# Districts in the contract's order (the city's districts, then its county-level cities).
_DISTRICTS = {d.value: n for n, d in enumerate(District)}


def _district(c: Cost) -> tuple[int, str]:
    return _DISTRICTS.get(c.key, len(_DISTRICTS)), c.key


def _largest(c: Cost) -> tuple[int, str]:
    return -max(c.baseline_fen, c.reform_fen), c.key


def _channels(s: EntitlementState) -> Iterable[str]:
    # In full under each unit (the policy names no split): the rows add up to more than the
    # total when a rule names several, as the ledger's totals by channel do.
    return s.ent.funding_channels or (UNATTRIBUTED,)


def _enterprises(
    baseline: list[EntitlementState], reform: list[EntitlementState]
) -> tuple[EnterpriseChange, ...]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    names: dict[str, tuple[str, str]] = {}
    for side, states in enumerate((baseline, reform)):
        for s in states:
            totals[s.ent.enterprise_id][side] += s.granted_fen
            names[s.ent.enterprise_id] = (s.enterprise_name, s.district)
    changed = [
        EnterpriseChange(eid, *names[eid], before, after)
        for eid, (before, after) in totals.items()
        if before != after
    ]
    return tuple(sorted(changed, key=lambda c: (-abs(c.delta_fen), c.enterprise_id)))


def _entitlements(
    baseline: dict[str, EntitlementState], reform: dict[str, EntitlementState]
) -> tuple[EntitlementChange, ...]:
    out = []
    for eid in baseline.keys() | reform.keys():
        before, after = baseline.get(eid), reform.get(eid)
        b = None if before is None else _side(before)
        a = None if after is None else _side(after)
        if (
            b is not None
            and a is not None
            and (b.status, b.granted_fen) == (a.status, a.granted_fen)
        ):
            continue
        s = after or before
        assert s is not None
        out.append(
            EntitlementChange(
                eid, s.ent.enterprise_id, s.enterprise_name, s.ent.rule_id, s.ent.year, b, a
            )
        )
    return tuple(sorted(out, key=lambda c: (-abs(c.delta_fen), c.entitlement_id)))


def compare(baseline: SimulationResult, reform: SimulationResult) -> Comparison:
    """Set two decisions of one history side by side."""
    before = {s.ent.entitlement_id: s for s in baseline.ledger.states()}
    after = {s.ent.entitlement_id: s for s in reform.ledger.states()}
    b, a = list(before.values()), list(after.values())
    changes = _entitlements(before, after)
    transitions = Counter(
        (c.baseline.status if c.baseline else None, c.reform.status if c.reform else None)
        for c in changes
        if c.status_changed
    )
    return Comparison(
        total=next(iter(_costs(b, a, lambda s: ("total",), _largest)), Cost("total")),
        by_measure=_costs(b, a, lambda s: (str(s.ent.measure),), _numeric),
        by_district=_costs(b, a, lambda s: (s.district,), _district),
        by_channel=_costs(b, a, _channels, _largest),
        by_year=_costs(b, a, lambda s: (str(s.ent.year),), _numeric),
        enterprises=_enterprises(b, a),
        entitlements=changes,
        transitions=tuple(
            (f, t, n)
            for (f, t), n in sorted(transitions.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ),
        entitlements_compared=len(before.keys() | after.keys()),
        rejected_baseline=len(distinct_rejections(baseline.rejected)),
        rejected_reform=len(distinct_rejections(reform.rejected)),
        parked_baseline=len(baseline.ledger.parked_ids()),
        parked_reform=len(reform.ledger.parked_ids()),
    )


def decide_twice(
    lines: list[str], baseline: Catalog, reform: Catalog
) -> tuple[SimulationResult, SimulationResult]:
    """The same history decided by the pure domain under each policy (`subsidy simulate`)."""
    return simulate(lines, baseline), simulate(lines, reform)
