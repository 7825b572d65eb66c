"""One `--format` and one `--lang` across the commands, and what their tables show."""

# `--format` is table|json|csv, table by default; `--lang` is zh by default, or SUBSIDY_LANG. Tables
# in Chinese words, whole amounts at 80 columns, Beijing time with its offset;
# `eligibility evaluate` reads CSV and XLSX as `subsidy ingest` does.

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from subsidy.api.v1 import api_pb2
from subsidy.cli.main import app
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Lang
from subsidy.ledger import decisions_view
from tests.factories import enterprise_id

SAMPLE = Path(__file__).parents[2] / "data" / "sample-events.jsonl"
HEADER = ["统一社会信用代码", "企业名称", "所属地区", "认定类型", "认定对象编号", "证书编号",
          "认定日期", "阶段", "人形机器人", "核定金额(元)"]  # fmt: skip
ROWS = [
    [enterprise_id(1), "苏州一号机器人有限公司", "苏州工业园区", "PROVINCIAL_KEY_LAB", "lab-1",
     "CERT-1", "2025-03-01", "", "", ""],
    [enterprise_id(2), "苏州二号机器人有限公司", "火星区", "GAZELLE", "g-2", "CERT-2",
     "2025-06-30", "", "", ""],
]  # fmt: skip


def invoke(*args: str, **env: str | None) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80", "SUBSIDY_LANG": None, **env})


# ---- the shared words, money and times -------------------------------------------------------


def test_the_words_of_each_language() -> None:
    assert (out.status("PAID", Lang.zh), out.status("PAID", Lang.en)) == ("已拨付", "Paid")
    assert out.district("SIP", Lang.zh) == "苏州工业园区"
    assert out.district("SIP", Lang.en) == "Suzhou Industrial Park"
    assert (out.measure(3, Lang.zh), out.measure(3, Lang.en)) == ("第3条", "Measure 3")
    assert out.reasons(["ANNUAL_CAP", "ITEM_CAP"], Lang.zh) == (
        "已达到该条款的年度支持上限；已达到该支持对象的支持上限")  # fmt: skip
    assert out.money(123_456_789) == "¥1,234,567.89"
    assert out.summary_money(1_234_567_800, Lang.zh) == "¥12,345,678.00（1,234.57万元）"
    moment = datetime(2026, 1, 2, 1, 30, 5, 123456, tzinfo=UTC)
    assert out.beijing(moment) == "2026-01-02 09:30:05 +08:00"
    assert out.iso(moment) == "2026-01-02T09:30:05+08:00"


def test_a_table_at_80_columns_never_cuts_an_amount_or_an_id() -> None:
    long_id = "js-provincial-cert-feed:91320500MA0000104Y:2027:0001/m08.compute_voucher#12"
    decision = dpb.Decision(
        decision_id=long_id, enterprise_id=enterprise_id(4), district=epb.SIP, measure=8,
        rule_id="m08.compute_voucher", year=2027, status=dpb.PARTIALLY_PAID,
        reasons=[dpb.ANNUAL_CAP, dpb.DUPLICATE_LOWER], granted_fen=922_337_203_685_477_580,
        cash_delta_fen=-922_337_203_685_477_580, decided_at="2026-01-02T09:30:05.123456+08:00",
    )  # fmt: skip
    page = api_pb2.ListDecisionsResponse(decisions=[decision], next_page_token="t" * 60)
    for lang in Lang:
        console = out.console(width=80)
        with console.capture() as captured:
            decisions_view.print_page(console, page, lang)
        text = captured.get()
        assert max(len(line) for line in text.splitlines()) > 80  # it did not fit: kept whole
        for whole in ("¥9,223,372,036,854,775.80", "-¥9,223,372,036,854,775.80",
                      enterprise_id(4), "2026-01-02 09:30:05 +08:00", "t" * 60):  # fmt: skip
            assert whole in text, (lang, whole)
        assert long_id in text


# ---- simulate: table by default, json and csv on request -------------------------------------


def test_simulate_prints_a_chinese_table_by_default_and_json_or_csv_on_request() -> None:
    table = invoke("simulate", "--events", str(SAMPLE))
    assert table.exit_code == 0, table.output
    for text in ("已拨付", "不予支持", "项资格，已拨付合计 ¥", "万元）"):
        assert text in table.stdout, text
    assert ":100:" in table.stdout  # an id is shown as it is (no emoji codes)
    english = invoke("simulate", "--events", str(SAMPLE), SUBSIDY_LANG="en")
    assert "Partially paid" in english.stdout
    assert "entitlement(s), granted ¥" in english.stdout
    doc = json.loads(invoke("simulate", "--events", str(SAMPLE), "--format", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(
        invoke("simulate", "--events", str(SAMPLE), "--format", "csv").stdout)))  # fmt: skip
    assert [r["entitlementId"] for r in rows] == [e["entitlementId"] for e in doc["entitlements"]]
    assert [int(r["grantedFen"]) for r in rows] == [e["grantedFen"] for e in doc["entitlements"]]
    piped = [line for line in table.stdout.splitlines() if "¥" in line]
    assert all(len(line) > 80 for line in piped[:3])  # piped: not wrapped at COLUMNS=80


@pytest.mark.parametrize("value", ["text", "xlsx", "yaml"])
def test_one_vocabulary_everywhere(value: str) -> None:
    for command in (["simulate", "--events", str(SAMPLE)], ["eligibility", "evaluate",
                                                             str(SAMPLE)]):  # fmt: skip
        refused = invoke(*command, "--format", value, COLUMNS="200")
        assert refused.exit_code == 2
        assert "'table', 'json', 'csv'" in refused.output
    assert invoke("simulate", "--events", str(SAMPLE), "--lang", "fr").exit_code == 2


# ---- eligibility evaluate reads what ingest reads --------------------------------------------


def _feed(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"feed{suffix}"
    if suffix == ".csv":
        path.write_text("\n".join(",".join(r) for r in [HEADER, *ROWS]) + "\n", encoding="utf-8")
        return path
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [HEADER, *ROWS]:
        sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_evaluate_reads_a_provincial_feed(tmp_path: Path, suffix: str) -> None:
    path = _feed(tmp_path, suffix)
    done = invoke("eligibility", "evaluate", str(path), "--format", "json", "--source", "prov")
    assert done.exit_code == 1, done.output  # the second row's district is unknown
    doc = json.loads(done.stdout)
    (evaluation,) = doc["evaluations"]
    assert (evaluation["line"], evaluation["eventId"]) == (2, "prov:CERT-1")
    assert evaluation["entitlements"][0]["ruleId"] == "m03.provincial_key_lab"
    (rejected,) = doc["rejectedEvents"]
    assert rejected["line"] == 3
    assert [e["field"] for e in rejected["fieldErrors"]] == ["所属地区"]
    table = invoke("eligibility", "evaluate", str(path))
    assert "第 2 行：事件 js-provincial-cert-feed:CERT-1" in table.stdout
    assert "第3条" in table.stdout
    assert "第 3 行：拒收事件" in table.stdout
    rows = list(csv.DictReader(io.StringIO(
        invoke("eligibility", "evaluate", str(path), "--format", "csv").stdout)))  # fmt: skip
    assert [(r["line"], r["status"], bool(r["error"])) for r in rows][-1] == ("3", "", True)


def test_evaluate_refuses_an_unreadable_feed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,其他\n", encoding="utf-8")
    done = invoke("eligibility", "evaluate", str(bad))
    assert done.exit_code == 2
    assert "unknown column" in done.output
