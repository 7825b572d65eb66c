"""Deadlines in working days."""

# Exact cases around 国庆 2025 and 春节 2026, the Mon–Fri fallback for years the holiday calendar
# does not know, and properties against a day-by-day count.

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy.domain.beijing import BEIJING
from subsidy.domain.deadlines import (
    DeadlinesError,
    Queue,
    age_working_days,
    build_deadlines,
    calendar_years,
    clock,
    due,
    is_overdue,
    load_deadlines,
    nth_working_day_after,
    overdue_before,
    working_days_between,
)

END = time(23, 59, 59)


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    """A moment of a day, Beijing time."""
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=BEIJING)


def end_of(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), END, tzinfo=BEIJING)


# ---- a second, tiny implementation: one day at a time --------------------------------------


def works(day: date) -> tuple[bool, bool]:
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def count_day_by_day(after: date, upto: date) -> tuple[int, bool]:
    n, known, day = 0, True, after + timedelta(days=1)
    while day <= upto:
        working, from_calendar = works(day)
        n, known = n + working, known and from_calendar
        day += timedelta(days=1)
    return n, known


def nth_day_by_day(day: date, n: int) -> tuple[date, bool]:
    known = True
    while n:
        day += timedelta(days=1)
        working, from_calendar = works(day)
        n, known = n - working, known and from_calendar
    return day, known


# ---- the file ------------------------------------------------------------------------------


def test_the_platform_terms() -> None:
    terms = load_deadlines().terms
    assert {q: t.working_days for q, t in terms.items()} == {
        Queue.REVIEW: 5, Queue.REFERRED: 10, Queue.APPEALS: 15, Queue.OBJECTIONS: 5,
        Queue.RETURNED_PAYMENTS: 3,
    }  # fmt: skip
    assert all(t.source for t in terms.values())
    assert load_deadlines().day_ends_at == END


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({}, "queues"),
        ({"queues": {"REVIEW": {"working_days": 5, "source": "x"}}}, "no term for REFERRED"),
        ({"queues": {q.value: {"working_days": 5, "source": "x"} for q in Queue} | {"X": {}}},
         "unknown queue(s) X"),
        ({"queues": {q.value: {"working_days": 0, "source": "x"} for q in Queue}},
         "queues.REVIEW.working_days"),
        ({"queues": {q.value: {"working_days": 5, "source": " "} for q in Queue}},
         "queues.REVIEW.source"),
        ({"queues": {q.value: {"working_days": 5, "source": "x"} for q in Queue},
          "day_ends_at": "5pm"}, "day_ends_at"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_key(raw: object, named: str) -> None:
    with pytest.raises(DeadlinesError, match=named.replace("(", r"\(").replace(")", r"\)")):
        build_deadlines(raw)


# ---- 国庆 2025: Oct 1–8 off, Sun Sep 28 and Sat Oct 11 worked ----------------------------------


def test_national_day_2025_is_skipped_and_its_weekend_working_days_count() -> None:
    # Fri Sep 26: Sun 28 (1), Mon 29 (2), Tue 30 (3), Oct 1–8 off, Thu 9 (4), Fri 10 (5).
    assert due(Queue.REVIEW, at("2025-09-26")) == end_of("2025-10-10")
    # Tue Sep 30: Thu Oct 9, Fri 10, Sat 11 (调休), Mon 13, Tue 14.
    assert due(Queue.REVIEW, at("2025-09-30", 16)) == end_of("2025-10-14")
    # Entered during the holiday: the three days are Oct 9, 10 and the working Saturday.
    assert due(Queue.RETURNED_PAYMENTS, at("2025-10-03")) == end_of("2025-10-11")
    # Fifteen: Sep 28–30 (1–3), Oct 9–11 (4–6), Oct 13–17 (7–11), Oct 20–23 (12–15).
    assert due(Queue.APPEALS, at("2025-09-26")) == end_of("2025-10-23")
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 8)) == (0, True)
    assert working_days_between(date(2025, 9, 27), date(2025, 9, 28)) == (1, True)


def test_age_and_overdue_around_national_day_2025() -> None:
    entered = at("2025-09-26")
    assert age_working_days(entered, at("2025-09-26", 18)) == 0
    assert age_working_days(entered, at("2025-10-08", 12)) == 3  # Sep 28, 29, 30
    assert age_working_days(entered, at("2025-10-10", 12)) == 5
    assert not is_overdue(Queue.REVIEW, entered, end_of("2025-10-10"))
    assert is_overdue(Queue.REVIEW, entered, end_of("2025-10-10") + timedelta(seconds=1))
    later = clock(Queue.REVIEW, entered, at("2025-10-11", 9))
    assert later.age_working_days == 6  # the 调休 Saturday is a working day
    assert later.overdue
    assert later.calendar_known
    assert later.due_at == end_of("2025-10-10")


