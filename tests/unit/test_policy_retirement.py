"""policy.retirement: the 2024 reform's retirement age at every band edge (domain.md C2, C3, C5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules import RetirementCategory, YearMonth
from policy.errors import PolicyError
from policy.retirement import flexible_window, min_contribution_months, retirement

M, F55, F50 = RetirementCategory.MALE, RetirementCategory.FEMALE_55, RetirementCategory.FEMALE_50

# (category, birth, delay, age_years, age_months, retirement_month, original_retirement_month)
CASES = [
    # men: 60 -> 63, +1 month per 4 months from 1965-01
    (M, "1964-12", 0, 60, 0, "2024-12", "2024-12"),  # last unaffected month
    (M, "1965-01", 1, 60, 1, "2025-02", "2025-01"),  # first affected month (C3)
    (M, "1965-04", 1, 60, 1, "2025-05", "2025-04"),  # end of the first band
    (M, "1965-05", 2, 60, 2, "2025-07", "2025-05"),  # start of the second band
    (M, "1965-08", 2, 60, 2, "2025-10", "2025-08"),  # Tianjin HRSS example (C3)
    (M, "1966-03", 4, 60, 4, "2026-07", "2026-03"),  # C7 example
    (M, "1976-08", 35, 62, 11, "2039-07", "2036-08"),  # last partial delay
    (M, "1976-09", 36, 63, 0, "2039-09", "2036-09"),  # first month at the cap
    (M, "1990-06", 36, 63, 0, "2053-06", "2050-06"),
    # women, original 55: 55 -> 58, +1 per 4 from 1970-01
    (F55, "1969-12", 0, 55, 0, "2024-12", "2024-12"),
    (F55, "1970-01", 1, 55, 1, "2025-02", "2025-01"),
    (F55, "1970-04", 1, 55, 1, "2025-05", "2025-04"),
    (F55, "1970-05", 2, 55, 2, "2025-07", "2025-05"),
    (F55, "1981-08", 35, 57, 11, "2039-07", "2036-08"),
    (F55, "1981-09", 36, 58, 0, "2039-09", "2036-09"),
    # women, original 50: 50 -> 55, +1 per 2 from 1975-01
    (F50, "1974-12", 0, 50, 0, "2024-12", "2024-12"),
    (F50, "1975-01", 1, 50, 1, "2025-02", "2025-01"),
    (F50, "1975-02", 1, 50, 1, "2025-03", "2025-02"),  # end of the first band
    (F50, "1975-03", 2, 50, 2, "2025-05", "2025-03"),
    (F50, "1984-10", 59, 54, 11, "2039-09", "2034-10"),  # last partial delay
    (F50, "1984-11", 60, 55, 0, "2039-11", "2034-11"),  # first month at the cap (C2)
    (F50, "1995-12", 60, 55, 0, "2050-12", "2045-12"),  # fully phased example (C3)
]


@pytest.mark.parametrize(("cat", "birth", "delay", "years", "months", "ret", "orig"), CASES)
def test_band_edges(
    cat: RetirementCategory, birth: str, delay: int, years: int, months: int, ret: str, orig: str
) -> None:
    r = retirement(cat, YearMonth.parse(birth))
    assert (r.delay_months, r.age_years, r.age_months) == (delay, years, months)
    assert str(r.retirement_month) == ret
    assert str(r.original_retirement_month) == orig
    assert r.parameter_version.startswith("params-")


def test_category_accepts_its_string_value_and_refuses_others() -> None:
    assert retirement("female-55", YearMonth(1970, 1)).delay_months == 1
    with pytest.raises(PolicyError) as e:
        retirement("female", YearMonth(1970, 1))
    assert e.value.code == "retirement.category_invalid"


births = st.builds(YearMonth, st.integers(1940, 2010), st.integers(1, 12))


@settings(max_examples=300, deadline=None)
@given(cat=st.sampled_from(list(RetirementCategory)), a=births, b=births)
def test_delay_never_decreases_with_a_later_birth_month(
    cat: RetirementCategory, a: YearMonth, b: YearMonth
) -> None:
    early, late = min(a, b), max(a, b)
    ra, rb = retirement(cat, early), retirement(cat, late)
    assert ra.delay_months <= rb.delay_months
    assert ra.retirement_month <= rb.retirement_month
    assert rb.retirement_month - rb.original_retirement_month == rb.delay_months


@settings(max_examples=100, deadline=None)
@given(cat=st.sampled_from(list(RetirementCategory)), b=births)
def test_delay_steps_by_at_most_one_month_per_birth_month(cat: RetirementCategory, b: YearMonth) -> None:
    assert 0 <= retirement(cat, b + 1).delay_months - retirement(cat, b).delay_months <= 1


def test_flexible_window() -> None:
    w = flexible_window(M, YearMonth(1976, 9))  # statutory 63 → early 60, late 66
    assert str(w.earliest_month) == "2036-09" and str(w.latest_month) == "2042-09"
    w = flexible_window(M, YearMonth(1965, 8))  # 60y2m: early never below the original 60
    assert str(w.earliest_month) == "2025-08" and str(w.latest_month) == "2028-10"


@pytest.mark.parametrize(
    ("year", "months"),
    [(2025, 180), (2029, 180), (2030, 186), (2031, 192), (2034, 210), (2038, 234), (2039, 240), (2060, 240)],
)
def test_min_contribution_months(year: int, months: int) -> None:
    assert min_contribution_months(year) == months


def test_min_contribution_out_of_range() -> None:
    with pytest.raises(PolicyError) as e:
        min_contribution_months(1990)
    assert e.value.code == "retirement.year_out_of_range"
