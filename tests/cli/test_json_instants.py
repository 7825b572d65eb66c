"""`--format json` of every command: instants, calendar days, all readable back by the contract."""

# Instants as ISO-8601 in Beijing time with their offset, calendar days as YYYY-MM-DD, and nothing
# written that the contract cannot read back.

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from subsidy.domain.beijing import beijing_time
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import OutputFormat


def test_instants_and_days_are_written_as_the_contract_reads_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    moment = datetime(2026, 3, 2, 2, 15, 7, 500, tzinfo=UTC)
    out.write_records([{"at": moment, "day": date(2026, 3, 2), "fen": 100}], OutputFormat.json)
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {"at": "2026-03-02T10:15:07+08:00", "day": "2026-03-02", "fen": 100}
    assert datetime.fromisoformat(row["at"]) == moment.replace(microsecond=0)


def test_a_naive_instant_is_refused_not_guessed() -> None:
    # The machine's local time zone would decide which instant it printed.
    with pytest.raises(ValueError, match="UTC offset"):
        out.write_json({"at": datetime(2026, 3, 2, 10, 15, 7)})
    with pytest.raises(ValueError, match="UTC offset"):
        out.iso(datetime(2026, 3, 2, 10, 15, 7))
    # Nor in a table, nor anywhere else an instant is shown in Beijing time.
    with pytest.raises(ValueError, match="UTC offset"):
        out.beijing(datetime(2026, 3, 2, 10, 15, 7))
    with pytest.raises(ValueError, match="UTC offset"):
        beijing_time(datetime(2026, 3, 2, 10, 15, 7))
    assert out.beijing(datetime(2026, 3, 2, 2, 15, 7, tzinfo=UTC)) == "2026-03-02 10:15:07 +08:00"


def test_a_value_json_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        out.write_json({"amount": Decimal("1.00")})