def test_the_day_is_beijing_s() -> None:
    # 18:00 UTC on Sep 25 is 02:00 on Sep 26 in Beijing: the case entered on the 26th.
    utc = datetime(2025, 9, 25, 18, tzinfo=UTC)
    assert due(Queue.REVIEW, utc) == end_of("2025-10-10")
    assert due(Queue.REVIEW, utc).utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError, match="entered_at must carry its UTC offset"):
        due(Queue.REVIEW, datetime(2025, 9, 26, 10))


# ---- 春节 2026: Feb 15–23 off, Sat Feb 14 and Sat Feb 28 worked --------------------------------


def test_spring_festival_2026() -> None:
    # Thu Feb 12: Fri 13 (1), Sat 14 (2, 调休), Feb 15–23 off, Tue 24 (3), Wed 25, Thu 26 (5).
    assert due(Queue.REVIEW, at("2026-02-12")) == end_of("2026-02-26")
    # Fifteen: … Fri 27 (6), Sat 28 (7, 调休), Mar 2–6 (8–12), Mar 9–11 (13–15).
    assert due(Queue.APPEALS, at("2026-02-12")) == end_of("2026-03-11")
    # Fri Feb 13: Sat 14 (1), Feb 24–27 (2–5), Sat 28 (6), Mar 2–5 (7–10).
    assert due(Queue.REFERRED, at("2026-02-13", 17)) == end_of("2026-03-05")
    assert working_days_between(date(2026, 2, 14), date(2026, 2, 23)) == (0, True)
    assert age_working_days(at("2026-02-12"), at("2026-02-28")) == 7


# ---- beyond the calendar: Mon–Fri, and said so ----------------------------------------------


def test_a_year_the_calendar_does_not_know_counts_monday_to_friday_and_says_so() -> None:
    first, last = calendar_years()
    beyond = last + 1
    monday = date(beyond, 3, 1) + timedelta(days=-date(beyond, 3, 1).weekday() + 7)
    entered = datetime.combine(monday, time(9), tzinfo=BEIJING)
    case = clock(Queue.REVIEW, entered, entered + timedelta(days=8))
    assert case.due_at == datetime.combine(monday + timedelta(days=7), END, tzinfo=BEIJING)
    assert case.age_working_days == 6
    assert case.overdue
    assert not case.calendar_known
    # A span that only ends in an unknown year is not known either; one before it is.
    assert not working_days_between(date(last, 12, 30), date(beyond, 1, 5))[1]
    assert working_days_between(date(last, 1, 1), date(last, 12, 31))[1]
    assert not working_days_between(date(first - 1, 12, 1), date(first, 1, 5))[1]


# ---- properties against the day-by-day count -------------------------------------------------

_first, _last = calendar_years()
days = st.dates(date(_first - 2, 1, 1), date(_last + 3, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=days, span=st.integers(-30, 800))
def test_counting_a_span_agrees_with_counting_day_by_day(start: date, span: int) -> None:
    assert working_days_between(start, start + timedelta(days=span)) == count_day_by_day(
        start, start + timedelta(days=span)
    )


@settings(max_examples=300, deadline=None)
@given(start=days, n=st.integers(1, 40))
def test_the_nth_working_day_agrees_with_stepping_day_by_day(start: date, n: int) -> None:
    assert nth_working_day_after(start, n) == nth_day_by_day(start, n)


@settings(max_examples=200, deadline=None)
@given(
    queue=st.sampled_from(Queue),
    start=days,
    minutes=st.integers(0, 24 * 60 - 1),
    later=st.integers(0, 60 * 24 * 60),
)
def test_a_case_is_overdue_exactly_after_its_nth_working_day(
    queue: Queue, start: date, minutes: int, later: int
) -> None:
    entered = datetime.combine(start, time(), tzinfo=BEIJING) + timedelta(minutes=minutes)
    now = entered + timedelta(minutes=later)
    n = load_deadlines().terms[queue].working_days
    case = clock(queue, entered, now)
    last, known = nth_day_by_day(start, n)
    age, age_known = count_day_by_day(start, now.date())
    assert case.due_at == datetime.combine(last, END, tzinfo=BEIJING)
    assert case.age_working_days == age
    assert case.calendar_known == (known and age_known)
    assert case.overdue == (now.date() > last)
    # Overdue means more than N working days have begun, unless now is a day off after N.
    assert case.overdue or case.age_working_days <= n


@settings(max_examples=200, deadline=None)
@given(
    queue=st.sampled_from(Queue),
    start=days,
    minutes=st.integers(0, 24 * 60 - 1),
    later=st.integers(-3 * 24 * 60, 60 * 24 * 60),
)
def test_one_instant_splits_the_overdue_cases_from_the_others(
    queue: Queue, start: date, minutes: int, later: int
) -> None:
    entered = datetime.combine(start, time(), tzinfo=BEIJING) + timedelta(minutes=minutes)
    now = entered + timedelta(minutes=later)
    assert (entered < overdue_before(queue, now)) == is_overdue(queue, entered, now)
