"""The dashboard in a real browser."""

# Headless Chromium shows the ledger's totals, in Chinese, and updates them while the page is open
# as new decisions are committed.

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from subsidy.dashboard import bootstrap
from subsidy.dashboard.metrics import REGISTRY
from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.money import compact, format_fen
from tests.dashboard.ledger_rows import dashboard_settings, decide, mix, totals
from tests.ledger.database import LedgerDb
from tests.ledger.events import CATALOG
from tests.support.chromium import Page, headless_chromium

# The fixture ledger_db.
pytestmark = pytest.mark.postgres

log = structlog.get_logger(__name__)

# What the page shows, read from its DOM in one go.
_READ_PAGE = """JSON.stringify({
  version: Number(document.body.dataset.version),
  live: document.getElementById("live").className,
  granted: document.getElementById("total-granted").textContent,
  grantedFull: document.getElementById("total-granted").title,
  decisions: document.getElementById("total-decisions").textContent,
  measures: Object.fromEntries([...document.querySelectorAll("#by-measure tbody tr")].map(
    tr => [tr.dataset.measure, [tr.cells[0].textContent, tr.cells[1].textContent,
                                tr.querySelector(".granted").textContent,
                                tr.querySelector(".granted").title]])),
  districts: Object.fromEntries([...document.querySelectorAll("#by-district tbody tr")].map(
    tr => [tr.dataset.district, [tr.cells[0].textContent,
                                 tr.querySelector(".granted").textContent,
                                 tr.querySelector(".granted").title]])),
  statuses: Object.fromEntries([...document.querySelectorAll("#by-status .status")].map(
    div => [div.dataset.status, div.querySelector(".n").textContent])),
  latest: [...document.querySelectorAll("#latest tbody tr")].map(tr => ({
    id: Number(tr.dataset.id), fresh: tr.classList.contains("fresh"),
    cells: [...tr.cells].map(td => td.textContent)})),
})"""


async def _read(page: Page) -> dict[str, Any]:
    return dict(json.loads(await page.evaluate(_READ_PAGE)))


def _count(n: int) -> str:
    return f"{n:,}"  # the page's toLocaleString("zh-CN") groups like this


async def _assert_shows_ledger(page: Page, url: str) -> dict[str, Any]:
    """The page's totals are the ledger's, by measure, district and status: in 万元/亿元 in
    the cards and tables, the amount in full (¥) in their tooltips."""
    expected = await totals(url)
    shown = await _read(page)
    assert shown["granted"] == compact(expected["granted"])
    assert shown["grantedFull"] == format_fen(expected["granted"])
    assert shown["decisions"] == _count(expected["decisions"])
    titles = {rule.measure: rule.title.split(" · ")[0] for rule in reversed(CATALOG.rules)}
    assert set(shown["measures"]) == {str(m) for m in titles}
    for measure, (label, title, granted, full) in shown["measures"].items():
        assert label == f"第{measure}条"
        assert title == titles[int(measure)]
        assert granted == compact(expected["by_measure"].get(int(measure), 0))
        assert full == format_fen(expected["by_measure"].get(int(measure), 0))
    assert set(shown["districts"]) == {d.value for d in District}
    for district, (name, granted, full) in shown["districts"].items():
        assert name == DISTRICT_NAMES_ZH[District(district)]
        assert granted == compact(expected["by_district"].get(district, 0))
        assert full == format_fen(expected["by_district"].get(district, 0))
    for status, n in expected["by_status"].items():
        assert shown["statuses"][status] == _count(n)
    return shown


