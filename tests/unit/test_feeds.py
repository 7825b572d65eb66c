"""Feed readers: the provincial CSV/XLSX and JSONL, good rows and rows rejected naming the field."""

import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from subsidy.ingest.feeds import (
    COL_AMOUNT,
    COL_DATE,
    COL_DISTRICT,
    COL_ENTERPRISE_ID,
    COL_HUMANOID,
    COL_STAGE,
    DEFAULT_SOURCE,
    FeedError,
    FeedRow,
    check_source,
    field_name,
    read_csv,
    read_feed,
    read_jsonl,
    read_xlsx,
)
from tests.unit.factories import bad_check
from tests.unit.factories import enterprise_id as uscc_id

HEADER = ",".join(
    ["统一社会信用代码", "企业名称", "所属地区", "认定类型", "认定对象编号", "证书编号", "认定日期",
     "阶段", "人形机器人", "核定金额(元)"]
)  # fmt: skip


def write_csv(path: Path, lines: list[str], bom: bool = False) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig" if bom else "utf-8")
    return path


def rows(path: Path, source: str = DEFAULT_SOURCE) -> list[FeedRow]:
    return list(read_feed(path, source))


def fields(row: FeedRow) -> list[str]:
    return [e.field for e in row.errors]


@pytest.mark.parametrize("bom", [False, True])
def test_good_csv_rows_become_certification_events(tmp_path: Path, bom: bool) -> None:
    path = write_csv(
        tmp_path / "feed.csv",
        [
            HEADER,
            f"{uscc_id(1)},苏州一号机器人有限公司,SIP,PROVINCIAL_KEY_LAB,lab-1,CERT-1,2025-03-01,1,是,500000.5",
            f"{uscc_id(2)},苏州二号机器人有限公司,苏州工业园区,HIGH_TECH_ENTERPRISE,ht-2,CERT-2,2025-06-30,,否,",
            f"{uscc_id(3)},苏州三号机器人有限公司,昆山市,UNICORN,u-3,CERT-3,2025-12-31,,,",
        ],
        bom=bom,
    )
    got = rows(path)
    assert [r.row for r in got] == [2, 3, 4]
    assert all(r.errors == () and r.event is not None for r in got)
    first = got[0].event
    assert first is not None
    assert first.to_json_dict() == {
        "eventId": "js-provincial-cert-feed:CERT-1",
        "source": "js-provincial-cert-feed",
        "enterpriseId": uscc_id(1),
        "enterpriseName": "苏州一号机器人有限公司",
        "district": "SIP",
        "occurredOn": "2025-03-01",
        "certificationObtained": {
            "kind": "PROVINCIAL_KEY_LAB",
            "itemId": "lab-1",
            "certificateId": "CERT-1",
            "stage": 1,
            "humanoid": True,
            "approvedAmountFen": 50_000_050,
        },
    }
    second, third = got[1].event, got[2].event
    assert second is not None
    assert third is not None
    assert second.district == "SIP"  # 苏州工业园区
    assert second.certification_obtained is not None
    assert second.certification_obtained.humanoid is False
    assert second.certification_obtained.approved_amount_fen is None
    assert third.district == "KUNSHAN"
    assert third.certification_obtained is not None
    assert third.certification_obtained.humanoid is None


def test_every_chinese_district_name_and_code_is_accepted(tmp_path: Path) -> None:
    from subsidy.domain.enums import DISTRICT_NAMES_ZH

    lines = [HEADER]
    expected = []
    for i, (district, name) in enumerate(DISTRICT_NAMES_ZH.items()):
        lines.append(f"{uscc_id(i)},企业{i},{name},GAZELLE,g-{i},ZH-{i},2025-05-05,,,")
        lines.append(f"{uscc_id(i)},企业{i},{district.value},GAZELLE,g-{i},CODE-{i},2025-05-05,,,")
        expected += [district.value, district.value]
    got = rows(write_csv(tmp_path / "districts.csv", lines))
    assert [r.event.district if r.event else r.errors for r in got] == expected


