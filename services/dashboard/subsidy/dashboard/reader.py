"""The ledger for the dashboard: were decisions committed, and the figures, in one snapshot."""

# Read-only: the ledger's `outbox` (one row per decision, an identity id: the cheap "anything new?"
# probe) and `entitlements` / `decisions` (the figures), and the payouts' tables when they are there
# (subsidy.dashboard.payouts, with a probe of their own). Totals are recomputed from the
# entitlements' current state rather than summed from decisions as they pass, so they are right
# whatever the dashboard missed while it was down.

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import asyncpg

from subsidy.dashboard.panels import NO_PANELS, Panels, read_panels
from subsidy.dashboard.payouts import UNAVAILABLE, PayoutFigures, PayoutsProbe, Probe, read_payouts
from subsidy.dashboard.watermark import OutboxWatermark, PgSnapshot

# One scan for every total, of all years and of each: GROUPING() says which grouping set a
# row belongs to (bits: year 8, measure 4, district 2, status 1; 15 is the grand total).
_TOTALS = """
SELECT GROUPING(year, measure, district, status) AS g, year, measure, district, status,
       count(*) AS entitlements,
       coalesce(sum(granted_fen), 0)::bigint AS granted_fen,
       coalesce(sum(clawback_fen), 0)::bigint AS clawback_fen,
       count(*) FILTER (WHERE granted_fen > 0) AS paid,
       coalesce(sum(revision), 0)::bigint AS decisions
FROM entitlements
GROUP BY GROUPING SETS ((year, measure), (year, district), (year, status), (year),
                        (measure), (district), (status), ())
"""
# What each grouping set fills: (field of Figures, column keying it); None is the overall.
_SETS: dict[int, tuple[str, str | None]] = {
    0b0011: ("by_measure", "measure"), 0b0101: ("by_district", "district"),
    0b0110: ("by_status", "status"), 0b0111: ("overall", None),
}  # fmt: skip
_ALL_YEARS = 0b1000

# Newest first by outbox id (the order the ledger decided them in); of one year, or of all.
_LATEST = """
SELECT o.id, d.decision_id, d.decided_at, d.enterprise_id, e.enterprise_name, d.rule_id,
       d.measure, d.district, d.status, d.granted_fen, d.cash_delta_fen
FROM outbox o
JOIN decisions d USING (decision_id)
JOIN entitlements e USING (entitlement_id)
WHERE $2::integer IS NULL OR d.year = $2
ORDER BY o.id DESC
LIMIT $1
"""


@dataclass(frozen=True, slots=True)
class Total:
    """Entitlements of one measure, district or status, or of all (key None)."""

    key: int | str | None
    entitlements: int
    granted_fen: int
    clawback_fen: int
    paid: int
    decisions: int


@dataclass(frozen=True, slots=True)
class LatestDecision:
    """One decision as the list of latest decisions shows it."""

    id: int
    decision_id: str
    decided_at: datetime
    enterprise_id: str
    enterprise_name: str
    rule_id: str
    measure: int
    district: str
    status: str
    granted_fen: int
    cash_delta_fen: int


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything the page shows, as of one database snapshot."""

    overall: Total
    by_measure: list[Total] = field(default_factory=list)
    by_district: list[Total] = field(default_factory=list)
    by_status: list[Total] = field(default_factory=list)
    latest: list[LatestDecision] = field(default_factory=list)
    payouts: PayoutFigures = UNAVAILABLE
    panels: Panels = NO_PANELS
    # Each year's own figures (the years with entitlements), their payouts and panels too.
    years: dict[int, "Figures"] = field(default_factory=dict)

    def for_year(self, year: int | None) -> "Figures":
        """The figures of one year (None: of all years); a year without entitlements has
        zeros, and its payouts and panels still."""
        if year is None:
            return self
        own = self.years.get(year, Figures(Total(None, 0, 0, 0, 0, 0)))
        return replace(own, payouts=self.payouts.for_year(year), panels=self.panels.for_year(year))


def _total(row: asyncpg.Record, key: Any) -> Total:
    return Total(
        key, row["entitlements"], row["granted_fen"], row["clawback_fen"], row["paid"],
        row["decisions"],
    )  # fmt: skip


async def read_figures(conn: asyncpg.Connection, limit: int) -> Figures:
    """The totals, the latest decisions and the panels, of all years and of each (run it in a
    repeatable-read transaction, so that all come from the same snapshot)."""
    groups: dict[int | None, dict[str, Any]] = {}
    for row in await conn.fetch(_TOTALS):
        g = row["g"]
        year = None if g & _ALL_YEARS else row["year"]
        name, column = _SETS[g & ~_ALL_YEARS]
        parts = groups.setdefault(year, {"by_measure": [], "by_district": [], "by_status": []})
        if column is None:
            parts[name] = _total(row, None)
        else:
            parts[name].append(_total(row, row[column]))
    empty = Total(None, 0, 0, 0, 0, 0)
    figures: dict[int | None, Figures] = {}
    for year, parts in groups.items():
        latest = await conn.fetch(_LATEST, limit, year)
        figures[year] = Figures(overall=parts.pop("overall", empty), **parts,
                                latest=[LatestDecision(**dict(r)) for r in latest])  # fmt: skip
    overall = figures.pop(None, Figures(empty))
    years = dict(sorted((y, f) for y, f in figures.items() if y is not None))
    return replace(overall, panels=await read_panels(conn), years=years)


_UNSEEN: Probe = (-1,)  # no look yet: differs from every mark, None included


class LedgerReader:
    """Looks at the ledger and the payouts: cheap when nothing changed, the figures when
    something did."""

    def __init__(self, latest_limit: int) -> None:
        self.latest_limit = latest_limit
        self.watermark = OutboxWatermark()
        self.payouts = PayoutsProbe()
        self.payouts_mark: Probe = _UNSEEN

    def reset(self) -> None:
        """Start over (after a lost connection: the next look reads everything again)."""
        self.watermark = OutboxWatermark()
        self.payouts_mark = _UNSEEN

    async def look(self, conn: asyncpg.Connection) -> Figures | None:
        """The figures if decisions were committed or the payouts changed since the last look
        (always on the first), else None. One read-only repeatable-read transaction: the
        probes and the figures see the same snapshot."""
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = PgSnapshot.parse(await conn.fetchval("SELECT pg_current_snapshot()::text"))
            mark = self.watermark
            if mark.floor is None:
                top = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
                mark.start(snapshot, top)
                changed = True
            else:
                rows = await conn.fetch(
                    "SELECT id FROM outbox WHERE id > $1 ORDER BY id", mark.floor
                )
                changed = mark.observe(snapshot, [r["id"] for r in rows])
            payouts_mark = await self.payouts.mark(conn)
            if payouts_mark != self.payouts_mark:
                changed, self.payouts_mark = True, payouts_mark
            if not changed:
                return None
            figures = await read_figures(conn, self.latest_limit)
            if payouts_mark is None:
                return figures
            return replace(figures, payouts=await read_payouts(conn))
