"""policy.entitlement: eligibility, duration brackets, carry-over and amounts (domain.md A1–A4, B)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from models.rules import YearMonth
from policy.entitlement import (
    PreviousSpell,
    assess_eligibility,
    benefit_amount,
    benefit_months,
    benefit_start,
    contribution_months_afresh,
    max_benefit_months,
)
from policy.errors import PolicyError
from policy.money import format_amount


def test_eligible_when_all_three_conditions_hold() -> None:
    e = assess_eligibility(12, involuntary=True, registered=True)
    assert e.eligible and e.reasons == ()


def test_every_failing_condition_is_reported_in_order() -> None:
    e = assess_eligibility(11, involuntary=False, registered=False)
    assert not e.eligible
    assert [r.code for r in e.reasons] == [
        "eligibility.contribution_short",
        "eligibility.not_involuntary",
        "eligibility.not_registered",
    ]
    assert all(r.message_zh for r in e.reasons)
    assert [r.code for r in assess_eligibility(120, True, False).reasons] == ["eligibility.not_registered"]


def test_negative_contribution_is_refused() -> None:
    with pytest.raises(PolicyError):
        assess_eligibility(-1, True, True)


@pytest.mark.parametrize(
    ("months", "eligible", "max_months"),
    [
        (0, False, 0),
        (11, False, 0),
        (12, True, 12),
        (59, True, 12),
        (60, True, 18),
        (119, True, 18),
        (120, True, 24),
        (400, True, 24),
    ],
)
def test_bracket_edges(months: int, eligible: bool, max_months: int) -> None:
    ent = max_benefit_months(months)
    assert (ent.eligible, ent.max_months) == (eligible, max_months)
    assert (ent.reason is None) is eligible
    if not eligible:
        assert ent.reason is not None and ent.reason.code == "eligibility.contribution_short"


@pytest.mark.parametrize(
    ("months", "unused", "max_months", "carried"),
    [(12, 5, 17, 5), (12, 12, 24, 12), (12, 13, 24, 12), (60, 6, 24, 6), (60, 10, 24, 6), (120, 3, 24, 0)],
)
def test_carry_over_is_capped_at_24(months: int, unused: int, max_months: int, carried: int) -> None:
    ent = max_benefit_months(months, unused)
    assert ent.max_months == max_months and ent.carried_over_months == carried


def test_no_carry_over_without_the_one_year_condition() -> None:
    ent = max_benefit_months(11, 6)
    assert not ent.eligible and ent.max_months == 0


def test_negative_counts_are_refused() -> None:
    with pytest.raises(PolicyError) as e:
        max_benefit_months(-1)
    assert e.value.code == "entitlement.months_invalid"
    with pytest.raises(PolicyError) as e:
        max_benefit_months(12, -1)
    assert e.value.code == "entitlement.unused_invalid"


def test_benefit_starts_on_the_registration_day_and_pays_monthly() -> None:
    assert benefit_start(date(2025, 3, 17)) == date(2025, 3, 17)
    months = benefit_months(YearMonth(2025, 11), 3)
    assert [str(m) for m in months] == ["2025-11", "2025-12", "2026-01"]


# B2: 1881 / 1683 (2024-08 → 2024-11), 2156.5 / 1929.5 (from 2024-12)
@pytest.mark.parametrize(
    ("index", "pay_month", "amount", "rate", "base", "confirmed"),
    [
        (1, "2024-08", "1881", "0.95", "1980", False),  # the 1980 base's start date is unconfirmed
        (12, "2024-11", "1881", "0.95", "1980", False),
        (13, "2024-08", "1683", "0.85", "1980", False),
        (1, "2024-12", "2156.5", "0.95", "2270", True),
        (12, "2025-06", "2156.5", "0.95", "2270", True),
        (13, "2024-12", "1929.5", "0.85", "2270", True),
        (24, "2025-11", "1929.5", "0.85", "2270", True),
        (1, "2024-07", "1782", "0.90", "1980", False),  # before 2024-08-01: 90% / 80%
        (13, "2024-07", "1584", "0.80", "1980", False),
        (1, "2025-12", "2261", "0.95", "2380", False),  # UNCONFIRMED 2380 from 2025-12-01
        (30, "2026-01", "2023", "0.85", "2380", False),
    ],
)
def test_benefit_amounts(
    index: int, pay_month: str, amount: str, rate: str, base: str, confirmed: bool
) -> None:
    b = benefit_amount(index, YearMonth.parse(pay_month))
    assert b.amount == Decimal(amount) and format_amount(b.amount) == amount
    assert b.rate == Decimal(rate) and b.base == Decimal(base)
    assert isinstance(b.amount, Decimal)
    assert b.confirmed is confirmed
    assert {e.name for e in b.entries} >= {"minimum_wage.category1_monthly"}


def test_amount_is_not_rounded_to_whole_yuan() -> None:
    assert benefit_amount(1, YearMonth(2025, 1)).amount == Decimal("2156.50")


def test_bad_month_index_and_uncovered_pay_month_are_refused() -> None:
    for bad in (0, -3):
        with pytest.raises(PolicyError) as e:
            benefit_amount(bad, YearMonth(2025, 1))
        assert e.value.code == "benefit.month_index_invalid"
    with pytest.raises(PolicyError) as e:
        benefit_amount(1, YearMonth(2021, 11))
    assert e.value.code == "params.no_value"


def test_format_amount() -> None:
    assert format_amount(Decimal("2000")) == "2000"
    assert format_amount(Decimal("2000.00")) == "2000"
    assert format_amount(Decimal("0.950")) == "0.95"
    assert format_amount(Decimal("0")) == "0"


# --- contribution time counted afresh after a benefit spell (domain.md A3; issue 14) ------------


def _months(first: str, n: int) -> list[YearMonth]:
    start = YearMonth.parse(first)
    return [start + i for i in range(n)]


@pytest.mark.parametrize(
    ("cumulative", "at_start", "unused", "max_months", "bracket"),
    [
        # 4 years contributed, a 12-month spell used up, then 18 months of new work: 12, not 18.
        (48 + 18, 48, 0, 12, 12),
        # fewer than 12 new months: not eligible, and no carry-over without the 1-year condition
        (48 + 11, 48, 5, 0, 0),
        (48 + 12, 48, 0, 12, 12),
        # 59 / 60 new months: the 5-year edge is on the new time alone
        (100 + 59, 100, 0, 12, 12),
        (100 + 60, 100, 0, 18, 18),
        # 120 new months: 24, whatever remains unused (cap 24)
        (130 + 120, 130, 6, 24, 24),
        # 12 new months + 12 unused = 24 (at the cap); + 13 unused stays 24
        (30 + 12, 30, 12, 24, 12),
        (30 + 12, 30, 13, 24, 12),
        # 60 new + 7 unused = 25 → capped at 24
        (60 + 60, 60, 7, 24, 18),
    ],
)
def test_afresh_after_a_spell_with_the_recorded_cumulative_months(
    cumulative: int, at_start: int, unused: int, max_months: int, bracket: int
) -> None:
    prev = PreviousSpell(first_month=YearMonth(2022, 3), cumulative_at_start=at_start)
    counted = contribution_months_afresh(cumulative, prev)
    assert counted == cumulative - at_start
    ent = max_benefit_months(counted, unused)
    assert (ent.max_months, ent.bracket_months) == (max_months, bracket)


def test_without_a_previous_spell_the_cumulative_months_count() -> None:
    assert contribution_months_afresh(66, None) == 66
    assert max_benefit_months(contribution_months_afresh(66, None)).max_months == 18


def test_from_the_monthly_record_only_months_after_the_spells_first_month_count() -> None:
    # previous spell began 2023-06; the record shows 2023-04..2025-03 paid (24 months)
    paid = _months("2023-04", 24)
    prev = PreviousSpell(first_month=YearMonth(2023, 6))
    # 2023-04, 2023-05 and 2023-06 itself do not count: 24 - 3 = 21
    assert contribution_months_afresh(200, prev, paid) == 21
    # a spell whose first month is the last paid month: nothing new
    assert contribution_months_afresh(200, PreviousSpell(first_month=YearMonth(2025, 3)), paid) == 0
    # never more than the cumulative months, duplicates counted once
    assert contribution_months_afresh(5, prev, paid + paid) == 5


def test_recorded_cumulative_months_below_the_previous_count_give_zero() -> None:
    assert contribution_months_afresh(40, PreviousSpell(YearMonth(2024, 1), cumulative_at_start=48)) == 0
