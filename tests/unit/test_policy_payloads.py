"""Rule results as workflow payloads: they round-trip through pydantic JSON with exact types."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter

from models.rules import YearMonth
from policy.calendar import CALENDAR_VERSION, ReviewDeadline, review_deadline_record
from policy.entitlement import (
    BenefitAmount,
    Eligibility,
    Entitlement,
    assess_eligibility,
    benefit_amount,
    max_benefit_months,
)
from policy.near_retirement import NearRetirement, near_retirement
from policy.parameters import packaged_parameters
from policy.retirement import RetirementAge, retirement
from policy.risk import ClaimRiskFacts, RiskAssessment, assess_claim_risk

CASES: list[tuple[type[Any], Any]] = [
    (BenefitAmount, benefit_amount(13, YearMonth(2025, 1))),
    (Eligibility, assess_eligibility(3, involuntary=False, registered=True)),
    (Entitlement, max_benefit_months(70, 3)),
    (RetirementAge, retirement("female-50", YearMonth(1980, 2))),
    (NearRetirement, near_retirement("male", YearMonth(1966, 3), YearMonth(2025, 5), True)),
    (
        RiskAssessment,
        assess_claim_risk(ClaimRiskFacts(date(2025, 3, 1), 2, receiving_in_other_province=True)),
    ),
    (ReviewDeadline, review_deadline_record(date(2025, 1, 20))),
]


@pytest.mark.parametrize(("cls", "value"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_round_trip(cls: type[Any], value: Any) -> None:
    ta: TypeAdapter[Any] = TypeAdapter(cls)
    assert ta.validate_json(ta.dump_json(value)) == value


def test_benefit_amount_payload_keeps_decimals_and_sources() -> None:
    ta = TypeAdapter(BenefitAmount)
    back = ta.validate_json(ta.dump_json(benefit_amount(1, YearMonth(2025, 1))))
    assert back.amount == Decimal("2156.5") and isinstance(back.amount, Decimal)
    assert back.parameter_version == packaged_parameters().version
    assert any("46号" in e.source for e in back.entries)


def test_review_deadline_record_names_its_versions() -> None:
    rec = review_deadline_record(date(2025, 1, 20))
    assert rec.deadline == date(2025, 2, 8) and rec.working_days == 10 and rec.count_receipt_day is False
    assert rec.calendar_version == CALENDAR_VERSION
    assert rec.parameter_version == packaged_parameters().version
