"""The payouts in a real browser at a phone's width (390 px)."""

# Headless Chromium shows each channel-year's disbursement and budget burn, Chinese first, in ¥,
# nothing wider than its box; and says 暂无拨付数据 when nothing was paid yet.

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from subsidy.dashboard import bootstrap
from tests.dashboard.ledger_rows import dashboard_settings
from tests.dashboard.payout_rows import insert_payouts
from tests.ledger.events import CATALOG
from tests.support.chromium import Page, headless_chromium

pytestmark = pytest.mark.postgres

log = structlog.get_logger(__name__)

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}

# The two sections as drawn, and whatever sticks out: a section wider than its box or the
# window, an element beyond its section's edges, a text wider than its own box.
_READ = """JSON.stringify({
  width: window.innerWidth,
  pageWidth: document.documentElement.scrollWidth,
  text: ["disbursement", "budget"].map(id => document.getElementById(id).innerText),
  disbursement: [...document.querySelectorAll("#disbursement .card")].map(c => ({
    key: c.dataset.channel + "/" + c.dataset.year,
    head: c.querySelector(".head").textContent,
    figs: Object.fromEntries([...c.querySelectorAll("[data-fig]")].map(
      f => [f.dataset.fig, f.querySelector("dd").textContent])),
    holds: Object.fromEntries([...c.querySelectorAll("[data-hold]")].map(
      h => [h.dataset.hold, h.textContent])),
  })),
  budget: [...document.querySelectorAll("#budget .card")].map(c => ({
    key: c.dataset.channel + "/" + c.dataset.year,
    figs: Object.fromEntries([...c.querySelectorAll("[data-fig]")].map(
      f => [f.dataset.fig, f.querySelector("dd").textContent])),
    badges: [...c.querySelectorAll(".badge")].map(b => b.textContent),
    meter: c.querySelector(".meter span").style.width,
  })),
  spills: [...document.querySelectorAll("#disbursement-section, #budget-section")].flatMap(s => {
    const box = s.getBoundingClientRect();
    const out = [];
    if (s.scrollWidth > s.clientWidth) { out.push(s.id + " scrolls sideways"); }
    if (box.right > window.innerWidth + 0.5) { out.push(s.id + " beyond the window"); }
    for (const el of s.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width && (r.right > box.right + 0.5 || r.left < box.left - 0.5)) {
        out.push(s.id + ": " + el.tagName + "." + el.className + " " + el.textContent);
      }
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
        out.push(s.id + ": clipped " + el.tagName + " " + el.textContent);
      }
    }
    return out;
  }),
})"""


async def _open(page: Page, base: str) -> dict[str, Any]:
    await page.send("Emulation.setDeviceMetricsOverride", PHONE)
    await page.navigate(f"{base}/")
    await page.wait_for("Number(document.body.dataset.version) > 0")
    return dict(json.loads(await page.evaluate(_READ)))


async def test_phone_shows_disbursement_and_budget(payouts_schema: str, tmp_path: Path) -> None:
    await insert_payouts(payouts_schema)
    async with (
        bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as dashboard,
        headless_chromium(tmp_path / "profile") as page,
    ):
        shown = await _open(page, dashboard.url)
        shot = await page.screenshot(tmp_path / "payouts-390.png")
        log.info("dashboard.screenshot", path=str(shot))
        assert page.console_errors() == []
    assert shown["width"] == 390
    assert shown["spills"] == []
    assert shown["pageWidth"] <= shown["width"], "the page scrolls sideways"
    cards = {c["key"]: c for c in shown["disbursement"]}
    assert list(cards) == ["苏州工业园区财政局/2026", "市科技局/2025", "苏州工业园区财政局/2025",
                           "市科技局/2024"]  # fmt: skip
    science = cards["市科技局/2025"]
    assert science["head"] == "市科技局2025年度应拨付 ¥1,280,000.00"
    assert science["figs"] == {
        "paidOut": "¥700,000.00", "inBatch": "¥120,000.00", "payable": "¥80,000.00",
        "waiting": "¥205,000.00", "setOff": "¥175,000.00", "outstanding": "¥35,000.00",
    }  # fmt: skip
    assert science["holds"] == {
        "NEW": "待处理 ¥10,000.00", "PUBLICITY": "公示中 ¥20,000.00",
        "OBJECTION": "异议待复核 ¥30,000.00", "BUDGET": "预算不足 ¥40,000.00",
        "NO_ACCOUNT": "无收款账户 ¥45,000.00", "RETURNED": "银行退回 ¥60,000.00",
    }  # fmt: skip
    assert cards["苏州工业园区财政局/2025"]["holds"] == {"NO_ACCOUNT": "无收款账户 ¥25,000.12"}
    assert cards["市科技局/2024"]["holds"] == {}
    budget = {c["key"]: c for c in shown["budget"]}
    assert list(budget) == ["苏州工业园区财政局/2026", "市工信局/2025", "市科技局/2025",
                            "苏州工业园区财政局/2025", "市科技局/2024"]  # fmt: skip
    assert budget["市科技局/2025"] == {
        "key": "市科技局/2025",
        "figs": {"envelope": "¥1,400,000.00", "committed": "¥1,180,000.00", "used": "84.28%",
                 "remaining": "¥220,000.00"},
        "badges": ["已达80%", "预算不足"],
        "meter": "84.28%",
    }  # fmt: skip
    assert budget["苏州工业园区财政局/2026"]["figs"]["envelope"] == "未载入预算"
    assert budget["苏州工业园区财政局/2026"]["figs"]["used"] == "—"
    assert budget["市科技局/2024"]["figs"]["used"] == "99.99%"
    assert budget["市工信局/2025"]["badges"] == []


async def test_phone_says_nothing_was_paid_yet(payouts_schema: str, tmp_path: Path) -> None:
    async with (
        bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as dashboard,
        headless_chromium(tmp_path / "profile") as page,
    ):
        shown = await _open(page, dashboard.url)
    assert shown["text"] == ["暂无拨付数据", "暂无拨付数据"]
    assert shown["spills"] == []
    assert shown["pageWidth"] <= shown["width"]
