"""The cumulative working-day index (``policy.calendar``): counting working days is two look-ups,
and gives exactly what the day-by-day walk it replaced gave, on every pair of days of 2025–2026,
across year boundaries, make-up Saturdays and Sundays, and years without a table."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.calendar import (
    HolidayCalendar,
    build_calendar,
    is_working_day,
    packaged_calendar,
    working_days_between,
    working_days_until,
)
from policy.errors import CalendarMissingError, PolicyError

ONE = timedelta(days=1)


def walk_between(start: date, end: date, cal: HolidayCalendar | None = None) -> int:
    """The old implementation, kept as the reference: walk the calendar day by day."""
    if end < start:
        raise PolicyError("calendar.range_invalid", "reversed")
    c = cal or packaged_calendar()
    c.require(start)
    c.require(end)
    count = 0
    d = start
    while d <= end:
        if c.is_working_day(d):
            count += 1
        d += ONE
    return count


def walk_until(today: date, deadline: date) -> int:
    if deadline >= today:
        return 0 if deadline == today else walk_between(today + ONE, deadline)
    return -walk_between(deadline + ONE, today)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_equal_to_the_walk_on_every_pair_of_days_of_2025_and_2026() -> None:
    """Exhaustive: for each start, the walk's running count to every later end (the walk's own
    definition, accumulated instead of restarted) against the index."""
    days = _days(date(2025, 1, 1), date(2026, 12, 31))
    working = [is_working_day(d) for d in days]
    pairs = 0
    for i, start in enumerate(days):
        running = 0
        for j in range(i, len(days)):
            running += working[j]
            assert working_days_between(start, days[j]) == running, (start, days[j])
            pairs += 1
    assert pairs == len(days) * (len(days) + 1) // 2


def test_working_days_until_equals_the_walk_on_every_pair_of_days_of_2025_and_2026() -> None:
    """Exhaustive too: forwards, the walk's count of working days after today up to the deadline;
    backwards, minus its count after the deadline up to today."""
    days = _days(date(2025, 1, 1), date(2026, 12, 31))
    working = [is_working_day(d) for d in days]
    for i, today in enumerate(days):
        assert working_days_until(today, today) == 0
        running = 0
        for j in range(i + 1, len(days)):
            running += working[j]
            assert working_days_until(today, days[j]) == running, (today, days[j])
        running = 0
        for j in range(i - 1, -1, -1):
            running += working[j + 1]
            assert working_days_until(today, days[j]) == -running, (today, days[j])


@settings(max_examples=400, deadline=None)
@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
)
def test_equal_to_the_walk_on_any_pair_of_tabled_days(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    assert working_days_between(start, end) == walk_between(start, end)
    assert working_days_until(a, b) == walk_until(a, b)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # year boundaries
        (date(2025, 12, 31), date(2025, 12, 31), 1),  # Wednesday
        (date(2025, 12, 31), date(2026, 1, 1), 1),  # 元旦 2026
        (date(2025, 12, 31), date(2026, 1, 4), 2),  # Sunday 2026-01-04 is a make-up working day
        (date(2025, 12, 31), date(2026, 1, 5), 3),
        (date(2026, 1, 1), date(2026, 1, 3), 0),  # 元旦 holiday through Saturday
        (date(2024, 12, 31), date(2025, 1, 2), 2),  # Tue 12-31, 元旦 on Wed, Thu 01-02
        (date(2020, 1, 1), date(2026, 12, 31), walk_between(date(2020, 1, 1), date(2026, 12, 31))),
        # make-up Saturdays and Sundays
        (date(2025, 2, 8), date(2025, 2, 8), 1),  # Saturday, 调休上班
        (date(2025, 2, 7), date(2025, 2, 9), 2),  # Fri + make-up Sat, not Sun
        (date(2025, 1, 25), date(2025, 1, 26), 1),  # Sat no, make-up Sun yes
        (date(2026, 2, 14), date(2026, 2, 28), 6),  # make-up Sat, 春节 15–23, Tue–Fri, make-up Sat
        (date(2026, 5, 9), date(2026, 5, 10), 1),
        (date(2026, 10, 10), date(2026, 10, 11), 1),
    ],
)
def test_table(start: date, end: date, expected: int) -> None:
    assert working_days_between(start, end) == expected == walk_between(start, end)


def test_until_across_the_year_boundary_and_a_make_up_saturday() -> None:
    assert working_days_until(date(2025, 12, 31), date(2026, 1, 5)) == 2  # 01-04 (Sun, make-up), 01-05
    assert working_days_until(date(2026, 1, 5), date(2025, 12, 31)) == -2
    assert working_days_until(date(2026, 2, 13), date(2026, 2, 14)) == 1  # due on a make-up Saturday
    assert working_days_until(date(2026, 2, 15), date(2026, 2, 14)) == 0  # inside 春节: nothing lost yet
    assert working_days_until(date(2026, 2, 24), date(2026, 2, 14)) == -1


def _year(y: int, workday: str | None = None) -> dict[str, object]:
    return {
        "year": y,
        "notice": "test",
        "holidays": [{"name": "元旦", "from": f"{y}-01-01", "to": f"{y}-01-01"}],
        "workdays": [{"date": workday, "for": "元旦"}] if workday else [],
    }


def test_a_gap_in_the_tables_fails_closed_like_the_walk() -> None:
    cal = build_calendar([_year(2030), _year(2032, "2032-01-03")])
    assert working_days_between(date(2032, 1, 1), date(2032, 1, 5), cal) == walk_between(
        date(2032, 1, 1), date(2032, 1, 5), cal
    )
    with pytest.raises(CalendarMissingError) as e:
        working_days_between(date(2030, 12, 1), date(2032, 1, 5), cal)
    assert e.value.year == 2031
    with pytest.raises(CalendarMissingError) as e:
        working_days_between(date(2029, 12, 31), date(2030, 1, 5), cal)
    assert e.value.year == 2029
    with pytest.raises(CalendarMissingError) as e:
        working_days_between(date(2030, 12, 31), date(2031, 1, 5), cal)
    assert e.value.year == 2031


def test_an_operator_table_gets_its_own_index() -> None:
    """The index is per table: a calendar with an added year counts that year."""
    base = build_calendar([_year(2030)])
    more = build_calendar([_year(2030), _year(2031, "2031-01-04")])
    assert working_days_between(date(2030, 12, 30), date(2031, 1, 6), more) == walk_between(
        date(2030, 12, 30), date(2031, 1, 6), more
    )
    with pytest.raises(CalendarMissingError):
        working_days_between(date(2030, 12, 30), date(2031, 1, 6), base)
