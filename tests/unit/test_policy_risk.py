"""policy.risk: the notice's four risk rules (item 7; domain.md G). Hits mark, never reject."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.rules import RiskCode
from policy.errors import PolicyError
from policy.risk import (
    ClaimRiskFacts,
    assess_claim_risk,
    claimant_ratio,
    cross_province,
    mass_separation,
    short_contribution,
)

DAY = date(2025, 3, 10)


@pytest.mark.parametrize(("months", "hit"), [(0, True), (2, True), (3, False), (36, False)])
def test_short_contribution(months: int, hit: bool) -> None:
    hits = short_contribution(months, DAY)
    assert bool(hits) is hit
    if hit:
        assert hits[0].code is RiskCode.SHORT_CONTRIBUTION
        assert hits[0].label_zh == "连续缴费不足3个月申领失业保险金"


def _days(*offsets: int) -> list[date]:
    return [DAY + timedelta(days=o) for o in offsets]


@pytest.mark.parametrize(
    ("others", "hit"),
    [
        (_days(-9, -5, 10, 20), True),  # five claims within 30 days
        (_days(-9, -5, 10), False),  # four
        (_days(-29, -29, -29, -29), True),  # exactly 30 days inclusive
        (_days(-30, -30, -30, -30), False),  # 31 days apart
        (_days(1, 2, 3, 4), True),  # the first claim of a cluster is flagged too
        (_days(-40, -35, 25, 29), False),
    ],
)
def test_mass_separation_sliding_window(others: list[date], hit: bool) -> None:
    hits = mass_separation(DAY, others)
    assert bool(hits) is hit
    if hit:
        assert hits[0].code is RiskCode.MASS_SEPARATION and int(hits[0].evidence["count"]) >= 5


@pytest.mark.parametrize(
    ("claimants", "headcount", "hit"),
    [
        (4, 20, True),  # exactly the threshold at the smallest employer the rule looks at
        (3, 20, False),
        (20, 100, True),
        (19, 100, False),
        (0, 100, False),
        (1, 0, True),  # claimants at an employer with no one insured: unbounded
        (2, 10, False),  # under 20 insured: one person is already a large share (small employers
        (5, 5, False),  # are watched by the mass-separation and short-insurance rules instead)
        (1, 19, False),
    ],
)
def test_claimant_ratio(claimants: int, headcount: int, hit: bool) -> None:
    assert bool(claimant_ratio(claimants, headcount, DAY)) is hit


def test_negative_counts_are_refused() -> None:
    with pytest.raises(PolicyError):
        claimant_ratio(-1, 10, DAY)
    with pytest.raises(PolicyError):
        short_contribution(-1, DAY)


def test_cross_province() -> None:
    assert cross_province(False) == []
    assert cross_province(True)[0].code is RiskCode.CROSS_PROVINCE_DUPLICATE


def test_assessment_collects_every_hit_and_only_marks_for_verification() -> None:
    facts = ClaimRiskFacts(
        claim_date=DAY,
        consecutive_contribution_months=2,
        employer_other_claim_dates=tuple(_days(-1, -2, -3, -4)),
        employer_claimants=5,
        employer_insured_headcount=20,
        receiving_in_other_province=True,
    )
    a = assess_claim_risk(facts)
    assert [h.code for h in a.hits] == [
        RiskCode.SHORT_CONTRIBUTION,
        RiskCode.MASS_SEPARATION,
        RiskCode.HIGH_CLAIMANT_RATIO,
        RiskCode.CROSS_PROVINCE_DUPLICATE,
    ]
    assert a.needs_verification and not hasattr(a, "rejected")
    assert all(h.label_zh and h.detail_zh for h in a.hits)
    clean = assess_claim_risk(ClaimRiskFacts(claim_date=DAY, consecutive_contribution_months=24))
    assert clean.hits == () and not clean.needs_verification
