"""The bank's return file."""

# Read against the manifest, then checked against the batch; every refusal names its line (the
# header is line 1) and its column.

from datetime import date
from pathlib import Path

import pytest

from subsidy.domain.payouts.batches import Batch, ReturnLine
from subsidy.domain.payouts.errors import ReturnRefused
from subsidy.domain.payouts.treasury import check_return
from subsidy.payouts.batch_files import Manifest
from subsidy.payouts.return_files import RETURN_HEADER, read_return, write_return
from tests.payouts.sample import LINES, written

HEADER = ",".join(RETURN_HEADER)


@pytest.fixture
def sent(tmp_path: Path) -> tuple[Batch, Manifest]:
    """The sample batch, written, and its manifest."""
    batch, manifest, _ = written(tmp_path / "batch")
    return batch, manifest


def _rows(manifest: Manifest) -> list[list[str]]:
    """A correct return for the sample batch: the first line paid, the others returned."""
    base = [manifest.batch_id, manifest.sha256]
    return [
        [*base, LINES[0].order_id, LINES[0].account_number, "12345.60", "成功", "", "2025-03-15"],
        [*base, LINES[1].order_id, LINES[1].account_number, "0.05", "退回", "账号不存在",
         "2025-03-16"],
        [*base, LINES[2].order_id, LINES[2].account_number, "1000000.00", "退回", "账户已冻结",
         "2025-03-15"],
    ]  # fmt: skip


