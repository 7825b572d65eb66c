"""What the dashboard shows."""

# Every measure, district and status, Chinese labels, ¥ amounts, Suzhou time; the page's inline code
# is exactly what its CSP allows; the hub's hand-over.

import asyncio
import json
import re
from datetime import UTC, datetime

from subsidy.dashboard.reader import Figures, LatestDecision, Total
from subsidy.dashboard.routes import STATIC
from subsidy.dashboard.server import Hub, Page
from subsidy.dashboard.view import DashboardView, measure_titles
from subsidy.domain.catalog import load_catalog
from subsidy.domain.entitlements import STATUS_LABELS_ZH, Status
from subsidy.domain.enums import District

CATALOG = load_catalog()


def test_measure_titles_come_from_the_catalog() -> None:
    titles = measure_titles(CATALOG)
    assert list(titles) == list(range(1, 13))
    assert titles[3] == "建设高能级创新平台"
    assert all(" · " not in t for t in titles.values())


def _figures() -> Figures:
    return Figures(
        overall=Total(None, 5, 123_456_789, 100, 3, 9),
        by_measure=[Total(3, 4, 123_400_000, 100, 2, 7), Total(8, 1, 56_789, 0, 1, 2)],
        by_district=[Total("SIP", 5, 123_456_789, 100, 3, 9)],
        by_status=[Total("PAID", 3, 0, 0, 3, 3), Total("DENIED", 2, 0, 0, 0, 2)],
        latest=[
            LatestDecision(
                id=42,
                decision_id="e1/m03.provincial_key_lab#2",
                decided_at=datetime(2025, 6, 30, 16, 30, 5, tzinfo=UTC),
                enterprise_id="91320500MA00000011",
                enterprise_name="苏州<b>测试</b>机器人",
                rule_id="m03.provincial_key_lab",
                measure=3,
                district="SIP",
                status="REVOKED",
                granted_fen=0,
                cash_delta_fen=-500_000_000,
            )
        ],
    )


def test_totals_list_everything_with_zeros() -> None:
    totals = DashboardView(CATALOG).totals(_figures())
    assert totals["policy"] == "苏州市支持具身智能机器人产业创新发展的若干措施"
    assert totals["overall"]["granted"] == "¥1,234,567.89"
    assert totals["overall"]["decisions"] == 9
    measures = {m["measure"]: m for m in totals["byMeasure"]}
    assert list(measures) == list(range(1, 13))
    assert measures[3]["label"] == "第3条"
    assert measures[3]["granted"] == "¥1,234,000.00"
    assert measures[1]["granted"] == "¥0.00"
    assert [d["district"] for d in totals["byDistrict"]] == [d.value for d in District]
    assert {d["district"]: d["name"] for d in totals["byDistrict"]}["SIP"] == "苏州工业园区"
    statuses = {s["status"]: s for s in totals["byStatus"]}
    assert set(statuses) == {s.value for s in Status} == set(STATUS_LABELS_ZH)
    assert statuses["PAID"] == {"status": "PAID", "label": "已拨付", "count": 3}
    assert statuses["REVOKED"]["count"] == 0


def test_latest_decision_row() -> None:
    (row,) = DashboardView(CATALOG).latest(_figures())
    assert row["time"] == "2025-07-01 00:30:05"  # Suzhou time
    assert row["decidedAt"] == "2025-06-30T16:30:05+00:00"
    assert row["rule"] == "第3条 建设高能级创新平台 · 江苏省重点实验室"
    assert row["districtName"] == "苏州工业园区"
    assert row["statusLabel"] == "已撤销"
    assert row["cashDelta"] == "-¥5,000,000.00"
    assert row["enterpriseName"] == "苏州<b>测试</b>机器人"  # as is: the page sets it as text


def test_unknown_codes_pass_through() -> None:
    figures = Figures(
        overall=Total(None, 1, 0, 0, 0, 1),
        by_district=[Total("ELSEWHERE", 1, 0, 0, 0, 1)],
        by_status=[Total("NEW_STATUS", 1, 0, 0, 0, 1)],
    )
    totals = DashboardView(CATALOG).totals(figures)
    assert totals["byDistrict"][-1]["name"] == "ELSEWHERE"
    assert totals["byStatus"][-1] == {"status": "NEW_STATUS", "label": "NEW_STATUS", "count": 1}


def test_pages_are_self_contained_and_their_csp_allows_only_their_own_files() -> None:
    """No inline code or style (the CSP runs only the dashboard's own files), nothing from
    another origin, nothing written as HTML; every file a page names is served."""
    page = Page.load()
    for html in (page.html, page.enterprise_html):
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing external
        assert not re.search(r"<script>|<style>|\sstyle=|\son[a-z]+=", html)  # nothing inline
        named = re.findall(r'(?:src|href)="(?:\.\./)?static/([^"]+)"', html)
        assert named
        assert set(named) <= set(STATIC)
    for name, body in page.static.items():
        text = body.decode()
        assert "innerHTML" not in text, name
        assert "insertAdjacentHTML" not in text, name
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name
    assert "script-src 'self';" in page.csp
    assert "style-src 'self';" in page.csp
    assert "unsafe-inline" not in page.csp
    assert "connect-src 'self'" in page.csp


async def test_hub_hands_the_newest_state_to_waiters() -> None:
    hub = Hub()
    waiter = asyncio.create_task(hub.wait_newer(0, 5))
    await asyncio.sleep(0)
    hub.publish({"overall": {"granted": "¥1.00"}}, [{"id": 1}])
    assert await waiter
    assert not await hub.wait_newer(hub.version, 0.01)
    lines = hub.frame.decode().split("\n")
    assert lines[:2] == ["id: 1", "event: state"]
    data = json.loads(lines[2].removeprefix("data: "))
    assert data["version"] == 1
    assert data["latest"] == [{"id": 1}]
    assert hub.frame.endswith(b"\n\n")
    hub.close()
    assert await hub.wait_newer(hub.version, 5)
