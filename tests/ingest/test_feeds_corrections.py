"""Corrected rows in the provincial CSV/XLSX feed (docs/contract.md §1)."""

# The optional 版次 and 更正原因 columns, their errors by column, and a corrected file through the
# real ingest server.

import asyncio
import csv
import uuid
from pathlib import Path

import pytest
from openpyxl import Workbook

from subsidy.infra.feeds import COL_CORRECTION_REASON, COL_REVISION, FeedRow
from tests.factories import enterprise_id as uscc_id
from tests.ingest.feed_files import HEADER, fields, rows
from tests.ingest.server import Ingest, read_topic

COLUMNS = [*HEADER.split(","), COL_REVISION, COL_CORRECTION_REASON]


def _row(
    cert: str, amount: str, revision: object = None, reason: str | None = None
) -> list[object]:
    return [uscc_id(61), "苏州更正机器人有限公司", "SIP", "PROVINCIAL_KEY_LAB", "lab-61", cert,
            "2025-03-01", "", "否", amount, revision, reason]  # fmt: skip


def _csv(path: Path, body: list[list[object]], header: list[str] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([["" if c is None else c for c in r][: len(header)] for r in body])
    return path


def _xlsx(path: Path, body: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for r in body:
        sheet.append([None if c == "" else c for c in r])
    workbook.save(path)
    return path


def _revisions(got: list[FeedRow]) -> list[tuple[int | None, str | None]]:
    out = []
    for r in got:
        assert r.event is not None, r.errors
        out.append((r.event.revision, r.event.correction_reason))
    return out


@pytest.mark.parametrize("make", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_a_row_with_a_revision_and_a_reason_is_a_correction(tmp_path: Path, make: object) -> None:
    suffix = ".csv" if make is _csv else ".xlsx"
    path = make(  # type: ignore[operator]
        tmp_path / f"feed{suffix}",
        [
            _row("C-1", "500000"),
            _row("C-2", "400000", 2, "核定金额录入有误"),
            _row("C-3", "300000", 1),  # revision 1 written out: the original
            # A number typed into Excel is read back as a float.
            _row("C-4", "200000", 3.0 if make is _xlsx else "3", "证书日期更正"),
        ],
    )
    got = rows(path)
    assert _revisions(got) == [
        (None, None),
        (2, "核定金额录入有误"),
        (None, None),
        (3, "证书日期更正"),
    ]
    second = got[1].event
    assert second is not None
    # The same certificate, the same eventId: the correction names the event it replaces.
    assert second.event_id == "js-provincial-cert-feed:C-2"
    assert second.to_json_dict()["revision"] == 2


def test_a_feed_without_the_columns_gives_the_originals_it_always_gave(tmp_path: Path) -> None:
    body = [_row("C-9", "500000")]
    with_columns = rows(_csv(tmp_path / "with.csv", body))
    without = rows(_csv(tmp_path / "without.csv", body, header=HEADER.split(",")))
    assert with_columns[0].event is not None
    assert without[0].event is not None
    assert with_columns[0].event.content_hash() == without[0].event.content_hash()
    assert "revision" not in without[0].event.to_json_dict()


@pytest.mark.parametrize(
    ("revision", "reason", "column"),
    [
        ("二", "录错", COL_REVISION),
        ("2.5", "录错", COL_REVISION),
        ("0", "录错", COL_REVISION),
        ("2", None, COL_CORRECTION_REASON),  # a correction must say why
        ("2", "   ", COL_CORRECTION_REASON),
        (None, "录错", COL_CORRECTION_REASON),  # a reason without a correction
    ],
)
def test_a_bad_revision_or_reason_is_rejected_naming_its_column(
    tmp_path: Path, revision: str | None, reason: str | None, column: str
) -> None:
    (got,) = rows(_csv(tmp_path / "feed.csv", [_row("C-5", "500000", revision, reason)]))
    assert got.event is None
    assert fields(got) == [column]


async def test_a_corrected_feed_file_replaces_the_rows_it_corrects(
    ingest: Ingest, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    original = _csv(tmp_path / "feed.csv", [_row(f"{tag}-A", "500000"), _row(f"{tag}-B", "1")])
    corrected = _xlsx(
        tmp_path / "feed-corrected.xlsx",
        [_row(f"{tag}-A", "500000"), _row(f"{tag}-B", "100000", 2, "核定金额少录五位")],
    )
    orphan = _csv(tmp_path / "orphan.csv", [_row(f"{tag}-C", "1", 2, "无原件")])

    first = await asyncio.to_thread(ingest.send, original)
    second = await asyncio.to_thread(ingest.send, corrected)
    third = await asyncio.to_thread(ingest.send, orphan)

    assert (first.accepted, first.duplicates, first.rejected) == (2, 0, 0)
    assert (second.accepted, second.duplicates, second.rejected) == (1, 1, 0)
    assert (third.accepted, third.rejected) == (0, 1)
    # The server's field, named by the column people edit.
    assert [(e.row, e.field) for e in third.errors] == [(2, COL_REVISION)]
    assert "无可更正的原事件" in third.errors[0].message
    records = await read_topic(ingest.bootstrap, ingest.topic)
    b = [e for _, _, e in records if e.event_id == f"js-provincial-cert-feed:{tag}-B"]
    assert [(e.revision, e.certification_obtained.approved_amount_fen) for e in b] == [
        (0, 100), (2, 10_000_000),
    ]  # fmt: skip
    assert [e for _, _, e in records if e.event_id.endswith(f"{tag}-C")] == []
