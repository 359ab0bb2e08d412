"""Operators change figures and add holiday tables without a release (core/parameters.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.parameters import calendar_in_force, parameters_in_force
from models.rules import YearMonth
from policy import calendar
from policy.entitlement import benefit_amount
from policy.errors import CalendarMissingError, PolicyError

NEW_WAGE = """
parameters:
  minimum_wage.category1_monthly:
    values:
      - effective_from: 2026-12-01
        value: "2480"
        status: confirmed
        source: "test"
"""

# Far years, so that adding the real cn-2027.yaml (README: an operator must) breaks nothing here.
YEAR_2098 = """
year: 2098
notice: "test table"
holidays:
  - {name: 元旦, from: 2098-01-01, to: 2098-01-01}
workdays: []
"""
YEAR_2099 = """
year: 2099
notice: "test table"
holidays:
  - {name: 元旦, from: 2099-01-01, to: 2099-01-03}
workdays: []
"""


def test_operator_parameter_applies_from_its_date(tmp_path: Path) -> None:
    (tmp_path / "wage.yaml").write_text(NEW_WAGE, encoding="utf-8")
    params = parameters_in_force(tmp_path)
    assert params.version != parameters_in_force(None).version
    before = benefit_amount(1, YearMonth(2026, 11), params)
    after = benefit_amount(1, YearMonth(2026, 12), params)
    assert after.base == Decimal("2480") and after.amount == Decimal("2480") * after.rate
    assert before.base != Decimal("2480")


def test_operator_typo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(NEW_WAGE.replace("category1", "categoryl"), encoding="utf-8")
    with pytest.raises(PolicyError):
        parameters_in_force(tmp_path)


def test_next_years_table_can_be_added_and_is_required(tmp_path: Path) -> None:
    this_year, both = tmp_path / "2098", tmp_path / "2098-2099"  # two dirs: tables are cached per dir
    for d, tables in ((this_year, [YEAR_2098]), (both, [YEAR_2098, YEAR_2099])):
        d.mkdir()
        for text in tables:
            (d / f"cn-{text.split()[1]}.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CalendarMissingError):
        calendar.review_deadline(date(2098, 12, 29), cal=calendar_in_force(this_year))
    cal = calendar_in_force(both)
    # after Mon 2098-12-29: 12-30, 12-31 (2), 01-01..03 off, Sun 01-04, 01-05..09 (7), 01-12..14 (10)
    assert date(2098, 12, 29).weekday() == 0
    assert calendar.review_deadline(date(2098, 12, 29), cal=cal) == date(2099, 1, 14)
    assert cal.version != calendar_in_force(None).version
