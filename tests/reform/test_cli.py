"""`subsidy policy diff` from the command line."""

# JSON, table and HTML output, and bad input as one line naming the file or key, with a documented
# exit status and never a traceback.

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from subsidy.cli.main import app
from subsidy.devstack.local_ca import ensure_ca
from tests.factories import enterprise_id, event, jsonl
from tests.reform.test_diff import HISTORY, WAN

SUBSIDY = Path(sys.executable).parent / "subsidy"
REPO = Path(__file__).resolve().parents[2]
BEIJING_OFFSET = "+08:00"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The reform (compute voucher at 30%) and a history with one bad line in the middle."""
    reform = tmp_path / "reform.yaml"
    reform.write_text("rules:\n  m08.compute_voucher:\n    rate: '0.30'\n", "utf-8")
    events = tmp_path / "events.jsonl"
    lines = jsonl(HISTORY)
    lines.insert(1, json.dumps({"eventId": "bad-1", "source": "s"}))
    events.write_text("\n".join(lines) + "\n", "utf-8")
    return reform, events


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["policy", "diff", *map(str, args)])


def test_json_has_the_numbers_in_fen_and_beijing_times(files: tuple[Path, Path]) -> None:
    reform, events = files
    result = _run("--reform", reform, "--events", events, "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["total"] == {
        "key": "total",
        "baselineFen": 220 * WAN,
        "reformFen": 230 * WAN,
        "deltaFen": 10 * WAN,
        "baselinePaid": 3,
        "reformPaid": 3,
    }
    assert [(r["key"], r["labelZh"], r["deltaFen"]) for r in out["byMeasure"]] == [
        ("8", "第8条 支持机器人大模型开发应用", 10 * WAN)
    ]
    assert {r["key"]: r["labelZh"] for r in out["byDistrict"]} == {
        "SIP": "苏州工业园区",
        "KUNSHAN": "昆山市",
    }
    assert [r["key"] for r in out["byYear"]] == ["2025", "2026"]
    assert {r["key"] for r in out["byChannel"]} == {"市工信局", "市发改委", "市数据局"}
    assert [(e["enterpriseId"], e["deltaFen"]) for e in out["enterprises"]] == [
        (enterprise_id(701), 10 * WAN)
    ]
    b2 = next(e for e in out["entitlements"] if e["entitlementId"] == "b-2/m08.compute_voucher")
    assert b2["baseline"]["grantedFen"] == 80 * WAN
    assert b2["reform"] == {"status": "PARTIALLY_PAID", "reasons": ["ANNUAL_CAP"],
                            "entitledFen": 180 * WAN, "grantedFen": 20 * WAN}  # fmt: skip
    assert out["reform"]["changes"] == [{"ruleId": "m08.compute_voucher", "key": "rate",
                                         "baseline": "0.20", "reform": "0.30",
                                         "effectiveFrom": None}]  # fmt: skip
    assert out["source"]["events"] == 3
    assert out["source"]["badLines"] == [
        {"line": 2, "eventId": "bad-1", "error": out["source"]["badLines"][0]["error"]}
    ]
    assert "payload" in out["source"]["badLines"][0]["error"]
    generated = datetime.fromisoformat(out["generatedAt"])
    assert out["generatedAt"].endswith(BEIJING_OFFSET)
    assert generated.tzinfo is not None
    # The bad line is reported on stderr too, in one line; the rest was compared (exit 0).
    assert result.stderr.count("\n") == 1
    assert "1 bad event line(s) not compared" in result.stderr


def test_table_shows_chinese_labels_and_yuan(files: tuple[Path, Path]) -> None:
    reform, events = files
    result = _run("--reform", reform, "--events", events)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in (
        "政策改革对比 Policy reform comparison",
        "总成本 Total cost",
        "¥2,200,000.00",  # baseline
        "¥2,300,000.00",  # reform
        "+¥100,000.00",  # difference
        "+4.5%",
        "第8条 支持机器人大模型开发应用",
        "苏州工业园区",
        "市数据局",
        "2025年",
        "企业增减 Enterprises that gain or lose (1 gain 增加, 0 lose 减少)",
        "北京时间",
        "无效事件行 bad event lines: 1",
        "line 2: bad-1:",
    ):
        assert text in out, text


def test_html_goes_to_the_output_file(files: tuple[Path, Path], tmp_path: Path) -> None:
    reform, events = files
    page = tmp_path / "report.html"
    result = _run("--reform", reform, "--events", events, "--format", "html", "--output", page)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    html = page.read_text("utf-8")
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") == 5
    # Self-contained: nothing to fetch, no script.
    for needle in ("<script", "<link", "http://", "https://", "@import", "url("):
        assert needle not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), needle


def test_the_readme_example_reform_runs_on_the_bundled_sample() -> None:
    result = _run(
        "--reform", REPO / "docs/reforms/compute-voucher-30pct.yaml",
        "--events", REPO / "data/sample-events.jsonl", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["total"]["deltaFen"] > 0
    assert [r["key"] for r in out["byMeasure"] if r["deltaFen"]] == ["8"]
    assert out["source"]["badLines"], "the sample has malformed lines"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reform", "{tmp}/missing.yaml", "--events", "{events}"],
         "error: reform overlay {tmp}/missing.yaml: no such file"),
        (["--reform", "{reform}", "--events", "{tmp}/missing.jsonl"],
         "error: events file {tmp}/missing.jsonl: no such file"),
        (["--reform", "{unknown}", "--events", "{events}"],
         "error: reform overlay {unknown}: overlay: rule m08.compute_voucher: unknown key 'ratio'"),
        (["--reform", "{malformed}", "--events", "{events}"],
         "error: reform overlay {malformed}: not valid YAML at line 3, column 1: expected ','"),
        (["--reform", "{reform}"], "error: give the history as --events FILE or --from-ledger"),
        (["--reform", "{reform}", "--events", "{events}", "--from-ledger"],
         "error: give the history as --events FILE or --from-ledger"),
        (["--reform", "{reform}", "--events", "{events}", "--output", "{tmp}/no/dir/r.html"],
         "error: --output {tmp}/no/dir/r.html: no such directory"),
    ],
    ids=["missing-overlay", "missing-events", "unknown-key", "malformed-overlay", "no-history",
         "two-histories", "bad-output"],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    files: tuple[Path, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    reform, events = files
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("rules:\n  m08.compute_voucher:\n    ratio: '0.3'\n", "utf-8")
    malformed = tmp_path / "malformed.yaml"
    malformed.write_text("rules:\n  m08: [unclosed\n", "utf-8")
    names = {"tmp": tmp_path, "reform": reform, "events": events, "unknown": unknown,
             "malformed": malformed}  # fmt: skip
    result = _run(*(a.format(**names) for a in args))
    assert result.exit_code == 2
    assert result.stderr.startswith(message.format(**names))
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_real_process_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: {m08.compute_voucher: {rate: 3}}\n", "utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(jsonl([event("projectDesignated", {"itemId": "p"})])), "utf-8")
    done = subprocess.run(
        [SUBSIDY, "policy", "diff", "--reform", bad, "--events", events],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"error: reform overlay {bad}: rule m08.compute_voucher: key 'rate': must be a decimal"
        " in (0, 1], got 3\n"
    )
    assert "Traceback" not in done.stderr


def test_an_unreachable_ledger_is_exit_3(files: tuple[Path, Path], tmp_path: Path) -> None:
    reform, _ = files
    tls = f"sslmode=verify-full&sslrootcert={ensure_ca(tmp_path / 'tls')}"
    env = {**os.environ, "DATABASE_URL": f"postgresql://nobody:secret@127.0.0.1:1/none?{tls}"}
    done = subprocess.run(
        [SUBSIDY, "policy", "diff", "--reform", reform, "--from-ledger"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.startswith(f"error: ledger postgresql://nobody@127.0.0.1:1/none?{tls}: ")
    assert done.stderr.count("\n") == 1
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr
