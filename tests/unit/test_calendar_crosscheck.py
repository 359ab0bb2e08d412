"""The typed holiday table against chinese_calendar and holidays, day by day (domain.md D5).

Both libraries are only a cross-check: the table is the source the rules use.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest

from policy.calendar import packaged_calendar

YEARS = sorted(packaged_calendar().years)


def _days(year: int) -> list[date]:
    d, out = date(year, 1, 1), []
    while d.year == year:
        out.append(d)
        d += timedelta(days=1)
    return out


def test_required_years_are_tabled_and_covered_by_chinese_calendar() -> None:
    assert {2020, 2021, 2022, 2023, 2024, 2025, 2026} <= set(YEARS)
    for year in range(2020, 2027):
        chinese_calendar.is_workday(date(year, 6, 1))  # raises NotImplementedError if not covered


@pytest.mark.parametrize("year", YEARS)
def test_table_matches_chinese_calendar(year: int) -> None:
    cal = packaged_calendar()
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:  # pragma: no cover - only for a year newer than the library
        pytest.fail(f"chinese_calendar does not cover {year}: upgrade it to cross-check the new table")
    mismatches = [d for d in _days(year) if cal.is_working_day(d) != chinese_calendar.is_workday(d)]
    assert mismatches == []


@pytest.mark.parametrize("year", YEARS)
def test_table_matches_holidays_library(year: int) -> None:
    cal = packaged_calendar()
    cn = holidays.China(years=year)
    mismatches = [d for d in _days(year) if cal.is_working_day(d) != cn.is_working_day(d)]
    assert mismatches == []


def test_holiday_names_match_the_notices_for_2025_and_2026() -> None:
    cal = packaged_calendar()
    assert cal.holiday_name(date(2025, 1, 28)) == "春节"
    assert cal.holiday_name(date(2025, 10, 8)) == "国庆节、中秋节"
    assert cal.holiday_name(date(2026, 2, 15)) == "春节"
    assert cal.holiday_name(date(2026, 3, 2)) is None
    statutory = [d for d in _days(2025) if cal.holiday_name(d) is not None and d.weekday() < 5]
    # 365 days - 104 weekend days - 18 weekday holidays + 5 make-up days = 248 working days (D3)
    assert len(statutory) == 18
