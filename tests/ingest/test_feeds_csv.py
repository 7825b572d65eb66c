"""The provincial CSV feed: good rows become events, bad rows are rejected naming the column."""

from pathlib import Path

import pytest

from subsidy.infra.feeds import (
    COL_AMOUNT,
    COL_DATE,
    COL_DISTRICT,
    COL_ENTERPRISE_ID,
    COL_HUMANOID,
    COL_STAGE,
    FeedError,
    check_source,
    read_csv,
)
from tests.factories import bad_check
from tests.factories import enterprise_id as uscc_id
from tests.ingest.feed_files import HEADER, fields, rows, write_csv


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


def test_csv_that_is_not_utf8_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        (HEADER + "\n" + f"{uscc_id(1)},企业,SIP,GAZELLE,g,C,2025-01-01,,,\n").encode("gbk")
    )
    with pytest.raises(FeedError, match="UTF-8"):
        list(read_csv(path))
