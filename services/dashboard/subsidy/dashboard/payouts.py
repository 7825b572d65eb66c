"""The payouts for the dashboard: orders, receivables, envelopes and alerts by channel-year."""

# Read-only, in the ledger reader's snapshot. The payouts may not be migrated (a platform that does
# not pay yet), or not readable by the dashboard's role: then nothing is read and the page says
# there is nothing to show, while the ledger's figures are served as always. Figures are summed from
# the current rows, so they are right whatever the dashboard missed while down.

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Every payouts table the dashboard reads (for its figures or to notice a change); the
# bootstrap also checks its role may write none of them.
PAYOUT_TABLES = (
    "payout_desk", "payment_orders", "payment_order_history", "receivables", "budget_loads",
    "budget_envelopes", "budget_alerts",
)  # fmt: skip

# Per table: is it there, and may this role read it (has_table_privilege on a missing table
# raises, hence the CASE).
_AVAILABLE = """
SELECT t, to_regclass(t) IS NOT NULL AS present,
       CASE WHEN to_regclass(t) IS NULL THEN false
            ELSE has_table_privilege(to_regclass(t)::oid, 'SELECT') END AS readable
FROM unnest($1::text[]) AS t
"""

# What changes when a payouts operation commits, cheap to read (one row, primary-key maxima, a
# small table): each operation runs under the desk lock and records every order change in the
# history, every movement of money as a transfer (the chain's head), every budget file as a
# load; alerts are rows of their own.
_PROBE = """
SELECT (SELECT head_seq FROM payout_desk) AS head_seq,
       (SELECT coalesce(max(id), 0) FROM payment_order_history) AS history,
       (SELECT coalesce(max(version), 0) FROM budget_loads) AS loads,
       (SELECT count(*) FROM budget_alerts) AS alerts
"""

_ORDERS = """
SELECT channel, year, state, hold, count(*) AS orders,
       sum(amount_fen)::bigint AS amount_fen,
       sum(set_off_fen)::bigint AS set_off_fen,
       coalesce(sum(amount_fen) FILTER (WHERE committed), 0)::bigint AS committed_fen,
       max(updated_at) AS updated_at
FROM payment_orders
GROUP BY channel, year, state, hold
"""

_RECEIVABLES = """
SELECT channel, year, count(*) AS receivables,
       sum(amount_fen)::bigint AS amount_fen,
       sum(amount_fen - set_off_fen - collected_fen - written_off_fen)::bigint AS outstanding_fen
FROM receivables
GROUP BY channel, year
"""

_ENVELOPES = "SELECT channel, year, amount_fen FROM budget_envelopes"

_ALERTS = "SELECT channel, year, threshold, raised_at FROM budget_alerts ORDER BY threshold"


@dataclass(frozen=True, slots=True)
class OrderGroup:
    """The payment orders of one channel, year, state and hold (hold None unless WAITING)."""

    channel: str
    year: int
    state: str
    hold: str | None
    orders: int
    amount_fen: int
    set_off_fen: int
    committed_fen: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReceivableSum:
    """What one channel-year is owed back: raised, and still outstanding."""

    channel: str
    year: int
    receivables: int
    amount_fen: int
    outstanding_fen: int


@dataclass(frozen=True, slots=True)
class Envelope:
    """A channel's budget for a year, as last loaded."""

    channel: str
    year: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """An envelope's alert: 80 (commitments reached 80%) or 100 (an order waits for room)."""

    channel: str
    year: int
    threshold: int
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class PayoutFigures:
    """The payouts as of the snapshot; `available` False when they cannot be read at all."""

    available: bool
    orders: list[OrderGroup] = field(default_factory=list)
    receivables: list[ReceivableSum] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    alerts: list[RaisedAlert] = field(default_factory=list)

    def for_year(self, year: int) -> "PayoutFigures":
        """Only the channel-years of `year`."""
        return PayoutFigures(
            self.available,
            [o for o in self.orders if o.year == year],
            [r for r in self.receivables if r.year == year],
            [e for e in self.envelopes if e.year == year],
            [a for a in self.alerts if a.year == year],
        )


UNAVAILABLE = PayoutFigures(available=False)

Probe = tuple[int, ...] | None


class PayoutsProbe:
    """Whether the payouts can be read, and a mark that moves whenever they change."""

    def __init__(self) -> None:
        self._unreadable: tuple[str, ...] = ()

    async def mark(self, conn: asyncpg.Connection) -> Probe:
        """None when the payouts are not migrated or not readable; otherwise the mark."""
        rows = await conn.fetch(_AVAILABLE, list(PAYOUT_TABLES))
        if not all(r["present"] for r in rows):
            return None
        unreadable = tuple(r["t"] for r in rows if not r["readable"])
        if unreadable != self._unreadable and unreadable:
            # A role missing a grant (made after the payouts were migrated?): said once.
            log.warning("dashboard.payouts_unreadable", tables=",".join(unreadable),
                        hint="grant SELECT on them to subsidy_auditor")  # fmt: skip
        self._unreadable = unreadable
        if unreadable:
            return None
        row = await conn.fetchrow(_PROBE)
        assert row is not None
        return (row["head_seq"] or 0, row["history"], row["loads"], row["alerts"])


async def read_payouts(conn: asyncpg.Connection) -> PayoutFigures:
    """Every figure of the payouts (call in the reader's transaction, once `mark` said they
    can be read)."""
    return PayoutFigures(
        available=True,
        orders=[OrderGroup(**dict(r)) for r in await conn.fetch(_ORDERS)],
        receivables=[ReceivableSum(**dict(r)) for r in await conn.fetch(_RECEIVABLES)],
        envelopes=[Envelope(**dict(r)) for r in await conn.fetch(_ENVELOPES)],
        alerts=[RaisedAlert(**dict(r)) for r in await conn.fetch(_ALERTS)],
    )
