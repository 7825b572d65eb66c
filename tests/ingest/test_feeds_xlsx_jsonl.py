"""The XLSX and JSONL feeds: typed cells, the same events as the CSV, rows naming JSON paths."""

import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from subsidy.infra.feeds import (
    COL_AMOUNT,
    COL_DATE,
    COL_DISTRICT,
    COL_ENTERPRISE_ID,
    FeedError,
    field_name,
    read_feed,
    read_jsonl,
    read_xlsx,
)
from tests.factories import bad_check
from tests.factories import enterprise_id as uscc_id
from tests.ingest.feed_files import HEADER, fields, rows, write_csv


def _workbook(path: Path, rows_: list[list[object]], header: list[str] | None = None) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header or HEADER.split(","))
    for r in rows_:
        sheet.append(r)
    workbook.save(path)
    return path


def test_xlsx_rows_with_typed_cells(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "feed.xlsx",
        [
            [
                uscc_id(1),
                "企业一",
                "苏州高新区",
                "VERTICAL_LLM",
                "m-1",
                "X-1",
                datetime(2025, 4, 1),
                2,
                "是",
                1234.56,
            ],
            [
                uscc_id(2),
                "企业二",
                "HUQIU",
                "VERTICAL_LLM",
                "m-2",
                "X-2",
                "2025-04-02",
                None,
                "否",
                800000,
            ],
            [
                bad_check(3),
                "企业三",
                "HUQIU",
                "VERTICAL_LLM",
                "m-3",
                "X-3",
                "2025-04-03",
                None,
                None,
                None,
            ],
            [
                uscc_id(4),
                "企业四",
                "月球区",
                "VERTICAL_LLM",
                "m-4",
                "X-4",
                "2025-04-04",
                None,
                None,
                None,
            ],
            [
                uscc_id(5),
                "企业五",
                "HUQIU",
                "VERTICAL_LLM",
                "m-5",
                "X-5",
                "2025-02-30",
                None,
                None,
                None,
            ],
            [
                uscc_id(6),
                "企业六",
                "HUQIU",
                "VERTICAL_LLM",
                "m-6",
                "X-6",
                "2025-04-06",
                None,
                None,
                1.234,
            ],
        ],
    )
    got = rows(path)
    assert [r.row for r in got] == [2, 3, 4, 5, 6, 7]
    first, second = got[0].event, got[1].event
    assert first is not None
    assert second is not None
    assert first.district == "HUQIU"
    assert first.occurred_on.isoformat() == "2025-04-01"
    assert first.certification_obtained is not None
    assert first.certification_obtained.stage == 2
    assert first.certification_obtained.humanoid is True
    assert first.certification_obtained.approved_amount_fen == 123_456
    assert second.certification_obtained is not None
    assert second.certification_obtained.approved_amount_fen == 80_000_000
    assert [fields(r) for r in got[2:]] == [
        [COL_ENTERPRISE_ID],
        [COL_DISTRICT],
        [COL_DATE],
        [COL_AMOUNT],
    ]


def test_xlsx_and_csv_of_the_same_rows_give_the_same_events(tmp_path: Path) -> None:
    row = [
        uscc_id(7),
        "企业七",
        "太仓市",
        "SPECIALIZED_SME",
        "s-7",
        "Y-7",
        "2025-09-09",
        "",
        "否",
        "2500.5",
    ]
    csv_rows = rows(write_csv(tmp_path / "same.csv", [HEADER, ",".join(row)]))
    xlsx_rows = rows(_workbook(tmp_path / "same.xlsx", [[c or None for c in row]]))
    assert [r.event for r in csv_rows] == [r.event for r in xlsx_rows]
    assert csv_rows[0].event is not None


def test_read_xlsx_reports_a_missing_column(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "cols.xlsx", [], header=["统一社会信用代码", "企业名称"])
    with pytest.raises(FeedError) as err:
        list(read_xlsx(path))
    assert err.value.field == "所属地区"


def _event(event_id: str, enterprise: str, **extra: object) -> dict[str, object]:
    return {
        "eventId": event_id,
        "source": "sz-miit-portal",
        "enterpriseId": enterprise,
        "enterpriseName": "企业",
        "district": "SIP",
        "occurredOn": "2025-07-01",
        "computeInvoiceFiled": {"itemId": f"inv-{event_id}", "amountFen": 100},
        **extra,
    }


def test_jsonl_rows_name_json_paths(tmp_path: Path) -> None:
    bad_kind = _event("e-3", uscc_id(3))
    del bad_kind["computeInvoiceFiled"]
    bad_kind["certificationObtained"] = {"kind": "NOPE", "itemId": "i", "certificateId": "c"}
    lines = [
        json.dumps(_event("e-1", uscc_id(1)), ensure_ascii=False),
        "",
        "{not json",
        json.dumps(bad_kind),
        json.dumps(_event("e-5", bad_check(5))),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    got = list(read_jsonl(path))
    assert [r.row for r in got] == [1, 3, 4, 5]
    assert got[0].event is not None
    assert got[0].event_id == "e-1"
    assert fields(got[1]) == ["event"]
    assert fields(got[2]) == ["certificationObtained.kind"]
    assert got[2].event_id == "e-3"
    assert fields(got[3]) == ["enterpriseId"]


def test_unknown_extension_and_field_names(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="unknown feed format"):
        read_feed(tmp_path / "feed.txt")
    assert field_name(Path("a.CSV"), "occurredOn") == COL_DATE
    assert field_name(Path("a.xlsx"), "eventId") == "证书编号"
    assert field_name(Path("a.jsonl"), "occurredOn") == "occurredOn"
