"""Risk rules for a benefit claim (Inner Mongolia notice item 7; domain.md G).

Why: the notice asks agencies to cross-check mass resignations at one employer, a high ratio of
claimants to an employer's insured headcount, claims after fewer than 3 consecutive months of
contributions, and receipt in another province. A hit marks the claim for verification (重点核查)
and never rejects it: the rejection, if any, is a staff decision. The thresholds other than the
3 months were not found in any text and are UNCONFIRMED parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from models.rules import RiskCode
from policy.errors import PolicyError
from policy.parameters import ParameterSet, resolve


@dataclass(frozen=True, slots=True)
class RiskHit:
    code: RiskCode
    label_zh: str
    detail_zh: str
    evidence: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClaimRiskFacts:
    """What the claim workflow has gathered. ``employer_other_claim_dates`` are the dates of the
    other claims from the same employer (this claim excluded). ``employer_claimants`` counts the
    employer's current claimants and recipients including this one; headcount None skips the rule."""

    claim_date: date
    consecutive_contribution_months: int
    employer_other_claim_dates: tuple[date, ...] = ()
    employer_claimants: int | None = None
    employer_insured_headcount: int | None = None
    receiving_in_other_province: bool = False


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    hits: tuple[RiskHit, ...]
    parameter_version: str

    @property
    def needs_verification(self) -> bool:
        return bool(self.hits)


def _hit(code: RiskCode, detail: str, **evidence: object) -> RiskHit:
    return RiskHit(code, code.label, detail, {k: str(v) for k, v in evidence.items()})


def short_contribution(
    consecutive_months: int, as_of: date, params: ParameterSet | None = None
) -> list[RiskHit]:
    """Fewer than 3 consecutive months of contributions before the claim."""
    if consecutive_months < 0:
        raise PolicyError("risk.months_invalid", "连续缴费月数不能为负数")
    minimum = resolve(params).integer("risk.short_contribution.min_consecutive_months", as_of)
    if consecutive_months < minimum:
        return [
            _hit(
                RiskCode.SHORT_CONTRIBUTION,
                f"申领前连续缴费{consecutive_months}个月，不足{minimum}个月",
                consecutive_months=consecutive_months,
                threshold=minimum,
            )
        ]
    return []


def mass_separation(
    claim_date: date, other_claim_dates: Sequence[date], params: ParameterSet | None = None
) -> list[RiskHit]:
    """Many claimants from one employer in a short window: some window of N consecutive days that
    contains this claim holds at least the threshold number of claims (this one included). A
    sliding window catches the whole cluster, the first claims as well as the last."""
    p = resolve(params)
    n_days = p.integer("risk.mass_separation.window_days", claim_date)
    threshold = p.integer("risk.mass_separation.min_claimants", claim_date)
    if n_days < 1:
        raise PolicyError("params.invalid", "集中离职窗口天数应为正整数")
    span = timedelta(days=n_days - 1)
    dates = sorted([claim_date, *other_claim_dates])
    best = 0
    best_start = claim_date
    for start in dates:
        if not (start <= claim_date <= start + span):
            continue
        count = sum(1 for d in dates if start <= d <= start + span)
        if count > best:
            best, best_start = count, start
    if best >= threshold:
        return [
            _hit(
                RiskCode.MASS_SEPARATION,
                f"同一用人单位在{best_start.isoformat()}起{n_days}日内有{best}人申领，达到{threshold}人",
                count=best,
                window_days=n_days,
                window_start=best_start.isoformat(),
                threshold=threshold,
            )
        ]
    return []


def _percent(share: Decimal) -> str:
    """A share as staff read it: 0.3 -> 30%, 0.125 -> 12.5%."""
    pct = (share * 100).quantize(Decimal("0.1")).normalize()
    return f"{pct:f}%"


def claimant_ratio(
    claimants: int, headcount: int, as_of: date, params: ParameterSet | None = None
) -> list[RiskHit]:
    """Claimants as a share of the employer's insured headcount at or above the threshold, for an
    employer with at least ``risk.claimant_ratio.min_headcount`` insured (below that one person
    is already a large share; the mass-separation and short-insurance rules watch small employers).
    A headcount of 0 with claimants is itself a hit (the ratio is unbounded)."""
    if claimants < 0 or headcount < 0:
        raise PolicyError("risk.count_invalid", "人数不能为负数")
    p = resolve(params)
    threshold = p.decimal("risk.claimant_ratio.threshold", as_of)
    if claimants == 0:
        return []
    if headcount == 0:
        return [_hit(RiskCode.HIGH_CLAIMANT_RATIO, "用人单位参保人数为0但有人申领", claimants=claimants)]
    if headcount < p.integer("risk.claimant_ratio.min_headcount", as_of):
        return []
    ratio = Decimal(claimants) / Decimal(headcount)
    if ratio >= threshold:
        return [
            _hit(
                RiskCode.HIGH_CLAIMANT_RATIO,
                f"领金人数{claimants}人，占参保总人数{headcount}人的{_percent(ratio)}，"
                f"达到{_percent(threshold)}的核查标准",
                claimants=claimants,
                headcount=headcount,
                threshold=threshold,
            )
        ]
    return []


def cross_province(receiving_in_other_province: bool) -> list[RiskHit]:
    """Already receiving benefit in another province (the cross-province check's answer)."""
    if receiving_in_other_province:
        return [_hit(RiskCode.CROSS_PROVINCE_DUPLICATE, "跨省比对显示申领人正在外省领取失业保险金")]
    return []


def assess_claim_risk(facts: ClaimRiskFacts, params: ParameterSet | None = None) -> RiskAssessment:
    """Run every rule; the hits (if any) mark the claim for verification."""
    p = resolve(params)
    hits: list[RiskHit] = []
    hits += short_contribution(facts.consecutive_contribution_months, facts.claim_date, p)
    hits += mass_separation(facts.claim_date, facts.employer_other_claim_dates, p)
    if facts.employer_claimants is not None and facts.employer_insured_headcount is not None:
        hits += claimant_ratio(
            facts.employer_claimants, facts.employer_insured_headcount, facts.claim_date, p
        )
    hits += cross_province(facts.receiving_in_other_province)
    return RiskAssessment(hits=tuple(hits), parameter_version=p.version)
