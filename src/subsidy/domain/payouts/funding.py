"""G3's routing: which channels pay an amount, and each one's part (原渠道 and 财政体制)."""

from subsidy.domain.catalog import Rule
from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.money import apply_rate

CITY = "city"
DISTRICT = "district"


def district_channel(district: str) -> str:
    """The district's own channel: its finance bureau (e.g. 苏州工业园区财政局)."""
    return f"{DISTRICT_NAMES_ZH[District(district)]}财政局"


def channel_of(rule: Rule, district: str, level: str) -> str:
    """The channel that pays a level's part: the rule's paying unit for the city, the
    district's finance bureau for the district."""
    return rule.paying_unit if level == CITY else district_channel(district)


def split(rule: Rule, district: str, before_fen: int, after_fen: int) -> dict[str, int]:
    """The parts by level of the amount that takes an entitlement's running total from
    `before_fen` to `after_fen`. The city's share is applied to the running total and rounded
    down there, so the parts of many amounts add up to the parts of their sum, to the fen."""
    share = rule.city_share(district)
    city = apply_rate(after_fen, share) - apply_rate(before_fen, share)
    parts = {CITY: city, DISTRICT: (after_fen - before_fen) - city}
    return {level: fen for level, fen in parts.items() if fen}