def test_bad_rows_are_rejected_naming_the_column_and_good_rows_go_on(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv",
        [
            HEADER,
            f"{uscc_id(1)},好企业,GUSU,GAZELLE,g-1,OK-1,2025-03-01,,,",
            f"{bad_check(2)},校验位错,GUSU,GAZELLE,g-2,BAD-CHECK,2025-03-01,,,",
            f"{uscc_id(3)},未知地区,火星区,GAZELLE,g-3,BAD-DISTRICT,2025-03-01,,,",
            f"{uscc_id(4)},日期错,GUSU,GAZELLE,g-4,BAD-DATE,2025-02-30,,,",
            f"{uscc_id(5)},金额错,GUSU,GAZELLE,g-5,BAD-AMOUNT,2025-03-01,,,100.123",
            "",
            f"{uscc_id(6)},好企业二,吴中区,GAZELLE,g-6,OK-2,2025-03-02,,,100.12",
        ],
    )
    got = rows(path)
    by_row = {r.row: r for r in got}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 8]  # the blank line 7 is skipped but counted
    assert by_row[2].event is not None
    assert by_row[8].event is not None
    assert by_row[8].event.certification_obtained is not None
    assert by_row[8].event.certification_obtained.approved_amount_fen == 10_012

    assert fields(by_row[3]) == [COL_ENTERPRISE_ID]
    assert "check digit" in by_row[3].errors[0].message
    assert by_row[3].event_id == "js-provincial-cert-feed:BAD-CHECK"
    assert fields(by_row[4]) == [COL_DISTRICT]
    assert "火星区" in by_row[4].errors[0].message
    assert fields(by_row[5]) == [COL_DATE]
    assert "2025-02-30 is not a real calendar date" in by_row[5].errors[0].message
    assert fields(by_row[6]) == [COL_AMOUNT]
    assert "more than two decimals" in by_row[6].errors[0].message
    assert all(r.event is None for r in (by_row[3], by_row[4], by_row[5], by_row[6]))


def test_all_errors_of_a_row_are_listed_in_column_order(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "many.csv",
        [HEADER, f"{bad_check(1)},企业,火星区,GAZELLE,g,C-1,2025-13-01,第一,也许,1.001"],
    )
    (row,) = rows(path)
    assert fields(row) == [
        COL_ENTERPRISE_ID, COL_DISTRICT, COL_DATE, COL_STAGE, COL_HUMANOID, COL_AMOUNT
    ]  # fmt: skip


def test_missing_cells_and_bad_kind_name_their_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "gaps.csv", [HEADER, f"{uscc_id(1)},,GUSU,NOT_A_KIND,,,2025-03-01,0,,0"]
    )
    (row,) = rows(path)
    assert row.event_id is None  # no certificate id to derive it from
    assert fields(row) == [
        "企业名称",
        "认定类型",
        "认定对象编号",
        "证书编号",
        COL_STAGE,
        COL_AMOUNT,
    ]
    assert dict((e.field, e.message) for e in row.errors)[COL_AMOUNT] == "must be positive"


def test_optional_columns_may_be_left_out_and_parentheses_may_be_full_width(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "short.csv",
        [
            "证书编号,统一社会信用代码,企业名称,所属地区,认定类型,认定对象编号,认定日期,核定金额（元）",
            f"C-9,{uscc_id(9)},企业九,相城区,TOP_TALENT,t-9,2025-08-08,300000",
        ],
    )
    (row,) = rows(path)
    assert row.event is not None
    assert row.event.certification_obtained is not None
    assert row.event.certification_obtained.approved_amount_fen == 30_000_000


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("统一社会信用代码,企业名称,所属地区,认定类型,认定对象编号,证书编号", "认定日期"),
        (HEADER + ",备注", "备注"),
    ],
)
def test_a_bad_header_is_an_error_for_the_whole_file(
    tmp_path: Path, header: str, field: str
) -> None:
    path = write_csv(tmp_path / "header.csv", [header])
    with pytest.raises(FeedError) as err:
        rows(path)
    assert err.value.row == 1
    assert err.value.field == field


def test_the_same_file_read_twice_gives_the_same_events(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "again.csv", [HEADER, f"{uscc_id(1)},企业,SIP,GAZELLE,g,C-1,2025-03-01,,是,1"]
    )
    first, second = rows(path), rows(path)
    assert [r.event.content_hash() for r in first if r.event] == [
        r.event.content_hash() for r in second if r.event
    ]
    assert rows(path, source="js-other-feed")[0].event_id == "js-other-feed:C-1"


def test_the_feed_name_must_be_a_plain_slug() -> None:
    assert check_source("sz-miit-portal") == "sz-miit-portal"
    with pytest.raises(ValueError, match="feed name"):
        check_source("bad source:")


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


def test_csv_that_is_not_utf8_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        (HEADER + "\n" + f"{uscc_id(1)},企业,SIP,GAZELLE,g,C,2025-01-01,,,\n").encode("gbk")
    )
    with pytest.raises(FeedError, match="UTF-8"):
        list(read_csv(path))
