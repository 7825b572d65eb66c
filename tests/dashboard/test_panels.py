"""The new panels over a real ledger of three years with payouts."""

# The year filter changes every figure and is checked against the tables, the channels and the
# trends add up to the grants, the caps are the entitlements', the enterprise API, and the Excel
# export equals the JSON.

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from openpyxl import load_workbook

from subsidy.dashboard import bootstrap
from subsidy.dashboard.server import RunningDashboard
from subsidy.domain.money import compact, format_fen
from tests.dashboard.ledger_rows import dashboard_settings
from tests.dashboard.panel_rows import YEAR, fetch, granted_by_year, pay_one, seed, top_of_district
from tests.ledger.events import CATALOG

pytestmark = pytest.mark.postgres


@pytest.fixture
async def board(payouts_schema: str) -> AsyncIterator[RunningDashboard]:
    await seed(payouts_schema)
    async with bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as running:
        yield running


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def _totals(session: aiohttp.ClientSession, base: str, query: str = "") -> dict[str, Any]:
    for _ in range(100):
        status, body = await _get(session, f"{base}/api/totals{query}")
        if status == 200:
            return dict(body)
        await asyncio.sleep(0.1)
    raise AssertionError("no state")


async def test_year_filter_changes_every_panel(
    payouts_schema: str, board: RunningDashboard
) -> None:
    by_year = await granted_by_year(payouts_schema)
    assert {2025, 2026, 2027} <= set(by_year), by_year  # the mix spans the policy's years
    async with aiohttp.ClientSession() as session:
        whole = await _totals(session, board.url)
        assert whole["year"] is None
        assert whole["years"] == sorted(by_year)
        assert whole["overall"]["grantedFen"] == sum(by_year.values())
        seen = set()
        for year, granted in by_year.items():
            one = await _totals(session, board.url, f"?year={year}")
            assert one["year"] == year
            assert one["overall"]["grantedFen"] == granted
            assert one["overall"]["grantedShort"] == compact(granted)
            # Routed to channels and spread over months, nothing is lost or counted twice.
            assert sum(c["grantedFen"] for c in one["channels"]) == granted
            assert sum(sum(s["values"]) for s in one["trends"]["byMeasure"]) == granted
            assert sum(sum(s["values"]) for s in one["trends"]["byDistrict"]) == granted
            assert all(m.startswith(f"{year}-") for m in one["trends"]["months"])
            assert {d["year"] for d in one["payouts"]["disbursement"]} <= {year}
            seen.add(one["overall"]["grantedFen"])
        assert len(seen) == len(by_year)  # each year its own figures
        status, body = await _get(session, f"{board.url}/api/totals?year=1999")
        assert status == 400
        assert "2026" in body["error"]
        status, _ = await _get(session, f"{board.url}/api/latest?year=x")
        assert status == 400


async def test_channels_and_caps_are_the_ledgers(
    payouts_schema: str, board: RunningDashboard
) -> None:
    async with aiohttp.ClientSession() as session:
        state = await _totals(session, board.url, "?year=2025")
    channels = {c["channel"]: c for c in state["channels"]}
    # payout_rows: 市科技局 2025 paid out 500,000 + 200,000 net; its envelope 1,400,000.
    assert channels["市科技局"]["paidOutFen"] == 700_000_00
    assert channels["市科技局"]["envelopeFen"] == 1_400_000_00
    assert channels["市科技局"]["used"] == "84.28%"
    assert channels["苏州工业园区财政局"]["envelopeShort"] == "200.00万元"
    caps = await fetch(
        payouts_schema,
        "SELECT rule_id, enterprise_id, sum(granted_fen)::bigint AS g,"
        " max(annual_cap_fen)::bigint AS cap FROM entitlements"
        " WHERE year = 2025 AND annual_cap_fen IS NOT NULL GROUP BY 1, 2"
        " HAVING sum(granted_fen) > 0",
    )
    assert caps, "the mix grants under capped rules"
    shown = {r["ruleId"]: r for r in state["caps"]["rules"]}
    for rule in {c["rule_id"] for c in caps}:
        mine = [c for c in caps if c["rule_id"] == rule]
        assert shown[rule]["grantedFen"] == sum(c["g"] for c in mine)
        assert shown[rule]["capFen"] == sum(c["cap"] for c in mine)
        assert shown[rule]["enterprises"] == len(mine)
        assert shown[rule]["nearCap"] == sum(1 for c in mine if c["g"] * 10 >= c["cap"] * 9)
    near = {(n["ruleId"], n["enterpriseId"]) for n in state["caps"]["near"]}
    assert near == {(c["rule_id"], c["enterprise_id"]) for c in caps if c["g"] * 10 >= c["cap"] * 9}


