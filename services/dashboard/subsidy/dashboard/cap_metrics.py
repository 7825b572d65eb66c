"""The annual caps' true utilisation (granted ÷ cap per enterprise-year) as Prometheus gauges."""

from collections import defaultdict
from collections.abc import Iterable

from subsidy.dashboard import metrics
from subsidy.dashboard.panels import CapUse
from subsidy.domain.catalog import Catalog

# (band, lowest share in basis points): an enterprise-year is in the last band it reaches.
BANDS: tuple[tuple[str, int], ...] = (
    ("below_50", 0),
    ("50_to_90", 5_000),
    ("90_to_100", 9_000),
    ("at_cap", 10_000),
)


def band_of(granted_fen: int, cap_fen: int) -> str:
    """The band of granted ÷ cap, in integers (a share just under 90% is not rounded up)."""
    if cap_fen <= 0:
        return BANDS[-1][0]  # a cap of nothing is used up by any grant
    points = granted_fen * 10_000
    return [name for name, lowest in BANDS if points >= lowest * cap_fen][-1]


def capped_rules(catalog: Catalog) -> list[str]:
    """The catalog's rules with an annual cap: each is exported, with zeros until it grants."""
    return [rule.id for rule in catalog.rules if rule.annual_cap_fen is not None]


def export_caps(caps: Iterable[CapUse], catalog: Catalog) -> None:
    """Set the gauges from every year's enterprise-years (the reader's panels); a rule of an
    older policy version the ledger still holds grants under is exported too."""
    by_rule: dict[str, list[CapUse]] = defaultdict(list)
    for rule in capped_rules(catalog):
        by_rule[rule] = []
    for use in caps:
        by_rule[use.rule_id].append(use)
    for rule, uses in by_rule.items():
        counts = dict.fromkeys((name for name, _ in BANDS), 0)
        for use in uses:
            counts[band_of(use.granted_fen, use.cap_fen)] += 1
        for band, count in counts.items():
            metrics.CAP_ENTERPRISE_YEARS.labels(rule, band).set(count)
        shares = [u.granted_fen / u.cap_fen for u in uses if u.cap_fen > 0]
        metrics.CAP_RATIO_MAX.labels(rule).set(max(shares, default=0.0))
        cap = sum(u.cap_fen for u in uses)
        metrics.CAP_RATIO.labels(rule).set(sum(u.granted_fen for u in uses) / cap if cap else 0.0)
