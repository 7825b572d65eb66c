"""The dashboard's payouts on PostgreSQL, as its own login."""

# Disbursement and budget burn per channel and year in /api/totals and /events to the fen, a change
# of the payouts noticed without a decision, nothing paid yet said as such, and no payouts tables at
# all served around.

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from subsidy.dashboard import bootstrap
from subsidy.dashboard.reader import Figures, LedgerReader
from subsidy.dashboard.server import RunningDashboard
from subsidy.domain.money import format_fen
from subsidy.domain.payouts.orders import HOLDS_ZH
from tests.dashboard.ledger_rows import dashboard_settings
from tests.dashboard.payout_rows import MIIT, PARK, SCI, YUAN, add_alerts, insert_payouts
from tests.ledger.database import LedgerDb, as_role
from tests.ledger.events import CATALOG

pytestmark = pytest.mark.postgres

HOLD_LABELS = {
    "NEW": "待处理", "PUBLICITY": "公示中", "OBJECTION": "异议待复核", "BUDGET": "预算不足",
    "NO_ACCOUNT": "无收款账户", "RETURNED": "银行退回",
}  # fmt: skip


def _fen(name: str, fen: int) -> dict[str, Any]:
    return {f"{name}Fen": fen, name: format_fen(fen)}


def _disbursed(channel: str, year: int, orders: int, at: tuple[str, str], granted: int,
               holds: dict[str, int], **figures: Any) -> dict[str, Any]:  # fmt: skip
    """The row the dashboard must show; figures: paidOut=(orders, fen), …, setOff=fen, …"""
    row: dict[str, Any] = {
        "channel": channel, "year": year, "orders": orders, "updatedAt": at[0], "time": at[1],
        **_fen("granted", granted),
    }  # fmt: skip
    for name in ("paidOut", "inBatch", "payable", "waiting"):
        n, fen = figures.get(name, (0, 0))
        row.update({**_fen(name, fen), f"{name}Orders": n})
    row["holds"] = [
        {"hold": h, "label": label, "orders": 1 if h in holds else 0,
         **_fen("amount", holds.get(h, 0))}
        for h, label in HOLD_LABELS.items()
    ]  # fmt: skip
    row.update({**_fen("setOff", figures.get("setOff", 0)),
                "settledOrders": figures.get("settled", 0),
                **_fen("receivables", figures.get("receivables", 0)),
                **_fen("outstanding", figures.get("outstanding", 0))})  # fmt: skip
    return row


DISBURSEMENT = [
    _disbursed(PARK, 2026, 1, ("2026-01-05T02:00:00+00:00", "2026-01-05 10:00:00"),
               1_000 * YUAN, {"BUDGET": 1_000 * YUAN}, waiting=(1, 1_000 * YUAN)),
    _disbursed(SCI, 2025, 11, ("2025-07-12T01:00:00+00:00", "2025-07-12 09:00:00"),
               1_280_000 * YUAN,
               {"NEW": 10_000 * YUAN, "PUBLICITY": 20_000 * YUAN, "OBJECTION": 30_000 * YUAN,
                "BUDGET": 40_000 * YUAN, "NO_ACCOUNT": 45_000 * YUAN, "RETURNED": 60_000 * YUAN},
               paidOut=(2, 700_000 * YUAN), inBatch=(1, 120_000 * YUAN),
               payable=(1, 80_000 * YUAN), waiting=(6, 205_000 * YUAN),
               setOff=175_000 * YUAN, settled=1, receivables=250_000 * YUAN,
               outstanding=35_000 * YUAN),
    _disbursed(PARK, 2025, 2, ("2025-07-10T01:00:00+00:00", "2025-07-10 09:00:00"), 27_500_012,
               {"NO_ACCOUNT": 2_500_012}, paidOut=(1, 250_000 * YUAN), waiting=(1, 2_500_012),
               receivables=15_000 * YUAN, outstanding=15_000 * YUAN),
    _disbursed(SCI, 2024, 1, ("2024-12-30T08:00:00+00:00", "2024-12-30 16:00:00"), 9_999_999,
               {}, paidOut=(1, 9_999_999)),
]  # fmt: skip


def _burn(channel: str, year: int, envelope: int | None, committed: int,
          used: tuple[int | None, str], alerts: list[dict[str, Any]] | None = None,
          ) -> dict[str, Any]:  # fmt: skip
    return {"channel": channel, "year": year, "loaded": envelope is not None,
            **_fen("envelope", envelope or 0), **_fen("committed", committed),
            **_fen("remaining", (envelope or 0) - committed),
            "usedBasisPoints": used[0], "used": used[1], "alerts": alerts or []}  # fmt: skip


