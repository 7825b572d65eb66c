"""Budget files."""

# The envelopes read with their line numbers and the file's digest; every refusal names its line and
# column.

import hashlib
from pathlib import Path

import pytest

from subsidy.domain.payouts.accounts import Accounts
from subsidy.domain.payouts.budget import EnvelopeLine, Envelopes
from subsidy.domain.payouts.errors import BudgetRefused
from subsidy.payouts.budget_file import read_budget

HEADER = "资金渠道,年度,预算金额(元)"
ROWS = [
    "苏州市工业和信息化局,2025,50000000",
    "苏州工业园区财政局,2025,12345678.9",
    "苏州工业园区财政局,2026,0",
]


def _file(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def _csv(rows: list[str], header: str = HEADER) -> str:
    return "".join(r + "\r\n" for r in [header, *rows])


def test_a_budget_file_is_read(tmp_path: Path) -> None:
    """The file's SHA-256 and its lines in fen, numbered as in the file (a blank line
    counted), which the domain loads as a version."""
    path = _file(tmp_path / "b.csv", _csv([ROWS[0], "", *ROWS[1:]]), bom=True)
    digest, lines = read_budget(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert lines == [
        EnvelopeLine(2, "苏州市工业和信息化局", 2025, 5_000_000_000),
        EnvelopeLine(4, "苏州工业园区财政局", 2025, 1_234_567_890),
        EnvelopeLine(5, "苏州工业园区财政局", 2026, 0),
    ]
    envelopes = Envelopes()
    assert len(envelopes.load(digest, lines, Accounts())) == 2  # the zero envelope moves nothing
    assert envelopes.amounts[("苏州工业园区财政局", 2025)] == 1_234_567_890


def test_full_width_parentheses_are_accepted(tmp_path: Path) -> None:
    """预算金额（元） as people type it, no BOM: the same lines, another digest."""
    plain = read_budget(_file(tmp_path / "a.csv", _csv(ROWS)))
    full = read_budget(_file(tmp_path / "b.csv", _csv(ROWS, "资金渠道,年度,预算金额（元）")))
    assert full[1] == plain[1]
    assert full[0] != plain[0]


def _refused(path: Path) -> str:
    with pytest.raises(BudgetRefused) as caught:
        read_budget(path)
    return str(caught.value)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    """Zero bytes: line 1, 表头."""
    assert _refused(_file(tmp_path / "b.csv", "")).startswith("line 1, 表头: ")


def test_a_header_alone_is_refused(tmp_path: Path) -> None:
    """A header and no envelope: line 2."""
    assert _refused(_file(tmp_path / "b.csv", _csv([]), bom=True)).startswith("line 2, 资金渠道: ")


@pytest.mark.parametrize(
    "header",
    ["资金渠道,年度,预算金额", "资金渠道,年度,预算金额(万元)", "年度,资金渠道,预算金额(元)",
     "资金渠道,年度,预算金额(元),备注"],
    ids=["no unit", "another unit", "reordered", "extra column"],
)  # fmt: skip
def test_a_wrong_header_is_refused(tmp_path: Path, header: str) -> None:
    """A header that is not 资金渠道,年度,预算金额(元): line 1, 表头."""
    assert _refused(_file(tmp_path / "b.csv", _csv(ROWS, header))).startswith("line 1, 表头: ")


def test_a_file_not_in_utf8_is_refused(tmp_path: Path) -> None:
    """A GBK file: line 1, 编码."""
    path = tmp_path / "b.csv"
    path.write_bytes(_csv(ROWS).encode("gbk"))
    assert _refused(path).startswith("line 1, 编码: ")


AMOUNT = "预算金额(元)"
# (the line of ROWS replaced, its new text, the line and column refused)
LINE_CASES = {
    "empty channel": (1, ",2025,100", "line 3, 资金渠道: "),
    "blank channel": (1, "  ,2025,100", "line 3, 资金渠道: "),
    "channel with a colon": (0, "苏州市:工信局,2025,100", "line 2, 资金渠道: "),
    "year before 2000": (2, "苏州工业园区财政局,1999,100", "line 4, 年度: "),
    "year after 2100": (2, "苏州工业园区财政局,2101,100", "line 4, 年度: "),
    "year not a number": (2, "苏州工业园区财政局,二〇二五,100", "line 4, 年度: "),
    "year empty": (2, "苏州工业园区财政局,,100", "line 4, 年度: "),
    "amount negative": (0, "苏州市工业和信息化局,2025,-1", f"line 2, {AMOUNT}: "),
    "amount with a separator": (0, '苏州市工业和信息化局,2025,"50,000,000"', f"line 2, {AMOUNT}: "),
    "amount with a third decimal": (0, "苏州市工业和信息化局,2025,1.005", f"line 2, {AMOUNT}: "),
    "amount in 万元": (0, "苏州市工业和信息化局,2025,5000万", f"line 2, {AMOUNT}: "),
    "amount empty": (0, "苏州市工业和信息化局,2025,", f"line 2, {AMOUNT}: "),
    "a column missing": (1, "苏州工业园区财政局,2025", f"line 3, {AMOUNT}: "),
    "a column too many": (1, "苏州工业园区财政局,2025,1,备注", "line 3, 列数: "),
}  # fmt: skip


@pytest.mark.parametrize(("index", "text", "start"), LINE_CASES.values(), ids=LINE_CASES)
def test_a_bad_line_is_refused_naming_line_and_column(
    tmp_path: Path, index: int, text: str, start: str
) -> None:
    """One line of a correct file made wrong: refused at its line and column."""
    rows = list(ROWS)
    rows[index] = text
    assert _refused(_file(tmp_path / "b.csv", _csv(rows))).startswith(start)


def test_a_repeated_channel_and_year_names_both_lines(tmp_path: Path) -> None:
    """The same channel and year twice (after a blank line, spaces around): the second line
    refused, naming the first."""
    rows = [*ROWS, "", " 苏州工业园区财政局 , 2025 , 1"]
    message = _refused(_file(tmp_path / "b.csv", _csv(rows)))
    assert message.startswith("line 6, 资金渠道: 苏州工业园区财政局 2025 与第 3 行重复")
    assert "also on line 3" in message
