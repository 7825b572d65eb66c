"""Workbench deadlines as data: working days per queue, China's public holidays, Beijing time."""

import functools
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

# chinese-calendar ships no type information.
import chinese_calendar  # type: ignore[import-untyped]
import yaml

from subsidy.domain.beijing import BEIJING, in_beijing

DEADLINES_FILE = Path(__file__).parent / "policy" / "deadlines.yaml"


class Queue(StrEnum):
    """A bureau's workbench queue: cases that wait for a person."""

    REVIEW = "REVIEW"  # 待审核: PENDING_REVIEW entitlements
    REFERRED = "REFERRED"  # 待转办: REFERRED entitlements
    APPEALS = "APPEALS"  # 复核申请: open appeals
    OBJECTIONS = "OBJECTIONS"  # 公示异议: objections not yet dismissed
    RETURNED_PAYMENTS = "RETURNED_PAYMENTS"  # 银行退回: payment orders the bank returned


QUEUE_LABELS_ZH = {
    Queue.REVIEW: "待审核",
    Queue.REFERRED: "待转办",
    Queue.APPEALS: "复核申请",
    Queue.OBJECTIONS: "公示异议",
    Queue.RETURNED_PAYMENTS: "银行退回",
}


class DeadlinesError(ValueError):
    """deadlines.yaml is not what this module reads; the message names the key."""


@dataclass(frozen=True, slots=True)
class QueueTerm:
    """One queue's deadline: N working days, and where the figure comes from."""

    queue: Queue
    working_days: int
    source: str


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Every queue's term and the time of day a last working day ends (Beijing time)."""

    terms: Mapping[Queue, QueueTerm]
    day_ends_at: time


@dataclass(frozen=True, slots=True)
class CaseClock:
    """Where a case stands against its deadline at `now`. `calendar_known` is False when a
    day counted lies in a year the holiday calendar does not cover: those days were counted
    Monday to Friday, and a holiday or 调休 day there may be wrong."""

    due_at: datetime
    age_working_days: int
    overdue: bool
    calendar_known: bool


# ---- the calendar ------------------------------------------------------------------------

# The years chinese-calendar has the State Council's arrangements for (it raises
# NotImplementedError for any other): outside them a day is a working day iff Mon–Fri.
_FIRST_YEAR = min(d.year for d in chinese_calendar.holidays)
_LAST_YEAR = max(d.year for d in chinese_calendar.holidays)
# Ordinals of the exceptions to Mon–Fri, sorted: holidays on weekdays (unless also listed as
# working), and 调休 weekend days worked. Counting a span is then arithmetic and two bisects.
_OFF_WEEKDAYS = sorted(
    d.toordinal()
    for d in chinese_calendar.holidays
    if d.weekday() < 5 and d not in chinese_calendar.workdays
)
_WORKED_WEEKENDS = sorted(d.toordinal() for d in chinese_calendar.workdays if d.weekday() >= 5)


def calendar_years() -> tuple[int, int]:
    """The first and last year the holiday calendar covers."""
    return _FIRST_YEAR, _LAST_YEAR


def is_working_day(day: date) -> tuple[bool, bool]:
    """(is `day` a working day, is that from the holiday calendar rather than Mon–Fri)."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


def _weekdays_through(ordinal: int) -> int:
    """Mon–Fri days among ordinals 1…ordinal (ordinal 1, 0001-01-01, is a Monday)."""
    return ordinal // 7 * 5 + min(ordinal % 7, 5)


def _between(sorted_ordinals: list[int], after: int, upto: int) -> int:
    return bisect_right(sorted_ordinals, upto) - bisect_right(sorted_ordinals, after)


def working_days_between(after: date, upto: date) -> tuple[int, bool]:
    """Working days d with after < d <= upto (0 when upto <= after), and whether every one
    of those days lies in a year the calendar covers."""
    if upto <= after:
        return 0, True
    a, b = after.toordinal(), upto.toordinal()
    count = (
        _weekdays_through(b)
        - _weekdays_through(a)
        - _between(_OFF_WEEKDAYS, a, b)
        + _between(_WORKED_WEEKENDS, a, b)
    )
    first = after + timedelta(days=1)
    return count, first.year >= _FIRST_YEAR and upto.year <= _LAST_YEAR


def nth_working_day_after(day: date, n: int) -> tuple[date, bool]:
    """The n-th working day after `day` (n >= 1; `day` itself is not counted), and whether
    every day stepped over lies in a year the calendar covers."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    known, found = True, 0
    while found < n:
        day += timedelta(days=1)
        working, from_calendar = is_working_day(day)
        known = known and from_calendar
        found += working
    return day, known


# ---- deadlines ---------------------------------------------------------------------------


def _beijing_day(moment: datetime, name: str) -> date:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry its UTC offset, got naive {moment.isoformat()}")
    return in_beijing(moment).date()


