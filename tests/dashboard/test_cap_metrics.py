"""True cap utilisation on the dashboard's /metrics."""

# Granted ÷ annual cap per enterprise-year, counted by band and its highest share per capped rule,
# against a real ledger's entitlements.

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from subsidy.dashboard import bootstrap
from subsidy.dashboard.cap_metrics import BANDS, band_of, capped_rules
from subsidy.dashboard.server import RunningDashboard
from tests.dashboard.ledger_rows import dashboard_settings
from tests.dashboard.panel_rows import fetch, seed
from tests.ledger.events import CATALOG

ENTERPRISE_YEARS = "subsidy_dashboard_cap_utilisation_enterprise_years"
RATIO_MAX = "subsidy_dashboard_cap_utilisation_ratio_max"
RATIO = "subsidy_dashboard_cap_utilisation_ratio"

# Each enterprise-year's use of its cap, computed here in SQL, apart from the dashboard's code.
_USES = """
SELECT rule_id, sum(granted_fen)::bigint AS granted, max(annual_cap_fen)::bigint AS cap,
       CASE WHEN sum(granted_fen) >= max(annual_cap_fen) THEN 'at_cap'
            WHEN sum(granted_fen) * 10 >= max(annual_cap_fen) * 9 THEN '90_to_100'
            WHEN sum(granted_fen) * 2 >= max(annual_cap_fen) THEN '50_to_90'
            ELSE 'below_50' END AS band
FROM entitlements
WHERE annual_cap_fen IS NOT NULL
GROUP BY rule_id, year, enterprise_id
HAVING sum(granted_fen) > 0
"""


def test_bands_split_at_half_ninety_percent_and_the_cap() -> None:
    cap = 2_000_000_00
    assert band_of(0, cap) == "below_50"
    assert band_of(cap // 2 - 1, cap) == "below_50"
    assert band_of(cap // 2, cap) == "50_to_90"
    assert band_of(cap * 9 // 10 - 1, cap) == "50_to_90"  # one fen short is not rounded up
    assert band_of(cap * 9 // 10, cap) == "90_to_100"
    assert band_of(cap - 1, cap) == "90_to_100"
    assert band_of(cap, cap) == "at_cap"
    assert [name for name, _ in BANDS] == ["below_50", "50_to_90", "90_to_100", "at_cap"]


@pytest.fixture
async def board(payouts_schema: str) -> AsyncIterator[RunningDashboard]:
    await seed(payouts_schema)
    async with bootstrap.dashboard(dashboard_settings(payouts_schema), CATALOG) as running:
        yield running


async def _scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The dashboard's cap gauges once it has read the ledger, by name and labels."""
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            async with session.get(f"{url}/api/totals") as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.1)
        async with session.get(f"{url}/metrics") as response:
            assert response.status == 200
            text = await response.text()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("subsidy_dashboard_cap_"):
                labels = tuple(sorted(sample.labels.items()))
                found.setdefault(sample.name, {})[labels] = sample.value
    return found


@pytest.mark.postgres
async def test_cap_gauges_are_the_ledgers_enterprise_years(
    payouts_schema: str, board: RunningDashboard
) -> None:
    uses = await fetch(payouts_schema, _USES)
    gauges = await _scrape(board.url)
    rules = set(capped_rules(CATALOG)) | {u["rule_id"] for u in uses}
    assert len({u["band"] for u in uses}) >= 2, "the mix spreads over the bands"
    for rule in rules:
        mine = [u for u in uses if u["rule_id"] == rule]
        for band, _ in BANDS:
            want = sum(1 for u in mine if u["band"] == band)
            assert gauges[ENTERPRISE_YEARS][(("band", band), ("rule", rule))] == want, (rule, band)
        top = max((u["granted"] / u["cap"] for u in mine), default=0.0)
        assert gauges[RATIO_MAX][(("rule", rule),)] == pytest.approx(top)
        cap = sum(u["cap"] for u in mine)
        whole = sum(u["granted"] for u in mine) / cap if cap else 0.0
        assert gauges[RATIO][(("rule", rule),)] == pytest.approx(whole)
    # Bounded labels: a capped rule and a band, never an enterprise.
    assert {k for labels in gauges[ENTERPRISE_YEARS] for k, _ in labels} == {"band", "rule"}
    assert len(gauges[ENTERPRISE_YEARS]) == len(rules) * len(BANDS)
