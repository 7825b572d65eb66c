"""The three renderings of a report whose history came from the ledger."""

# Where it came from, whether the baseline replay reproduces the ledger, and what could not be
# replayed.

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from subsidy.ledger.history import LedgerHistory, RecordedEntitlement
from subsidy.reform.history import from_ledger
from subsidy.reform.policy import load_policies
from subsidy.reform.render_html import to_html
from subsidy.reform.render_json import to_json
from subsidy.reform.render_table import print_report
from subsidy.reform.report import ReformReport, build_report
from tests.factories import jsonl
from tests.reform.test_diff import HISTORY, WAN

DECIDED = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def _report(
    tmp_path: Path, recorded: dict[str, RecordedEntitlement], **kept: list[str]
) -> ReformReport:
    reform = tmp_path / "reform.yaml"
    reform.write_text("rules: {m08.compute_voucher: {rate: '0.30'}}\n", "utf-8")
    ledger = LedgerHistory(
        events=jsonl(HISTORY), recorded=recorded, last_decided_at=DECIDED, **kept
    )
    history = from_ledger(ledger, "postgresql://subsidy@db/subsidy")
    return build_report(load_policies(reform), history, DECIDED)


# What the ledger holds after HISTORY under the packaged catalog.
AS_DECIDED = {
    "a-1/m08.compute_voucher": RecordedEntitlement("PAID", 20 * WAN, "v1"),
    "b-1/m08.compute_voucher": RecordedEntitlement("PAID", 120 * WAN, "v1"),
    "b-2/m08.compute_voucher": RecordedEntitlement("PARTIALLY_PAID", 80 * WAN, "v1"),
}


def _table(report: ReformReport) -> str:
    out = io.StringIO()
    print_report(Console(file=out, width=120, soft_wrap=True, color_system=None), report)
    return out.getvalue()


def test_a_ledger_the_replay_reproduces(tmp_path: Path) -> None:
    report = _report(tmp_path, AS_DECIDED)
    out = to_json(report)
    assert out["source"]["kind"] == "ledger"
    assert out["source"]["ledger"]["lastDecidedAt"] == "2026-03-01T10:00:00+08:00"
    assert out["source"]["baselineCheck"] == {
        "reproduced": True, "compared": 3, "matching": 3, "differing": 0,
        "firstDiffering": [], "catalogVersions": ["v1"],
    }  # fmt: skip
    assert out["total"]["deltaFen"] == 10 * WAN
    table = _table(report)
    assert "历史 history: 台账 the ledger postgresql://subsidy@db/subsidy, 3 个事件 events" in table
    assert "台账最近决定 last decided: 2026-03-01 10:00:00 北京时间" in table
    assert "reproduces all 3 of the ledger's entitlements" in table
    html = to_html(report)
    assert 'class="ok">台账复核 ledger check' in html
    assert 'class="warn"' not in html


def test_a_ledger_the_replay_does_not_reproduce(tmp_path: Path) -> None:
    recorded = {**AS_DECIDED, "gone-1/m03.provincial_key_lab": RecordedEntitlement("PAID", 1, "v0")}
    report = _report(tmp_path, recorded, missing=["gone-1"], expired=["review-9"])
    check = to_json(report)["source"]["baselineCheck"]
    assert (check["reproduced"], check["differing"]) == (False, 1)
    assert check["firstDiffering"] == ["gone-1/m03.provincial_key_lab"]
    assert check["catalogVersions"] == ["v0", "v1"]
    table = _table(report)
    assert "1 of 4 entitlements differ from the ledger" in table
    assert "1 events taken before the ledger kept events (0004), not replayed" in table
    assert "1 reviews the ledger expired by the clock, not replayed" in table
    html = to_html(report)
    assert 'class="warn">台账复核 ledger check' in html
    assert "1 of 4 entitlements differ from the ledger" in html
    json.dumps(to_json(report))  # serialisable as it is
