"""policy.skill_subsidy: amounts, window, once per level, yearly limit (domain.md E1, E2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from models.rules import ApplicantKind, CertificateLevel
from policy.errors import PolicyError
from policy.skill_subsidy import (
    PriorSkillClaim,
    SkillSubsidyApplication,
    application_deadline,
    assess_skill_subsidy,
    level_conflict,
    subsidy_amount,
    within_application_window,
    yearly_limit_ok,
)

J, MID, S = CertificateLevel.JUNIOR, CertificateLevel.INTERMEDIATE, CertificateLevel.SENIOR


@pytest.mark.parametrize(("level", "amount"), [(J, "1000"), (MID, "1500"), (S, "2000"), ("senior", "2000")])
def test_amount_by_level(level: CertificateLevel | str, amount: str) -> None:
    assert subsidy_amount(level, date(2025, 6, 1)) == Decimal(amount)


def test_unknown_level_is_refused() -> None:
    with pytest.raises(PolicyError) as e:
        subsidy_amount("technician", date(2025, 6, 1))
    assert e.value.code == "skill.level_invalid"


@pytest.mark.parametrize(
    ("issued", "deadline"),
    [
        (date(2024, 3, 15), date(2025, 3, 15)),
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2025, 1, 31), date(2026, 1, 31)),
    ],
)
def test_twelve_month_window(issued: date, deadline: date) -> None:
    assert application_deadline(issued) == deadline
    assert within_application_window(issued, deadline)
    assert not within_application_window(issued, date.fromordinal(deadline.toordinal() + 1))
    assert within_application_window(issued, issued)


def test_once_per_occupation_and_level() -> None:
    prior = [PriorSkillClaim("6-18-01", MID, date(2024, 5, 1))]
    assert level_conflict("6-18-01", MID, prior).code == "skill.already_claimed"  # type: ignore[union-attr]
    assert level_conflict("6-18-01", J, prior).code == "skill.lower_after_higher"  # type: ignore[union-attr]
    assert level_conflict("6-18-01", S, prior) is None
    assert level_conflict("4-01-02", J, prior) is None


@pytest.mark.parametrize(
    ("prior", "shortage", "ok"),
    [
        ([], False, True),
        ([False], False, False),  # 2025: one ordinary claim a year
        ([False], True, True),
        ([False, True], True, True),  # 1 + 2 shortage = 3
        ([False, True, True], True, False),  # a 4th is refused
        ([True], False, True),  # the ordinary slot is still free
        ([True, True], False, True),
        ([True, True, True], False, False),
        ([True, True, True], True, False),
    ],
)
def test_yearly_limit_2025(prior: list[bool], shortage: bool, ok: bool) -> None:
    assert yearly_limit_ok(prior, shortage, date(2025, 6, 1)) is ok


@pytest.mark.parametrize(
    ("prior", "ok"), [([], True), ([False], True), ([False, False], True), ([False, False, False], False)]
)
def test_yearly_limit_before_2025_was_three(prior: list[bool], ok: bool) -> None:
    assert yearly_limit_ok(prior, False, date(2024, 6, 1)) is ok


EMPLOYEE = SkillSubsidyApplication(
    applicant=ApplicantKind.INSURED_EMPLOYEE,
    applied_on=date(2025, 6, 10),
    occupation="6-18-01",
    level=MID,
    issued_on=date(2025, 3, 1),
    contribution_months=12,
    certificate_verified=True,
    job_fit_confirmed=True,
)


def _codes(app: SkillSubsidyApplication) -> list[str]:
    return [r.code for r in assess_skill_subsidy(app).reasons]


def test_eligible_employee() -> None:
    d = assess_skill_subsidy(EMPLOYEE)
    assert d.eligible and d.amount == Decimal("1500") and d.reasons == ()
    assert d.application_deadline == date(2026, 3, 1)


def test_employee_conditions() -> None:
    assert _codes(replace(EMPLOYEE, contribution_months=11)) == ["skill.contribution_short"]
    assert _codes(replace(EMPLOYEE, job_fit_confirmed=False)) == ["skill.job_fit_missing"]
    assert _codes(replace(EMPLOYEE, certificate_verified=False)) == ["skill.certificate_unverified"]
    assert _codes(replace(EMPLOYEE, applied_on=date(2026, 3, 2))) == [
        "skill.contribution_short",  # 2026: reverts to the 36-month baseline (UNCONFIRMED)
        "skill.window_expired",
    ]
    assert _codes(replace(EMPLOYEE, training_subsidy_for_certificate=True)) == ["skill.double_funding"]
    bad = assess_skill_subsidy(replace(EMPLOYEE, contribution_months=0))
    assert not bad.eligible and bad.amount == Decimal(0)


def test_recipient_needs_no_contribution_or_fit_material_in_2025() -> None:
    r = replace(
        EMPLOYEE, applicant=ApplicantKind.BENEFIT_RECIPIENT, contribution_months=0, job_fit_confirmed=False
    )
    assert _codes(r) == []
    assert _codes(replace(r, applied_on=date(2026, 1, 5))) == ["skill.recipient_not_covered"]


def test_prior_claims_from_other_years_do_not_count_toward_the_limit() -> None:
    prior = (PriorSkillClaim("4-01-02", J, date(2024, 12, 30)),)
    assert _codes(replace(EMPLOYEE, prior_claims=prior)) == []
    prior = (PriorSkillClaim("4-01-02", J, date(2025, 1, 2)),)
    assert _codes(replace(EMPLOYEE, prior_claims=prior)) == ["skill.yearly_limit"]
    assert _codes(replace(EMPLOYEE, prior_claims=prior, shortage_occupation=True)) == []
