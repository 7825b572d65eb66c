"""The new panels in headless Chromium at a desktop's width (1440 px) and a phone's (390 px)."""

# The year in the URL drives every panel, the chart is drawn without anything from outside, nothing
# overflows the window sideways and no amount is clipped or wrapped; a district row drills down to
# its enterprises and on to the enterprise view with its rows and payments.

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from subsidy.dashboard import bootstrap
from subsidy.domain.money import compact, format_fen
from tests.dashboard.ledger_rows import dashboard_settings
from tests.dashboard.panel_rows import YEAR, fetch, pay_one, seed, shots_dir, top_of_district
from tests.ledger.events import CATALOG
from tests.support.chromium import headless_chromium
from tests.support.layout import WIDTHS, find_spills, open_at

pytestmark = pytest.mark.postgres

log = structlog.get_logger(__name__)

_READ = """JSON.stringify({
  year: document.body.dataset.year,
  selected: document.getElementById("year").value,
  exportHref: document.getElementById("export").getAttribute("href"),
  granted: document.getElementById("total-granted").textContent,
  grantedTitle: document.getElementById("total-granted").title,
  bars: document.querySelectorAll("#trend-chart svg rect").length,
  chartWidth: document.querySelector("#trend-chart svg").getBoundingClientRect().width,
  chartBox: document.getElementById("trend-chart").clientWidth,
  legend: [...document.querySelectorAll("#trend-legend > span")].map(s => s.dataset.key),
  channels: Object.fromEntries([...document.querySelectorAll("#channels tbody tr")].map(
    tr => [tr.dataset.channel, tr.querySelector(".granted").title])),
  caps: [...document.querySelectorAll("#caps tbody tr")].map(tr => tr.dataset.rule),
  near: [...document.querySelectorAll("#near-cap tbody tr a.ent")].map(a => a.getAttribute("href")),
  latest: [...document.querySelectorAll("#latest tbody tr a.ent")].map(a => a.getAttribute("href")),
})"""


async def _state(base: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/api/totals?year={YEAR}") as response,
    ):
        assert response.status == 200
        return dict(await response.json())


async def test_panels_at_desktop_and_phone_width(payouts_schema: str, tmp_path: Path) -> None:
    await seed(payouts_schema)
    shots = shots_dir(tmp_path)
    async with (
        bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as dashboard,
        headless_chromium(tmp_path / "profile") as page,
    ):
        for name, width in WIDTHS.items():
            await open_at(page, f"{dashboard.url}/?year={YEAR}", width)
            await page.wait_for("Number(document.body.dataset.version) > 0")
            await page.wait_for("document.querySelectorAll('#trend-chart rect').length > 0")
            state = await _state(dashboard.url)
            shown = json.loads(await page.evaluate(_READ))
            spills = await find_spills(page, ".scroll", "td.num, .kpi .value, dd")
            shot = await page.screenshot(shots / f"dashboard-{YEAR}-{name}-{width}.png")
            log.info("dashboard.screenshot", path=str(shot))
            assert spills == [], name
            assert shown["year"] == shown["selected"] == str(YEAR)
            assert shown["exportHref"] == f"export.xlsx?year={YEAR}"
            assert shown["granted"] == compact(state["overall"]["grantedFen"])
            assert shown["grantedTitle"] == format_fen(state["overall"]["grantedFen"])
            assert shown["bars"] > 0
            assert shown["chartWidth"] <= shown["chartBox"] + 1  # the chart fits its box
            assert shown["legend"] == [s["key"] for s in state["trends"]["byMeasure"]]
            assert shown["channels"] == {c["channel"]: c["granted"] for c in state["channels"]}
            assert shown["caps"] == [r["ruleId"] for r in state["caps"]["rules"]]
            assert all(h.startswith("enterprise/") for h in shown["near"] + shown["latest"])
            assert all(h.endswith(f"?year={YEAR}") for h in shown["near"] + shown["latest"])
            # By district, the same months and amounts.
            await page.evaluate("document.querySelector('[data-by=byDistrict]').click()")
            keys = json.dumps(
                [s["key"] for s in state["trends"]["byDistrict"]], separators=(",", ":")
            )
            await page.wait_for(
                "JSON.stringify([...document.querySelectorAll('#trend-legend > span')]"
                f".map(s => s.dataset.key)) === {json.dumps(keys)}"
            )
        # Another year, other figures: the filter reaches every panel.
        await open_at(page, f"{dashboard.url}/?year=2025", WIDTHS["desktop"])
        await page.wait_for("document.body.dataset.year === '2025'")
        other = await page.evaluate("document.getElementById('total-granted').title")
        assert other != format_fen(state["overall"]["grantedFen"])
        assert page.console_errors() == []


