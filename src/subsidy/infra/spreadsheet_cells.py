"""Cells of the CSV files the platform writes, made safe to open in a spreadsheet."""

from collections.abc import Iterable

# OWASP's CSV injection rule: Excel, LibreOffice and Google Sheets read a cell starting with
# one of these as a formula (tab and carriage return because some strip them first), and a
# formula can fetch URLs or run commands on the reader's machine.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A cell shown as text, never evaluated: text starting like a formula gets a leading
    single quote, so the report still shows the whole value after it; anything else is kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    """One row for `csv.writer.writerow`, every cell neutralised."""
    return [neutralise(v) for v in values]
