"""policy.calendar: working days, the review deadline and fail-closed years (domain.md D)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.parameters import calendar_in_force
from policy.calendar import (
    CALENDAR_VERSION,
    build_calendar,
    is_working_day,
    nth_working_day_after,
    packaged_calendar,
    review_deadline,
    working_days_between,
    working_days_until,
)
from policy.errors import CalendarMissingError, PolicyError
from policy.parameters import merge_parameters, packaged_parameters
from tests.unit.test_operator_overrides import YEAR_2098


def test_tabled_years() -> None:
    assert set(range(2020, 2027)) <= packaged_calendar().years


@pytest.mark.parametrize(
    ("d", "working"),
    [
        (date(2025, 1, 1), False),  # 元旦
        (date(2025, 1, 26), True),  # Sunday, 调休上班
        (date(2025, 1, 28), False),  # 除夕
        (date(2025, 2, 4), False),  # last day of 春节
        (date(2025, 2, 8), True),  # Saturday, 调休上班
        (date(2025, 4, 27), True),
        (date(2025, 5, 5), False),
        (date(2025, 9, 28), True),
        (date(2025, 10, 8), False),
        (date(2025, 10, 11), True),
        (date(2025, 10, 12), False),  # an ordinary Sunday
        (date(2025, 10, 13), True),  # an ordinary Monday
        (date(2026, 1, 4), True),
        (date(2026, 2, 23), False),
        (date(2026, 2, 28), True),
        (date(2026, 9, 20), True),
        (date(2026, 10, 10), True),
        (date(2020, 2, 1), False),  # 2020: Feb 1 make-up cancelled by the extension notice
    ],
)
def test_is_working_day(d: date, working: bool) -> None:
    assert is_working_day(d) is working


MONTHLY = {
    2025: [19, 19, 21, 22, 19, 20, 23, 21, 23, 18, 20, 23],
    2026: [21, 16, 22, 21, 19, 21, 23, 21, 22, 18, 21, 23],
}


@pytest.mark.parametrize("year", [2025, 2026])
def test_working_days_per_month_and_year_match_domain_d3(year: int) -> None:
    counts = []
    for m in range(1, 13):
        last = (date(year + (m == 12), m % 12 + 1, 1)) - timedelta(days=1)
        counts.append(working_days_between(date(year, m, 1), last))
    assert counts == MONTHLY[year]
    assert working_days_between(date(year, 1, 1), date(year, 12, 31)) == 248


def test_review_deadline_d4_example_lands_on_a_make_up_saturday() -> None:
    assert review_deadline(date(2025, 1, 20)) == date(2025, 2, 8)
    assert date(2025, 2, 8).weekday() == 5


def test_receipt_day_is_not_counted_by_default_and_the_choice_is_a_parameter() -> None:
    assert nth_working_day_after(date(2025, 1, 20), 10, count_start=True) == date(2025, 2, 7)
    assert nth_working_day_after(date(2025, 1, 20), 10, count_start=False) == date(2025, 2, 8)
    doc = {
        "parameters": {
            "review.count_receipt_day": {
                "values": [
                    {"effective_from": "2025-01-01", "value": True, "status": "confirmed", "source": "t"}
                ]
            }
        }
    }
    inclusive = merge_parameters(packaged_parameters(), [doc])
    assert review_deadline(date(2025, 1, 20), params=inclusive) == date(2025, 2, 7)


def test_non_working_receipt_day_counts_from_the_next_working_day() -> None:
    # Sunday 2025-01-19: counting starts Monday, whether or not the receipt day "counts".
    assert review_deadline(date(2025, 1, 19)) == date(2025, 2, 7)
    assert nth_working_day_after(date(2025, 1, 19), 10, count_start=True) == date(2025, 2, 7)


def test_new_year_2026_is_the_15th_not_the_16th() -> None:
    # domain.md D5: chinese_calendar.find_workday would give 2026-01-16.
    assert review_deadline(date(2026, 1, 1)) == date(2026, 1, 15)


def test_other_limits() -> None:
    # 9-30 → Oct 9, 10, 11 (Sat, 调休), 13–17, 20, 21: the 10th is 10-21
    assert review_deadline(date(2025, 9, 30)) == date(2025, 10, 21)
    assert review_deadline(date(2025, 1, 20), working_days=20) == nth_working_day_after(date(2025, 1, 20), 20)
    assert nth_working_day_after(date(2025, 2, 7), 1) == date(2025, 2, 8)


# An operator's table for 2098 and none for 2099 (test_operator_overrides.YEAR_2098): a far year,
# so that the day an operator adds next year's real table (README: it must happen) breaks nothing.


def test_year_without_a_table_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(CalendarMissingError) as e:
        is_working_day(date(2099, 1, 5))
    assert e.value.code == "calendar.year_missing" and e.value.year == 2099
    assert "2099" in e.value.message_zh
    with pytest.raises(CalendarMissingError):
        is_working_day(date(2019, 12, 31))
    (tmp_path / "cn-2098.yaml").write_text(YEAR_2098, encoding="utf-8")
    cal = calendar_in_force(tmp_path)
    assert is_working_day(date(2098, 12, 24), cal) is True  # the year before is there
    with pytest.raises(CalendarMissingError) as e:  # the deadline would run into 2099
        review_deadline(date(2098, 12, 25), cal=cal)
    assert e.value.year == 2099
    with pytest.raises(CalendarMissingError):
        working_days_between(date(2098, 12, 1), date(2099, 1, 5), cal)


@pytest.mark.parametrize("n", [0, -1, -10])
def test_non_positive_counts_are_refused(n: int) -> None:
    with pytest.raises(PolicyError) as e:
        nth_working_day_after(date(2025, 3, 3), n)
    assert e.value.code == "calendar.count_invalid"
    with pytest.raises(PolicyError):
        review_deadline(date(2025, 3, 3), working_days=n)


def test_working_days_between_is_inclusive_and_refuses_reversed_ranges() -> None:
    assert working_days_between(date(2025, 2, 8), date(2025, 2, 8)) == 1
    assert working_days_between(date(2025, 2, 9), date(2025, 2, 9)) == 0
    assert working_days_between(date(2025, 1, 27), date(2025, 2, 8)) == 5
    with pytest.raises(PolicyError) as e:
        working_days_between(date(2025, 2, 9), date(2025, 2, 8))
    assert e.value.code == "calendar.range_invalid"


def test_working_days_until() -> None:
    deadline = date(2025, 2, 8)
    assert working_days_until(date(2025, 1, 20), deadline) == 10
    assert working_days_until(date(2025, 2, 7), deadline) == 1
    assert working_days_until(deadline, deadline) == 0
    assert working_days_until(date(2025, 2, 9), deadline) == 0  # Sunday after: no working day lost yet
    assert working_days_until(date(2025, 2, 10), deadline) == -1
    assert working_days_until(date(2025, 2, 14), deadline) == -5


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "year": 2030,
        "notice": "test",
        "holidays": [{"name": "元旦", "from": "2030-01-01", "to": "2030-01-01"}],
        "workdays": [{"date": "2030-01-05", "for": "元旦"}],
    }
    doc.update(over)
    return doc


def test_build_calendar_validates_and_versions() -> None:
    cal = build_calendar([_doc()])
    assert cal.is_working_day(date(2030, 1, 5)) and not cal.is_working_day(date(2030, 1, 1))
    assert is_working_day(date(2030, 1, 5), cal)
    other = build_calendar([_doc(workdays=[])])
    assert other.version != cal.version
    assert packaged_calendar().version == CALENDAR_VERSION
    with pytest.raises(PolicyError):  # a make-up day must be a weekend day
        build_calendar([_doc(workdays=[{"date": "2030-01-07", "for": "x"}])])
    with pytest.raises(PolicyError):  # a day cannot be both
        build_calendar(
            [
                _doc(
                    workdays=[{"date": "2030-01-05", "for": "x"}],
                    holidays=[{"name": "x", "from": "2030-01-05", "to": "2030-01-06"}],
                )
            ]
        )
    with pytest.raises(PolicyError):
        build_calendar([_doc(), _doc()])
    with pytest.raises(PolicyError):
        build_calendar([_doc(notice="")])


received_days = st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 11, 30))


@settings(max_examples=300, deadline=None)
@given(received=received_days, n=st.integers(min_value=1, max_value=20), count_start=st.booleans())
def test_deadline_is_a_working_day_after_receipt(received: date, n: int, count_start: bool) -> None:
    d = nth_working_day_after(received, n, count_start=count_start)
    assert is_working_day(d)
    assert d >= received
    if count_start and is_working_day(received):
        assert working_days_between(received, d) == n
    else:
        assert d > received
        assert working_days_between(received + timedelta(days=1), d) == n


def test_review_limit_before_the_2023_regulation_has_no_default() -> None:
    # 经办条例 (10 working days) is in force from 2023-12-01; earlier receipts need an explicit count.
    with pytest.raises(PolicyError) as e:
        review_deadline(date(2022, 5, 5))
    assert e.value.code == "params.no_value"
    # May 6, 7 (Sat, 调休), 9–13, 16, 17, 18
    assert review_deadline(date(2022, 5, 5), working_days=10) == date(2022, 5, 18)


@settings(max_examples=200, deadline=None)
@given(received=st.dates(min_value=date(2023, 12, 1), max_value=date(2026, 11, 30)))
def test_review_deadline_is_strictly_after_receipt(received: date) -> None:
    d = review_deadline(received)
    assert d > received and is_working_day(d)
    assert working_days_until(received, d) == 10


@settings(max_examples=150, deadline=None)
@given(a=received_days, b=received_days)
def test_working_days_between_is_additive(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    mid = start + (end - start) // 2
    assert working_days_between(start, end) == working_days_between(start, mid) + (
        working_days_between(mid + timedelta(days=1), end) if mid < end else 0
    )