def _file(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def _csv(rows: list[list[str]]) -> str:
    return "".join(",".join(r) + "\n" for r in [list(RETURN_HEADER), *rows])


def test_a_correct_return_is_read(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """Without a BOM and with LF ends too: the batch id, the latest 处理日期, the lines as the
    domain's ReturnLine numbered from 2, a paid line without a reason; check_return agrees."""
    batch, manifest = sent
    bid, day, lines = read_return(_file(tmp_path / "r.csv", _csv(_rows(manifest))), manifest)
    assert (bid, day) == (batch.batch_id, date(2025, 3, 16))
    assert lines == [
        ReturnLine(2, LINES[0].order_id, LINES[0].account_number, 1234560, True, ""),
        ReturnLine(3, LINES[1].order_id, LINES[1].account_number, 5, False, "账号不存在"),
        ReturnLine(4, LINES[2].order_id, LINES[2].account_number, 100000000, False, "账户已冻结"),
    ]
    check_return(batch, lines)


def test_write_return_reads_back(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """What write_return writes (BOM, CRLF) read_return reads as the same lines."""
    _, manifest = sent
    lines = [
        ReturnLine(2, LINES[0].order_id, LINES[0].account_number, 1234560, True, ""),
        ReturnLine(3, LINES[1].order_id, LINES[1].account_number, 5, False, "收款行退汇"),
    ]
    path = tmp_path / "r.csv"
    write_return(path, manifest.batch_id, manifest.sha256, lines, date(2025, 3, 17))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
    assert read_return(path, manifest) == (manifest.batch_id, date(2025, 3, 17), lines)


def _refused(path: Path, manifest: Manifest) -> ReturnRefused:
    with pytest.raises(ReturnRefused) as caught:
        read_return(path, manifest)
    return caught.value


def test_an_empty_file_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """Zero bytes: line 1, 表头."""
    err = _refused(_file(tmp_path / "r.csv", ""), sent[1])
    assert (err.line, err.field) == (1, "表头")
    assert str(err).startswith("line 1, 表头: 空文件")


def test_a_header_alone_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """A header and no lines (a BOM too): line 2, 业务流水号."""
    err = _refused(_file(tmp_path / "r.csv", HEADER + "\r\n\r\n", bom=True), sent[1])
    assert (err.line, err.field) == (2, "业务流水号")


@pytest.mark.parametrize(
    "header",
    [
        "批次号,业务流水号,账号,金额,处理结果,退回原因,处理日期",  # a column missing
        "批次号,批次文件SHA256,业务流水号,账号,金额,处理结果,退回原因,处理日期",  # misspelt
        "批次文件SHA-256,批次号,业务流水号,账号,金额,处理结果,退回原因,处理日期",  # reordered
    ],
    ids=["missing", "misspelt", "reordered"],
)
def test_a_wrong_header_is_refused(
    tmp_path: Path, sent: tuple[Batch, Manifest], header: str
) -> None:
    """A header that is not exactly the return file's: line 1, 表头."""
    rows = _csv(_rows(sent[1])).split("\n", 1)[1]
    err = _refused(_file(tmp_path / "r.csv", header + "\n" + rows), sent[1])
    assert (err.line, err.field) == (1, "表头")


def test_a_file_not_in_utf8_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """A GBK file (what an old bank system may send): line 1, 编码."""
    path = tmp_path / "r.csv"
    path.write_bytes(_csv(_rows(sent[1])).encode("gbk"))
    err = _refused(path, sent[1])
    assert (err.line, err.field) == (1, "编码")


# (the row of the correct file changed, the column, its new value, the column refused)
CELL_CASES = {
    "other batch": (1, 0, "PB20250314-00000000", "批次号"),
    "wrong manifest hash": (2, 1, "0" * 64, "批次文件SHA-256"),
    "empty order": (0, 2, "", "业务流水号"),
    "empty account": (1, 3, "", "账号"),
    "account with a space": (1, 3, "6225 8802 1234 5678", "账号"),
    "account too short": (1, 3, "1234567", "账号"),
    "empty amount": (2, 4, "", "金额"),
    "amount with a separator": (0, 4, '"12,345.60"', "金额"),
    "amount with a third decimal": (0, 4, "12345.605", "金额"),
    "amount with a yuan sign": (0, 4, "¥12345.60", "金额"),
    "empty outcome": (0, 5, "", "处理结果"),
    "outcome not 成功 or 退回": (0, 5, "失败", "处理结果"),
    "returned without a reason": (1, 6, " ", "退回原因"),
    "empty date": (2, 7, "", "处理日期"),
    "date with slashes": (2, 7, "2025/03/15", "处理日期"),
    "date without dashes": (2, 7, "20250315", "处理日期"),
    "no such day": (2, 7, "2025-02-30", "处理日期"),
    "date before the pay date": (2, 7, "2025-03-13", "处理日期"),
}


@pytest.mark.parametrize(("row", "column", "value", "field"), CELL_CASES.values(), ids=CELL_CASES)
def test_a_bad_cell_is_refused_naming_line_and_column(
    tmp_path: Path, sent: tuple[Batch, Manifest], row: int, column: int, value: str, field: str
) -> None:
    """One cell of the correct file made wrong: refused at its line (row + 2), its column."""
    rows = _rows(sent[1])
    rows[row][column] = value
    err = _refused(_file(tmp_path / "r.csv", _csv(rows)), sent[1])
    assert (err.line, err.field) == (row + 2, field)
    assert str(err).startswith(f"line {row + 2}, {field}: ")


def test_a_short_line_is_refused_naming_the_missing_column(
    tmp_path: Path, sent: tuple[Batch, Manifest]
) -> None:
    """A line that stops after 金额: refused at that line, naming 处理结果."""
    rows = _rows(sent[1])
    rows[1] = rows[1][:5]
    err = _refused(_file(tmp_path / "r.csv", _csv(rows)), sent[1])
    assert (err.line, err.field) == (3, "处理结果")


def test_line_numbers_count_blank_lines(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """Blank lines are skipped but counted: a fault after one is named at its file line."""
    rows = _rows(sent[1])
    rows[2][4] = "x"
    text = _csv(rows[:2]) + "\n" + ",".join(rows[2]) + "\n"
    err = _refused(_file(tmp_path / "r.csv", text), sent[1])
    assert (err.line, err.field) == (5, "金额")


# Faults only the batch can show: read_return passes them, check_return refuses them.
def _checked(path: Path, batch: Batch, manifest: Manifest) -> ReturnRefused:
    _, _, lines = read_return(path, manifest)
    with pytest.raises(ReturnRefused) as caught:
        check_return(batch, lines)
    return caught.value


def test_an_unknown_order_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """An order the batch did not send: its line, 业务流水号."""
    batch, manifest = sent
    rows = _rows(manifest)
    rows[2][2] = "PO0000000000000000000"
    err = _checked(_file(tmp_path / "r.csv", _csv(rows)), batch, manifest)
    assert (err.line, err.field) == (4, "业务流水号")
    assert f"is not in batch {batch.batch_id}" in str(err)


def test_a_changed_amount_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """An amount other than the one sent (12345.06 for 12345.60): its line, 金额."""
    batch, manifest = sent
    rows = _rows(manifest)
    rows[0][4] = "12345.06"
    err = _checked(_file(tmp_path / "r.csv", _csv(rows)), batch, manifest)
    assert (err.line, err.field) == (2, "金额")


def test_a_changed_account_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """An account other than the one sent: its line, 账号."""
    batch, manifest = sent
    rows = _rows(manifest)
    rows[1][3] = "6225880212345679"
    err = _checked(_file(tmp_path / "r.csv", _csv(rows)), batch, manifest)
    assert (err.line, err.field) == (3, "账号")


def test_a_duplicate_line_is_refused(tmp_path: Path, sent: tuple[Batch, Manifest]) -> None:
    """The same order twice (even with another outcome): the second line, naming the first."""
    batch, manifest = sent
    rows = _rows(manifest)
    again = [*rows[0][:5], "退回", "账户已销户", "2025-03-15"]
    err = _checked(_file(tmp_path / "r.csv", _csv([*rows, again])), batch, manifest)
    assert (err.line, err.field) == (5, "业务流水号")
    assert "also on line 2" in str(err)