async def test_page_shows_and_follows_the_ledger(ledger_db: LedgerDb, tmp_path: Path) -> None:
    url = ledger_db.url
    await decide(url, mix(seed=201, enterprises=8, events_per_enterprise=12))
    async with (
        bootstrap.dashboard(dashboard_settings(url), CATALOG) as dashboard,
        headless_chromium(tmp_path / "profile") as page,
    ):
        await page.navigate(f"{dashboard.url}/")
        await page.wait_for("document.getElementById('live').className.includes('on')")
        await page.wait_for("Number(document.body.dataset.version) > 0")
        first = await _assert_shows_ledger(page, url)
        assert first["latest"], "no latest decisions shown"
        newest = first["latest"][0]
        assert newest["cells"][5].startswith("¥")  # granted, as ¥1,234,567.89
        # This ledger has no payouts migrated: their sections say so, the rest is shown.
        unpaid = await page.evaluate(
            "[...document.querySelectorAll('#disbursement, #budget')].map(e => e.innerText)"
        )
        assert unpaid == ["暂无拨付数据（资金拨付尚未启用）"] * 2

        # Chinese is drawn with a CJK font, not as empty boxes.
        fonts = await page.fonts_of("header h1")
        cjk = [f for f in fonts if "CJK" in f["familyName"] or "CJK" in f["postScriptName"]]
        assert cjk, f"no CJK font renders the title ({fonts}): run scripts/bootstrap.sh chromium"

        # New decisions while the page is open: it follows without a reload.
        await page.evaluate("window.__notReloaded = true")
        await decide(url, mix(seed=202, enterprises=4, events_per_enterprise=12))
        expected = await totals(url)
        await page.wait_for(
            f"document.getElementById('total-decisions').textContent"
            f" === {json.dumps(_count(expected['decisions']))}"
        )
        assert await page.evaluate("window.__notReloaded === true")
        later = await _assert_shows_ledger(page, url)
        assert later["version"] > first["version"]
        assert later["latest"][0]["id"] > newest["id"]
        assert later["latest"][0]["fresh"]  # new rows are highlighted
        shot = await page.screenshot(tmp_path / "dashboard.png")
        assert shot.stat().st_size > 10_000
        log.info("dashboard.screenshot", path=str(shot))


# Counts the page's event streams as they open, installed before the page's own script runs.
_COUNT_STREAMS = """(function () {
  var Real = window.EventSource;
  window.__streamsOpened = 0;
  function Counted(url, options) {
    var source = new Real(url, options);
    source.addEventListener("open", function () { window.__streamsOpened += 1; });
    return source;
  }
  Counted.prototype = Real.prototype;
  Counted.CONNECTING = Real.CONNECTING; Counted.OPEN = Real.OPEN; Counted.CLOSED = Real.CLOSED;
  window.EventSource = Counted;
})();"""


def _refused() -> float:
    name = "subsidy_dashboard_streams_refused_total"
    return REGISTRY.get_sample_value(name, {"reason": "per_client"}) or 0.0


async def test_page_keeps_following_when_its_stream_ends(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    """Streams end after their lifetime: the page's EventSource opens the next one by itself,
    within the address's limit of one stream, and shows what was committed meanwhile."""
    url = ledger_db.url
    await decide(url, mix(seed=211, enterprises=3, events_per_enterprise=8))
    settings = dashboard_settings(url, stream_lifetime_seconds=2.0, streams_per_client=1)
    refused = _refused()
    async with (
        bootstrap.dashboard(settings, CATALOG) as dashboard,
        headless_chromium(tmp_path / "profile") as page,
    ):
        await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": _COUNT_STREAMS})
        await page.navigate(f"{dashboard.url}/")
        await page.wait_for("Number(document.body.dataset.version) > 0")
        await page.evaluate("window.__notReloaded = true")
        # The first stream ended and the next ones opened, with no reload.
        await page.wait_for("window.__streamsOpened >= 3", timeout_s=30)
        await decide(url, mix(seed=212, enterprises=2, events_per_enterprise=8))
        expected = await totals(url)
        await page.wait_for(
            f"document.getElementById('total-decisions').textContent"
            f" === {json.dumps(_count(expected['decisions']))}"
        )
        await page.wait_for("document.getElementById('live').className.includes('on')")
        assert await page.evaluate("window.__notReloaded === true")
        assert not [e for e in page.console_errors() if "/events" in e]  # no stream refused
    assert _refused() == refused
