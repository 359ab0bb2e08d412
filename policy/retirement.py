"""Statutory retirement age under the 2024 reform (渐进式延迟法定退休年龄; domain.md C1–C5).

Why here: the near-retirement benefit rules (C6) and the pension-contribution support are keyed
to the 法定退休年龄, so every workflow must compute it the same way. The reform works to the
birth *month* (C2), so the result is a year-month, never a day.

Algorithm (C2), with the figures read from ``retirement.<category>.*`` parameters::

    k = months from the first affected birth month to the birth month
    delay = 0 if k < 0 else min(k // step + 1, cap)
    retirement_month = birth + original_age*12 + delay
"""

from __future__ import annotations

from dataclasses import dataclass

from models.rules import RetirementCategory, YearMonth
from policy.errors import PolicyError
from policy.parameters import ParameterSet, bracket_lookup, resolve

_PARAM_KEY = {
    RetirementCategory.MALE: "male",
    RetirementCategory.FEMALE_55: "female_55",
    RetirementCategory.FEMALE_50: "female_50",
}


@dataclass(frozen=True, slots=True)
class RetirementAge:
    """The statutory retirement point of one person.

    ``age_years``/``age_months`` is the new statutory age (e.g. 60 years 2 months);
    ``retirement_month`` is the month that age is reached; ``original_retirement_month`` is the
    pre-reform one (birth + original age), needed by the transitional rule (C6 Rule 4)."""

    category: RetirementCategory
    birth: YearMonth
    delay_months: int
    age_years: int
    age_months: int
    retirement_month: YearMonth
    original_retirement_month: YearMonth
    parameter_version: str

    @property
    def total_age_months(self) -> int:
        return self.age_years * 12 + self.age_months


@dataclass(frozen=True, slots=True)
class FlexibleWindow:
    """Earliest and latest retirement month under 弹性退休 (办法 Art. 3; domain.md C4). Early
    retirement also needs the minimum contribution years, which the caller checks."""

    earliest_month: YearMonth
    latest_month: YearMonth


def _category(category: RetirementCategory | str) -> RetirementCategory:
    try:
        return RetirementCategory(category)
    except ValueError:
        raise PolicyError(
            "retirement.category_invalid", f"退休人员类别不正确：{category}（应为male、female-55或female-50）"
        ) from None


def retirement(
    category: RetirementCategory | str, birth: YearMonth, params: ParameterSet | None = None
) -> RetirementAge:
    """The statutory retirement age and month for a birth month (办法 Art. 1; domain.md C2, C3)."""
    cat = _category(category)
    if not isinstance(birth, YearMonth):
        raise PolicyError("retirement.birth_invalid", "出生年月应为YYYY-MM")
    p = resolve(params)
    key = _PARAM_KEY[cat]
    start = p.year_month(f"retirement.{key}.start_birth_month", None)
    original_years = p.integer(f"retirement.{key}.original_age_years", None)
    step = p.integer(f"retirement.{key}.step_months", None)
    cap = p.integer(f"retirement.{key}.max_delay_months", None)
    if step < 1 or cap < 0:
        raise PolicyError("params.invalid", f"延迟退休参数有误：{cat.value}")
    k = birth - start
    delay = 0 if k < 0 else min(k // step + 1, cap)
    total = original_years * 12 + delay
    return RetirementAge(
        category=cat,
        birth=birth,
        delay_months=delay,
        age_years=total // 12,
        age_months=total % 12,
        retirement_month=birth + total,
        original_retirement_month=birth + original_years * 12,
        parameter_version=p.version,
    )


def flexible_window(
    category: RetirementCategory | str, birth: YearMonth, params: ParameterSet | None = None
) -> FlexibleWindow:
    """弹性退休 bounds (domain.md C4): early by up to 36 months but never below the original age;
    late by up to 36 months."""
    p = resolve(params)
    r = retirement(category, birth, p)
    early = p.integer("retirement.flexible.early_max_months", None)
    late = p.integer("retirement.flexible.late_max_months", None)
    return FlexibleWindow(
        earliest_month=max(r.retirement_month - early, r.original_retirement_month),
        latest_month=r.retirement_month + late,
    )


def min_contribution_months(retirement_year: int, params: ParameterSet | None = None) -> int:
    """Minimum contribution months for a monthly basic pension, by the year the statutory age is
    reached (办法 Art. 2, Annex 4; domain.md C5): 180 to 2029, +6 a year from 2030, 240 from 2039."""
    if isinstance(retirement_year, bool) or not isinstance(retirement_year, int):
        raise PolicyError("retirement.year_invalid", "退休年份应为整数")
    p = resolve(params)
    table = p.brackets("pension.min_contribution_months", None)
    months = bracket_lookup(table, retirement_year)
    if months is None or retirement_year > 9999:
        raise PolicyError(
            "retirement.year_out_of_range",
            f"退休年份超出规则适用范围：{retirement_year}（最早{table[0].lower}年）",
        )
    return months
