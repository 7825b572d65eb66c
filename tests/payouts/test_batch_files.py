"""The batch files: byte-identical rewrites, the manifest's figures, the CSV and XLSX contents."""

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from subsidy.domain.payouts.errors import BatchRefused
from subsidy.payouts.batch_files import (
    HEADER,
    batch_digest,
    plain_yuan,
    read_batch_lines,
    read_manifest,
)
from tests.payouts.sample import LINES, PAY_DATE, sample_batch, written

REPO = Path(__file__).resolve().parents[2]
SUFFIXES = (".csv", ".xlsx", ".manifest.json")


def _files(folder: Path, bid: str) -> dict[str, bytes]:
    return {s: (folder / f"{bid}{s}").read_bytes() for s in SUFFIXES}


def test_rewrite_gives_the_same_bytes(tmp_path: Path) -> None:
    """The same batch written again (here, to another folder and over itself) is the same
    three files, byte for byte, the XLSX included."""
    batch, _, _ = written(tmp_path / "a")
    first = _files(tmp_path / "a", batch.batch_id)
    written(tmp_path / "b", batch)
    written(tmp_path / "a", batch)
    assert _files(tmp_path / "b", batch.batch_id) == first
    assert _files(tmp_path / "a", batch.batch_id) == first


def test_rewrite_in_another_process_gives_the_same_bytes(tmp_path: Path) -> None:
    """Written by another interpreter, with another hash seed and a later clock: still the
    same bytes (nothing depends on set order, the time or the process)."""
    batch, _, _ = written(tmp_path / "here")
    script = (
        "import sys; from pathlib import Path;"
        "from tests.payouts.sample import written; written(Path(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "there")], cwd=REPO, env=env,
                   check=True, timeout=120)  # fmt: skip
    assert _files(tmp_path / "there", batch.batch_id) == _files(tmp_path / "here", batch.batch_id)


def test_xlsx_carries_the_pay_date_not_the_clock(tmp_path: Path) -> None:
    """Every zip entry and the document properties are stamped with the pay date's midnight."""
    batch, _, _ = written(tmp_path)
    data = (tmp_path / f"{batch.batch_id}.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        stamps = {info.date_time for info in archive.infolist()}
        core = archive.read("docProps/core.xml").decode()
    assert stamps == {(2025, 3, 14, 0, 0, 0)}
    assert core.count("2025-03-14T00:00:00Z") == 2  # created and modified
    props = openpyxl.load_workbook(io.BytesIO(data)).properties
    assert props.created == props.modified
    assert props.created.date() == PAY_DATE


def test_manifest_figures(tmp_path: Path) -> None:
    """The manifest: the batch's id, channel, pay date, count and totals, each data file's
    SHA-256, and the batch digest over the two; read back the same."""
    batch, manifest, path = written(tmp_path)
    body = json.loads(path.read_text(encoding="utf-8"))
    csv_name, xlsx_name = f"{batch.batch_id}.csv", f"{batch.batch_id}.xlsx"
    csv_sha = hashlib.sha256((tmp_path / csv_name).read_bytes()).hexdigest()
    xlsx_sha = hashlib.sha256((tmp_path / xlsx_name).read_bytes()).hexdigest()
    assert body == {
        "batchId": batch.batch_id,
        "channel": "苏州市工业和信息化局",
        "payDate": "2025-03-14",
        "count": 3,
        "totalFen": 1234560 + 5 + 100000000,
        "totalYuan": "¥1,012,345.65",
        "files": {csv_name: csv_sha, xlsx_name: xlsx_sha},
        "sha256": hashlib.sha256(f"{csv_sha}\n{xlsx_sha}\n".encode()).hexdigest(),
    }
    assert list(body["files"]) == [csv_name, xlsx_name]
    assert manifest.sha256 == batch_digest(csv_sha, xlsx_sha) == body["sha256"]
    assert read_manifest(path) == manifest
    assert manifest.digest_of(xlsx_name) == xlsx_sha


def test_csv_is_excel_friendly_and_reads_back(tmp_path: Path) -> None:
    """The CSV: a BOM, CRLF after every line, the header, 金额 as plain yuan with two
    decimals; the csv module reads the batch's rows back."""
    batch, _, _ = written(tmp_path)
    data = (tmp_path / f"{batch.batch_id}.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") == 4
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["收款单位", "统一社会信用代码", "开户银行", "账号", "金额", "用途",
                       "资金渠道", "业务流水号"]  # fmt: skip
    assert [r[4] for r in rows[1:]] == ["12345.60", "0.05", "1000000.00"]
    assert rows[1] == [LINES[0].payee_name, "91320594MA1W2X3Y4Q", "中国银行苏州工业园区支行",
                       "0622848012345678901", "12345.60", "具身智能本体研发奖励（R1，2025年度）",
                       "苏州市工业和信息化局", LINES[0].order_id]  # fmt: skip
    assert rows[3][0] == "苏州具身智能科技有限公司, 二部"  # the comma quoted, not a column
    assert read_batch_lines(tmp_path / f"{batch.batch_id}.csv") == list(batch.lines)


def test_xlsx_shows_the_same_rows(tmp_path: Path) -> None:
    """The XLSX: the same header and rows; 金额 a number formatted #,##0.00; the account and
    the credit code text (the account's leading zero kept); a name is never a formula."""
    batch, _, _ = written(tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / f"{batch.batch_id}.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADER
    expected = [
        (ln.payee_name, ln.enterprise_id, ln.bank_name, ln.account_number,
         Decimal(plain_yuan(ln.amount_fen)), ln.purpose, ln.channel, ln.order_id)
        for ln in LINES
    ]  # fmt: skip
    assert [(*r[:4], Decimal(str(r[4])), *r[5:]) for r in rows[1:]] == expected
    first = next(sheet.iter_rows(min_row=2, max_row=2))
    assert first[3].value == "0622848012345678901"
    assert (first[1].data_type, first[3].data_type) == ("s", "s")
    assert first[3].number_format == "@"
    assert first[4].data_type == "n"
    assert first[4].number_format == "#,##0.00"
    formula_like = next(sheet.iter_rows(min_row=3, max_row=3))[0]
    assert formula_like.data_type == "s"
    assert formula_like.value == LINES[1].payee_name


def test_a_file_that_is_not_a_manifest_is_refused(tmp_path: Path) -> None:
    """read_manifest refuses JSON missing a field, naming the file."""
    _, _, path = written(tmp_path)
    body = json.loads(path.read_text(encoding="utf-8"))
    del body["sha256"]
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(BatchRefused, match="not a batch manifest") as caught:
        read_manifest(path)
    assert str(path) in str(caught.value)


def test_plain_yuan() -> None:
    """Fen as the bank files' yuan text."""
    assert [plain_yuan(f) for f in (0, 5, 1234560, 100000000)] == [
        "0.00", "0.05", "12345.60", "1000000.00",
    ]  # fmt: skip
    assert sample_batch().total_fen == 101234565
