"""The event history a reform is tried on: valid events in order, and the lines that are not."""

# Events in the order they were decided; the lines that are not events are counted and listed (the
# rest is still compared).

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.ledger.history import LedgerHistory
from subsidy.reform.policy import ReformInputError

EVENTS_FILE = "events-file"
LEDGER = "ledger"


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a valid event: where (line of the file, or place in the ledger's
    order), which event if it has a usable id, and why."""

    line: int
    event_id: str | None
    error: str


@dataclass
class History:
    """Events as JSON lines in decision order (per enterprise, as they were applied)."""

    source: str  # EVENTS_FILE or LEDGER
    origin: str  # the file, or the database (without its password)
    lines: list[str] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    ledger: LedgerHistory | None = None  # what the ledger holds and could not give back


def read_lines(lines: Iterable[str | bytes], source: str, origin: str) -> History:
    """Keep the lines that are events (checked once here, so both policies see exactly the
    same history); blank lines are skipped, as `subsidy simulate` skips them."""
    history = History(source, origin)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parse_event_json(line)
        except InvalidEvent as err:
            history.bad.append(BadLine(number, err.event_id, str(err)))
            continue
        history.lines.append(line.decode("utf-8") if isinstance(line, bytes) else line)
    return history


def read_events_file(path: Path) -> History:
    """A JSONL event file, as `subsidy simulate --events` reads it."""
    if not path.is_file():
        problem = "not a file" if path.exists() else "no such file"
        raise ReformInputError(f"events file {path}: {problem}")
    try:
        with path.open("rb") as lines:
            return read_lines(lines, EVENTS_FILE, str(path))
    except OSError as err:
        raise ReformInputError(f"events file {path}: cannot read it: {err}") from None


def from_ledger(recorded: LedgerHistory, origin: str) -> History:
    """The ledger's events, validated again like a file's lines (a stored event that today's
    contract refuses is listed, not fatal)."""
    history = read_lines(recorded.events, LEDGER, origin)
    history.ledger = recorded
    return history
