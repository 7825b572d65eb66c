"""Reading the ledger for the dashboard's panels: monthly grants, annual caps, grants to route."""

from dataclasses import dataclass, field
from datetime import date

import asyncpg

# Granted by month of the event, measure and district (the trend chart).
_MONTHS = """
SELECT year, date_trunc('month', occurred_on)::date AS month, measure, district,
       count(*) AS entitlements, sum(granted_fen)::bigint AS granted_fen
FROM entitlements
WHERE granted_fen > 0
GROUP BY year, month, measure, district
"""

# Each enterprise's grants under a rule with an annual cap, per year, and that cap (the one the
# ledger applied: the entitlement carries it, so a policy version's cap is the one shown).
_CAPS = """
SELECT rule_id, year, enterprise_id, max(enterprise_name) AS enterprise_name,
       max(district) AS district, sum(granted_fen)::bigint AS granted_fen,
       max(annual_cap_fen)::bigint AS cap_fen
FROM entitlements
WHERE annual_cap_fen IS NOT NULL
GROUP BY rule_id, year, enterprise_id
HAVING sum(granted_fen) > 0
"""

# What each entitlement holds, to route to its channels as the payouts do (G3: the city's part
# of each entitlement rounded down on its own, so it is read one entitlement at a time).
_GRANTS = """
SELECT rule_id, district, year, occurred_on, granted_fen
FROM entitlements
WHERE granted_fen > 0
"""


@dataclass(frozen=True, slots=True)
class MonthGrant:
    """Granted in one month of events, for one measure and district."""

    year: int
    month: date
    measure: int
    district: str
    entitlements: int
    granted_fen: int


@dataclass(frozen=True, slots=True)
class CapUse:
    """An enterprise's grants in one year under a rule with an annual cap."""

    rule_id: str
    year: int
    enterprise_id: str
    enterprise_name: str
    district: str
    granted_fen: int
    cap_fen: int


@dataclass(frozen=True, slots=True)
class Grant:
    """What one entitlement holds now."""

    rule_id: str
    district: str
    year: int
    occurred_on: date
    granted_fen: int


@dataclass(frozen=True, slots=True)
class Panels:
    """The rows behind the trend, cap and channel panels, as of the reader's snapshot."""

    months: list[MonthGrant] = field(default_factory=list)
    caps: list[CapUse] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)

    def for_year(self, year: int) -> "Panels":
        """Only the rows of `year`."""
        return Panels(
            [m for m in self.months if m.year == year],
            [c for c in self.caps if c.year == year],
            [g for g in self.grants if g.year == year],
        )


NO_PANELS = Panels()


async def read_panels(conn: asyncpg.Connection) -> Panels:
    """Every panel's rows (in the reader's transaction)."""
    return Panels(
        [MonthGrant(**dict(r)) for r in await conn.fetch(_MONTHS)],
        [CapUse(**dict(r)) for r in await conn.fetch(_CAPS)],
        [Grant(**dict(r)) for r in await conn.fetch(_GRANTS)],
    )
