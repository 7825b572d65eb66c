"""docs/workbench.md's deadlines table is what deadlines.yaml says."""

from pathlib import Path

from subsidy.domain.deadlines import calendar_years, deadlines_table, load_deadlines

PAGE = Path(__file__).resolve().parents[2] / "docs" / "workbench.md"
START = "<!-- deadlines table: generated from src/subsidy/domain/policy/deadlines.yaml -->\n"
END = "<!-- end of the deadlines table -->"


def test_the_deadlines_table_is_generated_from_the_file() -> None:
    text = PAGE.read_text("utf-8")
    table = text.split(START, 1)[1].split(END, 1)[0]
    assert table == deadlines_table(load_deadlines()), (
        "docs/workbench.md: paste deadlines_table(load_deadlines()) between its markers"
    )


def test_the_page_names_the_calendar_s_years() -> None:
    first, last = calendar_years()
    assert f"currently {first}–{last}" in PAGE.read_text("utf-8")