BUDGET = [
    _burn(PARK, 2026, None, 0, (None, "—")),  # orders wait, no envelope was loaded
    _burn(MIIT, 2025, 1_000_000 * YUAN, 0, (0, "0.00%")),
    _burn(SCI, 2025, 1_400_000 * YUAN, 1_180_000 * YUAN, (8428, "84.28%"), [
        {"threshold": 80, "label": "已达80%", "raisedAt": "2025-07-10T02:00:00+00:00",
         "time": "2025-07-10 10:00:00"},
        {"threshold": 100, "label": "预算不足", "raisedAt": "2025-07-11T03:30:00+00:00",
         "time": "2025-07-11 11:30:00"},
    ]),
    _burn(PARK, 2025, 2_000_000 * YUAN, 27_500_012, (1375, "13.75%")),
    _burn(SCI, 2024, 100_000 * YUAN, 9_999_999, (9999, "99.99%")),  # not 100% before it is full
]  # fmt: skip


@pytest.fixture
async def dashboard(payouts_schema: str) -> AsyncIterator[RunningDashboard]:
    await insert_payouts(payouts_schema)
    async with bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as running:
        yield running


async def _totals(base: str) -> dict[str, Any]:
    """/api/totals once the first state is there."""
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            async with session.get(f"{base}/api/totals") as response:
                if response.status == 200:
                    return dict(await response.json())
            await asyncio.sleep(0.1)
    raise AssertionError("the dashboard never published a state")


async def test_figures_per_channel_and_year(dashboard: RunningDashboard) -> None:
    """Paid, in batch, payable, waiting by hold (one of each), set off, receivables
    outstanding, envelope, committed, share used and alerts: each to the fen."""
    payouts = (await _totals(dashboard.url))["payouts"]
    assert payouts["available"] is True
    assert payouts["disbursement"] == DISBURSEMENT
    assert payouts["budget"] == BUDGET
    assert {h: label for h, label in HOLDS_ZH.items()} == HOLD_LABELS  # the desk's own words
    science = payouts["disbursement"][1]
    assert (science["paidOut"], science["setOff"]) == ("¥700,000.00", "¥175,000.00")
    # What the channel granted is each of its figures, to the fen.
    for row in payouts["disbursement"]:
        parts = ("paidOutFen", "inBatchFen", "payableFen", "waitingFen", "setOffFen")
        assert sum(row[p] for p in parts) == row["grantedFen"]
        assert sum(h["amountFen"] for h in row["holds"]) == row["waitingFen"]


async def test_a_payouts_change_is_noticed_without_a_decision(payouts_schema: str) -> None:
    """The reader looks again when the payouts change (here an alert): no decision needed."""
    await insert_payouts(payouts_schema)
    reader = LedgerReader(latest_limit=5)
    conn = await asyncpg.connect(as_role(payouts_schema, "dashboard"))
    owner = await asyncpg.connect(payouts_schema)
    try:
        first = await reader.look(conn)
        assert first is not None
        assert len(first.payouts.alerts) == 2
        assert await reader.look(conn) is None  # nothing changed: nothing read
        await add_alerts(owner, [(PARK, 2025, 80, "2025-07-20 08:00:00+08")])
        after: Figures | None = await reader.look(conn)
        assert after is not None, "a new alert was not noticed"
        assert {(a.channel, a.threshold) for a in after.payouts.alerts} == {
            (SCI, 80), (SCI, 100), (PARK, 80)}  # fmt: skip
        assert await reader.look(conn) is None
    finally:
        await conn.close()
        await owner.close()


async def test_nothing_paid_yet(payouts_schema: str) -> None:
    """The payouts are migrated but hold nothing: available, with no rows."""
    async with bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as running:
        totals = await _totals(running.url)
    assert totals["payouts"] == {"available": True, "disbursement": [], "budget": []}
    assert totals["overall"]["decisions"] == 0


async def test_no_payouts_tables_and_the_rest_is_served(ledger_db: LedgerDb) -> None:
    """A ledger without the payouts migrated: healthy, every other figure served."""
    async with bootstrap.dashboard(dashboard_settings(ledger_db.url), CATALOG) as running:
        totals = await _totals(running.url)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{running.url}/healthz") as health,
        ):
            assert health.status == 200
    assert totals["payouts"] == {"available": False, "disbursement": [], "budget": []}
    assert len(totals["byMeasure"]) == 12
