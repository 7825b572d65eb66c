"""Feed readers: JSONL events and the provincial certification list (CSV/XLSX) as validated rows."""

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.events import (
    EnterpriseEvent,
    FieldError,
    InvalidEvent,
    parse_event,
    parse_event_json,
)
from subsidy.domain.money import parse_yuan

DEFAULT_SOURCE: Final = "js-provincial-cert-feed"

# The provincial feed's columns (docs/contract.md §1), in the documented order.
COL_ENTERPRISE_ID: Final = "统一社会信用代码"
COL_ENTERPRISE_NAME: Final = "企业名称"
COL_DISTRICT: Final = "所属地区"
COL_KIND: Final = "认定类型"
COL_ITEM_ID: Final = "认定对象编号"
COL_CERTIFICATE_ID: Final = "证书编号"
COL_DATE: Final = "认定日期"
COL_STAGE: Final = "阶段"
COL_HUMANOID: Final = "人形机器人"
COL_AMOUNT: Final = "核定金额(元)"
# A corrected row (docs/contract.md §1, Corrections and retractions): the same certificate, so
# the same eventId, sent again with a higher revision and why. Without them a row is an original.
COL_REVISION: Final = "版次"
COL_CORRECTION_REASON: Final = "更正原因"

REQUIRED_COLUMNS: Final = (
    COL_ENTERPRISE_ID,
    COL_ENTERPRISE_NAME,
    COL_DISTRICT,
    COL_KIND,
    COL_ITEM_ID,
    COL_CERTIFICATE_ID,
    COL_DATE,
)
OPTIONAL_COLUMNS: Final = (COL_STAGE, COL_HUMANOID, COL_AMOUNT, COL_REVISION, COL_CORRECTION_REASON)
# Errors of a row are listed in column order, as people read the row.
_COLUMN_ORDER: Final = {c: i for i, c in enumerate(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}

# Where each event field comes from, so that a validation error names the column people edit.
# eventId is derived from the certificate id; source is the feed name checked up front.
COLUMN_OF_PATH: Final[Mapping[str, str]] = {
    "eventId": COL_CERTIFICATE_ID,
    "enterpriseId": COL_ENTERPRISE_ID,
    "enterpriseName": COL_ENTERPRISE_NAME,
    "district": COL_DISTRICT,
    "occurredOn": COL_DATE,
    "revision": COL_REVISION,
    "correctionReason": COL_CORRECTION_REASON,
    "certificationObtained.kind": COL_KIND,
    "certificationObtained.itemId": COL_ITEM_ID,
    "certificationObtained.certificateId": COL_CERTIFICATE_ID,
    "certificationObtained.stage": COL_STAGE,
    "certificationObtained.humanoid": COL_HUMANOID,
    "certificationObtained.approvedAmountFen": COL_AMOUNT,
}

_DISTRICTS: Final[Mapping[str, District]] = {
    **{d.value: d for d in District},
    **{name: d for d, name in DISTRICT_NAMES_ZH.items()},
}
_HUMANOID: Final[Mapping[str, bool]] = {"是": True, "否": False}
# The source becomes the prefix of every derived eventId, so it is kept to a plain slug.
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIGITS = re.compile(r"[0-9]+")

# csv refuses a field over 128 KiB with an error that ends the whole file; a huge cell is one
# bad row, which validation names, and the rows after it must still be read.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))

JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson"})
TABULAR_SUFFIXES: Final = frozenset({".csv", ".xlsx"})
FEED_SUFFIXES: Final = JSONL_SUFFIXES | TABULAR_SUFFIXES


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One row of a feed: a valid event, or the errors that kept it from being one.

    `row` is the line number (JSONL) or the spreadsheet row number, the header being row 1
    (CSV/XLSX). Error fields are JSON paths for JSONL and column names for CSV/XLSX.
    """

    row: int
    event_id: str | None
    event: EnterpriseEvent | None
    errors: tuple[FieldError, ...] = ()
    # A JSONL line as read: sent as is, so the server judges (and records) it, bad or good.
    raw: bytes | None = None


class FeedError(ValueError):
    """The file as a whole cannot be read (unknown format, bad header, not UTF-8)."""

    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(f"row {row}: {field}: {message}")
        self.row = row
        self.field = field
        self.message = message


def check_source(source: str) -> str:
    """The feed name used as `source` and as the eventId prefix; ValueError if unfit."""
    if not _SOURCE.fullmatch(source):
        raise ValueError(
            f"feed name {source!r} must be 1-64 letters, digits, '.', '_' or '-'"
            " (it prefixes every eventId)"
        )
    return source


def derived_event_id(source: str, certificate_id: str) -> str:
    """The eventId of a provincial feed row: stable across re-deliveries of the same row."""
    return f"{source}:{certificate_id}"


def is_tabular(path: Path) -> bool:
    """CSV or XLSX (errors name columns), as opposed to JSONL (errors name JSON paths)."""
    return path.suffix.lower() in TABULAR_SUFFIXES


def field_name(path: Path, json_path: str) -> str:
    """How a feed's error report names an event field: its column for CSV/XLSX."""
    if is_tabular(path):
        return COLUMN_OF_PATH.get(json_path, json_path)
    return json_path


def read_feed(path: Path, source: str = DEFAULT_SOURCE) -> Iterator[FeedRow]:
    """Rows of a JSONL, CSV or XLSX feed (by extension). Raises FeedError for the whole file."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl(path)
    if suffix == ".csv":
        return read_csv(path, source)
    if suffix == ".xlsx":
        return read_xlsx(path, source)
    raise FeedError(0, "file", f"unknown feed format {suffix!r}: use .jsonl, .csv or .xlsx")


def read_jsonl(path: Path) -> Iterator[FeedRow]:
    """One event per line; blank lines are skipped but counted, so rows are line numbers."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # editors on Windows add a BOM
            if not line.strip():
                continue
            raw = line.rstrip(b"\r\n")
            try:
                event = parse_event_json(raw)
            except InvalidEvent as err:
                yield FeedRow(number, err.event_id, None, tuple(err.errors), raw)
            else:
                yield FeedRow(number, event.event_id, event, (), raw)


def read_csv(path: Path, source: str = DEFAULT_SOURCE) -> Iterator[FeedRow]:
    """The provincial certification CSV: UTF-8 with or without BOM, header row first."""
    check_source(source)
    # utf-8-sig drops a BOM if there is one; newline="" lets csv handle quoted line breaks.
    with path.open(encoding="utf-8-sig", newline="") as text:
        records = csv.reader(text)
        try:
            yield from _tabular_rows(records, source)
        except UnicodeDecodeError as err:
            raise FeedError(
                records.line_num + 1, "file", f"not UTF-8 text ({err.reason})"
            ) from None
        except csv.Error as err:
            raise FeedError(records.line_num, "file", f"not valid CSV: {err}") from None


def read_xlsx(path: Path, source: str = DEFAULT_SOURCE) -> Iterator[FeedRow]:
    """The provincial certification list as the first sheet of a workbook, header row first."""
    # Imported here: openpyxl is slow to import and only XLSX feeds need it.
    from openpyxl import load_workbook

    check_source(source)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many unrelated types for a broken file
        raise FeedError(0, "file", f"not a readable XLSX workbook: {err}") from None
    try:
        sheet = workbook.worksheets[0]
        # Writers other than Excel often record a wrong sheet size; read every row there is.
        sheet.reset_dimensions()
        cells = sheet.iter_rows(values_only=True)
        try:
            yield from _tabular_rows(cells, source)
        finally:
            cells.close()  # it holds the sheet's zip member open, which keeps the file open
    finally:
        workbook.close()  # read-only workbooks keep the zip open until closed


def _header_name(cell: object) -> str:
    text = "" if cell is None else str(cell).strip().removeprefix("\ufeff")
    # Chinese spreadsheets often type the unit's parentheses full-width.
    return text.replace("（", "(").replace("）", ")")


def _tabular_rows(records: Iterator[Any], source: str) -> Iterator[FeedRow]:
    header_cells = next(records, None)
    if header_cells is None:
        raise FeedError(1, "header", "the file is empty: expected a header row")
    header = [_header_name(c) for c in header_cells]
    while header and not header[-1]:  # trailing empty header cells are not columns
        header.pop()
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    for name in header:
        if name not in known:
            raise FeedError(1, name or "header", f"unknown column {name!r}")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise FeedError(1, name, "required column missing from the header")
    if len(set(header)) != len(header):
        raise FeedError(1, "header", "a column appears twice")
    width = len(header)
    for number, cells in enumerate(records, start=2):
        values = list(cells)
        if all(_text(v) is None for v in values):
            continue  # blank rows (often trailing) are not records
        if any(_text(v) is not None for v in values[width:]):
            yield FeedRow(number, None, None, (FieldError("row", "more cells than columns"),))
            continue
        values += [None] * (width - len(values))
        yield _certification_row(number, dict(zip(header, values, strict=False)), source)


def _text(value: object) -> str | None:
    """A cell as text (CSV gives strings, XLSX typed values); None when empty."""
    if value is None:
        return None
    if isinstance(value, datetime):
        # Excel stores dates as midnight datetimes; a time of day means it is not a date.
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    # repr of a float is the shortest text that round-trips: 1234.56 stays "1234.56", so
    # parse_yuan still sees (and rejects) a third decimal.
    text = str(value).strip()
    return text or None


def _certification(
    cells: Mapping[str, object], text: Mapping[str, str | None], errors: list[FieldError]
) -> dict[str, object]:
    """The certificationObtained payload of a row's cells; what cannot be converted is left
    out and reported in `errors`."""
    payload: dict[str, object] = {
        "kind": text.get(COL_KIND),
        "itemId": text.get(COL_ITEM_ID),
        "certificateId": text.get(COL_CERTIFICATE_ID),
    }
    stage = text.get(COL_STAGE)
    if stage is not None:
        if _DIGITS.fullmatch(stage):
            payload["stage"] = int(stage)
        else:
            errors.append(FieldError(COL_STAGE, f"must be a whole number ≥ 1, got {stage!r}"))
    humanoid_cell = cells.get(COL_HUMANOID)
    if isinstance(humanoid_cell, bool):
        payload["humanoid"] = humanoid_cell
    elif (humanoid := text.get(COL_HUMANOID)) is not None:
        if humanoid in _HUMANOID:
            payload["humanoid"] = _HUMANOID[humanoid]
        else:
            errors.append(FieldError(COL_HUMANOID, f"must be 是 or 否, got {humanoid!r}"))
    amount = text.get(COL_AMOUNT)
    if amount is not None:
        try:
            payload["approvedAmountFen"] = parse_yuan(amount)
        except ValueError as err:
            errors.append(FieldError(COL_AMOUNT, f"yuan with at most two decimals: {err}"))
    return {k: v for k, v in payload.items() if v is not None}


def _district(text: Mapping[str, str | None], errors: list[FieldError]) -> str | None:
    """The row's district code, or None (missing, or unknown and reported in `errors`)."""
    district_text = text.get(COL_DISTRICT)
    if district_text is None:
        return None
    found = _DISTRICTS.get(district_text)
    if found is None:
        errors.append(FieldError(COL_DISTRICT, _unknown_district(district_text)))
        return None
    return found.value


def _revision(text: Mapping[str, str | None], errors: list[FieldError]) -> int | None:
    """The row's revision, or None (an original, or not a number and reported in `errors`)."""
    revision = text.get(COL_REVISION)
    if revision is None:
        return None
    if _DIGITS.fullmatch(revision):
        return int(revision)
    errors.append(FieldError(COL_REVISION, f"must be a whole number ≥ 1, got {revision!r}"))
    return None


def _certification_row(number: int, cells: Mapping[str, object], source: str) -> FeedRow:
    errors: list[FieldError] = []
    text = {name: _text(value) for name, value in cells.items()}
    certificate_id = text.get(COL_CERTIFICATE_ID)
    event_id = derived_event_id(source, certificate_id) if certificate_id else None
    certification = _certification(cells, text, errors)
    district = _district(text, errors)
    revision = _revision(text, errors)
    # A reason whose revision could not be read would echo "only a correction has one".
    reason = (
        None if revision is None and text.get(COL_REVISION) else text.get(COL_CORRECTION_REASON)
    )
    data = {
        "eventId": event_id,
        "source": source,
        "enterpriseId": text.get(COL_ENTERPRISE_ID),
        "enterpriseName": text.get(COL_ENTERPRISE_NAME),
        "district": district,
        "occurredOn": text.get(COL_DATE),
        "revision": revision,
        "correctionReason": reason,
        "certificationObtained": certification,
    }
    event: EnterpriseEvent | None = None
    try:
        event = parse_event({k: v for k, v in data.items() if v is not None})
    except InvalidEvent as err:
        already = {e.field for e in errors}
        errors.extend(_column_errors(err.errors, already, derived_id=event_id is not None))
    if errors:
        errors.sort(key=lambda e: _COLUMN_ORDER.get(e.field, len(_COLUMN_ORDER)))
        return FeedRow(number, event_id, None, tuple(errors))
    assert event is not None  # parse_event either returned or raised
    return FeedRow(number, event.event_id, event)


def _column_errors(
    errors: list[FieldError], already: set[str], derived_id: bool
) -> list[FieldError]:
    """Validation errors renamed to columns. A column that failed conversion was left out of
    the event, so its "Field required" echo is dropped; so is eventId's when there was no
    certificate id to derive it from (证书编号 is reported instead)."""
    out: list[FieldError] = []
    for e in errors:
        if e.field == "eventId" and not derived_id:
            continue
        column = COLUMN_OF_PATH.get(e.field, e.field)
        if column in already:
            continue
        if all((o.field, o.message) != (column, e.message) for o in out):
            out.append(FieldError(column, e.message))
    return out


def _unknown_district(value: str) -> str:
    codes = ", ".join(d.value for d in District)
    names = ", ".join(DISTRICT_NAMES_ZH.values())
    return f"unknown district {value!r}: use a code ({codes}) or a name ({names})"
