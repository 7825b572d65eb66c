"""The reform report's HTML page in a real browser."""

# Headless Chromium draws its charts (one bar per category and side, gains and losses), in Chinese,
# with nothing cut off and no console errors, from the file alone (nothing is fetched).

import json
from pathlib import Path
from typing import Any

import structlog
from typer.testing import CliRunner

from subsidy.cli.main import app
from tests.support.chromium import headless_chromium

log = structlog.get_logger(__name__)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data/sample-events.jsonl"
# A reform with winners and losers: a richer compute voucher, but the policy ends a year early.
REFORM = "valid_to: 2026-12-31\nrules:\n  m08.compute_voucher:\n    rate: '0.30'\n"

# Per chart: its bars by class, and any text that spills out of the drawing.
_READ_CHARTS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll("svg.chart")].map(
  svg => {
    const width = svg.viewBox.baseVal.width;
    const spills = [...svg.querySelectorAll("text")].filter(t => {
      const box = t.getBBox();
      return box.x < -0.5 || box.x + box.width > width + 0.5;
    }).map(t => t.textContent);
    const count = sel => svg.querySelectorAll(sel).length;
    return [svg.dataset.chart, {
      bars: count("rect.bar"), baseline: count("rect.bar.baseline"),
      reform: count("rect.bar.reform"), gain: count("rect.bar.gain"),
      loss: count("rect.bar.loss"), spills,
      shown: svg.getBoundingClientRect().width > 300,
    }];
  })))"""


def _report(tmp_path: Path, output_format: str) -> Path:
    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, "utf-8")
    out = tmp_path / f"report.{output_format}"
    result = CliRunner().invoke(
        app,
        ["policy", "diff", "--reform", str(reform), "--events", str(SAMPLE),
         "--format", output_format, "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


async def test_report_page_draws_its_charts_in_chromium(tmp_path: Path) -> None:
    expected: dict[str, Any] = json.loads(_report(tmp_path, "json").read_text("utf-8"))
    page_file = _report(tmp_path, "html")
    gainers = sum(e["deltaFen"] > 0 for e in expected["enterprises"])
    losers = sum(e["deltaFen"] < 0 for e in expected["enterprises"])
    assert gainers, "the reform should have winners"
    assert losers, "the reform should have losers"

    async with headless_chromium(tmp_path / "profile") as page:
        await page.navigate(page_file.as_uri())
        charts = json.loads(await page.evaluate(_READ_CHARTS))
        assert set(charts) == {"measure", "district", "channel", "year", "enterprises"}
        for chart, key in (("measure", "byMeasure"), ("district", "byDistrict"),
                           ("channel", "byChannel"), ("year", "byYear")):  # fmt: skip
            rows = len(expected[key])
            assert rows > 1
            assert charts[chart]["baseline"] == charts[chart]["reform"] == rows, chart
            assert charts[chart]["bars"] == 2 * rows, chart
        people = charts["enterprises"]
        assert (people["gain"], people["loss"]) == (min(gainers, 10), min(losers, 10))
        assert people["bars"] == people["gain"] + people["loss"]
        for chart, seen in charts.items():
            assert seen["spills"] == [], f"{chart}: text outside the chart: {seen['spills']}"
            assert seen["shown"], f"{chart} is not laid out at a readable width"

        # Bars are drawn to one scale: width ∝ amount, on each side, in every category.
        bars = json.loads(
            await page.evaluate(
                "JSON.stringify([...document.querySelectorAll("
                "'svg[data-chart=measure] rect.bar')].map(r => [Number(r.dataset.fen),"
                " r.getBBox().width]))"
            )
        )
        assert {fen for fen, _ in bars} >= {r["reformFen"] for r in expected["byMeasure"]}
        largest = max(bars)
        scale = largest[1] / largest[0]
        for fen, width in bars:
            assert abs(width - fen * scale) < 0.2, (fen, width)

        # The headline figures, in Chinese, drawn with a CJK font; no sideways scrolling.
        text = await page.evaluate("document.body.innerText")
        for needle in ("政策改革测算", "基线成本", "改革成本", "成本差额", "按措施", "按区县",
                       "按资金渠道", "按年度", "企业增减", "状态变化", "北京时间"):  # fmt: skip
            assert needle in text, needle
        for selector in ("header h1", "svg[data-chart=measure] text.label"):
            fonts = await page.fonts_of(selector)
            assert any("CJK" in f["familyName"] for f in fonts), (selector, fonts)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            "the page is wider than the window"
        )

        assert page.console_errors() == []
        shot = await page.screenshot(tmp_path / "reform.png")
        assert shot.stat().st_size > 50_000
        log.info("reform.screenshot", path=str(shot))