async def test_enterprise_api_lists_entitlements_and_payments(
    payouts_schema: str, board: RunningDashboard
) -> None:
    district, enterprise = await top_of_district(payouts_schema, YEAR)
    order = await pay_one(payouts_schema, enterprise, YEAR)
    async with aiohttp.ClientSession() as session:
        await _totals(session, board.url)
        status, listed = await _get(
            session, f"{board.url}/api/enterprises?year={YEAR}&district={district}"
        )
        assert status == 200
        assert listed["enterprises"][0]["enterpriseId"] == enterprise
        status, body = await _get(session, f"{board.url}/api/enterprise/{enterprise}?year={YEAR}")
        assert status == 200
        status_missing, _ = await _get(session, f"{board.url}/api/enterprise/NOSUCHCODE")
        assert status_missing == 404
    rows = await fetch(
        payouts_schema,
        "SELECT entitlement_id, status, granted_fen, clause FROM entitlements"
        " WHERE enterprise_id = $1 AND year = $2",
        enterprise,
        YEAR,
    )
    assert {e["entitlementId"] for e in body["entitlements"]} == {r["entitlement_id"] for r in rows}
    by_id = {e["entitlementId"]: e for e in body["entitlements"]}
    for r in rows:
        assert by_id[r["entitlement_id"]]["status"] == r["status"]
        assert by_id[r["entitlement_id"]]["granted"] == format_fen(r["granted_fen"])
        assert by_id[r["entitlement_id"]]["clause"] == r["clause"]
    (payment,) = body["payments"]
    assert payment["orderId"] == order["order_id"]
    assert payment["stateLabel"] == "已发放"
    assert payment["updatedAt"].endswith("+00:00")
    assert body["paidOutFen"] == order["amount_fen"]


def _sheet_sum(wb: Any, sheet: str, header: str) -> Decimal:
    ws = wb[sheet]
    headers = [c.value for c in ws[1]]
    column = headers.index(header) + 1
    cells = [row[column - 1] for row in ws.iter_rows(min_row=2)]
    assert all(c.number_format == '"¥"#,##0.00' for c in cells)
    return sum((Decimal(str(c.value)) for c in cells), Decimal(0))


async def test_export_opens_and_its_totals_equal_the_json(board: RunningDashboard) -> None:
    async with aiohttp.ClientSession() as session:
        state = await _totals(session, board.url, f"?year={YEAR}")
        async with session.get(f"{board.url}/export.xlsx?year={YEAR}") as response:
            assert response.status == 200
            assert response.content_type.endswith("spreadsheetml.sheet")
            body = await response.read()
    wb = load_workbook(io.BytesIO(body))
    assert wb.sheetnames[0] == "筛选条件"
    assert {"概览", "按条款", "按地区", "月度趋势（条款）", "资金渠道", "年度上限", "资金拨付",
            "预算执行", "最新决定"} <= set(wb.sheetnames)  # fmt: skip
    facts = {r[0].value: r[1].value for r in wb["筛选条件"].iter_rows(min_row=2)}
    assert facts["年度"] == f"{YEAR}年"
    exported = datetime.fromisoformat(facts["导出时间（北京时间）"])
    assert facts["导出时间（北京时间）"].endswith("+08:00")
    assert exported.utcoffset() is not None
    yuan = Decimal(state["overall"]["grantedFen"]) / 100
    assert _sheet_sum(wb, "概览", "已拨付金额（元）") == yuan
    assert _sheet_sum(wb, "按条款", "已拨付金额（元）") == yuan
    assert _sheet_sum(wb, "按地区", "已拨付金额（元）") == yuan
    assert _sheet_sum(wb, "资金渠道", "核定拨付（元）") == yuan
    paid = sum(c["paidOutFen"] for c in state["channels"])
    assert _sheet_sum(wb, "资金渠道", "已发放（元）") == Decimal(paid) / 100
    months = wb["月度趋势（条款）"]
    total = sum(
        (Decimal(str(c.value)) for row in months.iter_rows(min_row=2, min_col=2) for c in row),
        Decimal(0),
    )
    assert total == yuan
    assert wb["按条款"]["A1"].value == "条款"