_ENTERPRISE = """JSON.stringify({
  name: document.getElementById("name").textContent,
  rows: [...document.querySelectorAll("#entitlements tbody tr")].map(tr => ({
    id: tr.dataset.entitlement, year: tr.dataset.year,
    status: tr.querySelector(".tag").textContent,
    granted: tr.querySelector(".granted").textContent,
    clause: tr.querySelector(".clause").textContent})),
  payments: [...document.querySelectorAll("#payments tbody tr")].map(tr => ({
    order: tr.dataset.order, net: tr.querySelector(".net").textContent,
    state: tr.querySelector("[data-state]").dataset.state})),
  back: document.getElementById("back").getAttribute("href"),
})"""


async def test_drill_down_reaches_the_enterprise(payouts_schema: str, tmp_path: Path) -> None:
    await seed(payouts_schema)
    district, enterprise = await top_of_district(payouts_schema, YEAR)
    order = await pay_one(payouts_schema, enterprise, YEAR)
    shots = shots_dir(tmp_path)
    async with (
        bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as dashboard,
        headless_chromium(tmp_path / "profile") as page,
    ):
        await open_at(page, f"{dashboard.url}/?year={YEAR}", WIDTHS["phone"])
        await page.wait_for("Number(document.body.dataset.version) > 0")
        await page.evaluate(f"document.querySelector('#by-district tr[data-district={district}]')"
                            ".click()")  # fmt: skip
        await page.wait_for("document.getElementById('enterprises-section').dataset.loaded")
        loaded = "document.getElementById('enterprises-section').dataset.loaded"
        assert await page.evaluate(loaded) == "1"
        assert await page.evaluate("location.search") == f"?year={YEAR}&district={district}"
        first = await page.evaluate(
            "document.querySelector('#enterprises tbody tr').dataset.enterprise"
        )
        assert first == enterprise
        await page.evaluate("document.querySelector('#enterprises tbody a.ent').click()")
        # The link navigates: until the new document is there, there may be no body.
        await page.wait_for(
            "location.pathname.startsWith('/enterprise/') && document.body !== null"
            " && document.body.dataset.loaded === '1'"
        )
        assert await page.evaluate("location.pathname") == f"/enterprise/{enterprise}"
        shown = json.loads(await page.evaluate(_ENTERPRISE))
        spills = await find_spills(page, ".scroll", "td.num, .kpi .value, dd")
        shot = await page.screenshot(shots / f"enterprise-{YEAR}-phone-390.png")
        log.info("dashboard.screenshot", path=str(shot))
        await open_at(page, f"{dashboard.url}/enterprise/{enterprise}?year={YEAR}", 1440)
        await page.wait_for("document.body.dataset.loaded === '1'")
        wide_spills = await find_spills(page, ".scroll", "td.num, .kpi .value, dd")
        await page.screenshot(shots / f"enterprise-{YEAR}-desktop-1440.png")
        assert page.console_errors() == []
    assert spills == []
    assert wide_spills == []
    rows = await fetch(
        payouts_schema,
        "SELECT entitlement_id, enterprise_name, status, granted_fen, clause FROM entitlements"
        " WHERE enterprise_id = $1 AND year = $2 ORDER BY occurred_on, seq",
        enterprise,
        YEAR,
    )
    assert shown["name"] == rows[0]["enterprise_name"]
    assert [r["id"] for r in shown["rows"]] == [r["entitlement_id"] for r in rows]
    assert {r["year"] for r in shown["rows"]} == {str(YEAR)}
    for got, want in zip(shown["rows"], rows, strict=True):
        assert got["granted"] == format_fen(want["granted_fen"])
        assert got["clause"] == want["clause"]
    assert shown["payments"] == [
        {"order": order["order_id"], "net": format_fen(order["amount_fen"]), "state": "PAID_OUT"}
    ]
    assert shown["back"] == f"../?year={YEAR}"