def clock(
    queue: Queue, entered_at: datetime, now: datetime, deadlines: Deadlines | None = None
) -> CaseClock:
    """The case's due time, its age in working days, overdue or not, at `now`."""
    deadlines = deadlines or load_deadlines()
    entered_on = _beijing_day(entered_at, "entered_at")
    last_day, due_known = nth_working_day_after(entered_on, deadlines.terms[queue].working_days)
    due_at = datetime.combine(last_day, deadlines.day_ends_at, tzinfo=BEIJING)
    age, age_known = working_days_between(entered_on, _beijing_day(now, "now"))
    return CaseClock(due_at, age, now > due_at, due_known and age_known)


def due(queue: Queue, entered_at: datetime, deadlines: Deadlines | None = None) -> datetime:
    """When a case that entered `queue` at `entered_at` is due: the end of its N-th working
    day after the day it entered (Beijing time)."""
    deadlines = deadlines or load_deadlines()
    entered_on = _beijing_day(entered_at, "entered_at")
    last_day, _ = nth_working_day_after(entered_on, deadlines.terms[queue].working_days)
    return datetime.combine(last_day, deadlines.day_ends_at, tzinfo=BEIJING)


def age_working_days(entered_at: datetime, now: datetime) -> int:
    """Working days since the case entered: those after its entry day, through now's day."""
    after = _beijing_day(entered_at, "entered_at")
    return working_days_between(after, _beijing_day(now, "now"))[0]


def is_overdue(
    queue: Queue, entered_at: datetime, now: datetime, deadlines: Deadlines | None = None
) -> bool:
    """Has the case's due time passed at `now`?"""
    return now > due(queue, entered_at, deadlines)


def overdue_before(queue: Queue, now: datetime, deadlines: Deadlines | None = None) -> datetime:
    """The moment before which a case that entered `queue` is overdue at `now`: a later entry
    is never due earlier, so one instant splits the overdue from the rest (a query can count
    them with `entered_at < this`). The start, Beijing time, of the day after the last entry
    day whose deadline has passed."""
    deadlines = deadlines or load_deadlines()
    day = _beijing_day(now, "now")
    while True:  # a day's deadline is after that day: at most N working days and breaks back
        day -= timedelta(days=1)
        if due(queue, datetime.combine(day, time(), tzinfo=BEIJING), deadlines) < now:
            return datetime.combine(day + timedelta(days=1), time(), tzinfo=BEIJING)


# ---- the file ----------------------------------------------------------------------------


def _time_of_day(value: Any) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise DeadlinesError(f"day_ends_at: a time of day HH:MM[:SS], got {value!r}") from None


def _term(queue: Queue, raw: Any) -> QueueTerm:
    where = f"queues.{queue.value}"
    if not isinstance(raw, dict):
        raise DeadlinesError(f"{where}: a mapping with working_days and source")
    days, source = raw.get("working_days"), raw.get("source")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise DeadlinesError(f"{where}.working_days: a whole number 1…365, got {days!r}")
    if not isinstance(source, str) or not source.strip():
        raise DeadlinesError(f"{where}.source: where the figure comes from, required")
    return QueueTerm(queue, days, " ".join(source.split()))


def build_deadlines(raw: Any) -> Deadlines:
    """Deadlines from the parsed YAML; DeadlinesError naming what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("queues"), dict):
        raise DeadlinesError("queues: a mapping of queue name to its term, required")
    queues: dict[str, Any] = raw["queues"]
    unknown = sorted(set(queues) - {q.value for q in Queue})
    if unknown:
        raise DeadlinesError(f"queues: unknown queue(s) {', '.join(map(str, unknown))}")
    missing = [q.value for q in Queue if q.value not in queues]
    if missing:
        raise DeadlinesError(f"queues: no term for {', '.join(missing)}")
    terms = {q: _term(q, queues[q.value]) for q in Queue}
    return Deadlines(terms, _time_of_day(raw.get("day_ends_at", "23:59:59")))


def read_deadlines(path: Path) -> Deadlines:
    """The deadlines of a YAML file."""
    return build_deadlines(yaml.safe_load(path.read_text("utf-8")))


@functools.cache
def load_deadlines() -> Deadlines:
    """The platform's deadlines (policy/deadlines.yaml), read once."""
    return read_deadlines(DEADLINES_FILE)


def deadlines_table(deadlines: Deadlines) -> str:
    """docs/workbench.md's table of deadlines, in Markdown, generated from the file."""
    ends = deadlines.day_ends_at.isoformat()
    lines = [
        "| queue | 队列 | deadline | source |",
        "| --- | --- | --- | --- |",
    ]
    for term in deadlines.terms.values():
        lines.append(
            f"| `{term.queue.value}` | {QUEUE_LABELS_ZH[term.queue]} |"
            f" {term.working_days} 个工作日 / working days, {ends} 北京时间 | {term.source} |"
        )
    return "\n".join(lines) + "\n"
