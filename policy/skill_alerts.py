"""Anomaly rules of the skill-upgrade subsidy (notice item 6): payouts rising fast in a league, one
evaluation body issuing many certificates in a short time, certificates obtained outside the place
of insurance or of benefit. Pure: the activity gathers the figures, these functions decide and
explain each alert in Chinese with the figures behind it. Thresholds are dated parameters."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from models.rules import YearMonth
from models.skill_subsidy import SkillAlert
from policy.parameters import ParameterSet, resolve


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    issuer: str
    issuer_region: str
    issued_on: date


@dataclass(frozen=True, slots=True)
class SubsidyPlace:
    """Where a subsidy case's certificate was issued and where the person is insured or paid."""

    case_id: str
    league: str
    issuer_region: str
    home_region: str


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def issuer_bursts(
    certs: Iterable[IssuedCertificate], as_of: date, lookback_days: int, params: ParameterSet | None = None
) -> list[SkillAlert]:
    """A body whose busiest window holds at least ``burst_certificates`` certificates and at least
    ``burst_ratio`` times its average for a window of that length over the look-back period."""
    p = resolve(params)
    threshold = p.integer("skill.alert.burst_certificates", as_of)
    window = p.integer("skill.alert.burst_window_days", as_of)
    ratio = p.decimal("skill.alert.burst_ratio", as_of)
    since = as_of - timedelta(days=lookback_days)
    by_issuer: dict[str, list[IssuedCertificate]] = {}
    for c in certs:
        if since <= c.issued_on <= as_of:
            by_issuer.setdefault(c.issuer, []).append(c)
    out = []
    for issuer, items in sorted(by_issuer.items()):
        days = sorted(c.issued_on for c in items)
        best, start = 0, days[0]
        for d0 in days:
            n = sum(1 for d in days if d0 <= d < d0 + timedelta(days=window))
            if n > best:
                best, start = n, d0
        average = Decimal(len(days)) * window / lookback_days
        if best >= threshold and Decimal(best) >= ratio * average:
            regions = sorted({c.issuer_region for c in items})
            out.append(
                SkillAlert(
                    key=f"issuer_burst-{_slug(issuer)}-{start.isoformat()}",
                    kind="issuer_burst",
                    region_code="150000",
                    text_zh=(
                        f"评价机构“{issuer}”自{start.isoformat()}起{window}天内核发证书{best}本，"
                        f"为其近{lookback_days}天同等时长平均数（{average.quantize(Decimal('0.1'))}本）的"
                        f"{(best / average).quantize(Decimal('0.1'))}倍（阈值：{threshold}本且{ratio}倍），"
                        "请核查是否集中突击发证。"
                    ),
                    figures={
                        "issuer": issuer,
                        "window_start": start.isoformat(),
                        "window_days": str(window),
                        "count": str(best),
                        "average": str(average.quantize(Decimal("0.01"))),
                        "issuer_regions": ",".join(regions),
                    },
                )
            )
    return out


def out_of_region(places: Iterable[SubsidyPlace]) -> list[SkillAlert]:
    """A certificate issued outside the league (or province) where the person is insured or paid."""
    out = []
    for s in places:
        if s.issuer_region[:4] == s.home_region[:4]:
            continue
        out.append(
            SkillAlert(
                key=f"out_of_region-{_slug(s.case_id)}",
                kind="out_of_region",
                region_code=s.league,
                text_zh=(
                    f"技能提升补贴申请{s.case_id}的证书在{s.issuer_region}取得，"
                    f"而申请人的参保地或领金地为{s.home_region}，请核查异地取证的真实性。"
                ),
                figures={"issuer_region": s.issuer_region, "home_region": s.home_region},
                case_ids=[s.case_id],
            )
        )
    return out


def payout_surges(
    monthly: Mapping[tuple[str, YearMonth], Decimal],
    month: YearMonth,
    cases: Mapping[str, list[str]],
    params: ParameterSet | None = None,
) -> list[SkillAlert]:
    """This month's payouts of a league against the same month a year ago and the average of the
    three months before: an alert when above ``payout_growth_ratio`` times the larger of the two
    (and at least ``payout_min``, so a few payments in a quiet league raise nothing)."""
    p = resolve(params)
    as_of = month.first_day()
    ratio = p.decimal("skill.alert.payout_growth_ratio", as_of)
    floor = p.decimal("skill.alert.payout_min", as_of)
    out = []
    for league in sorted({lg for lg, _ in monthly}):
        now = monthly.get((league, month), Decimal(0))
        last_year = monthly.get((league, month - 12), Decimal(0))
        recent = sum((monthly.get((league, month - i), Decimal(0)) for i in (1, 2, 3)), Decimal(0)) / 3
        reference = max(last_year, recent)
        if now < floor or now <= ratio * reference:
            continue
        times = (
            "（无可比基数）"
            if reference == 0
            else f"，为参照值的{(now / reference).quantize(Decimal('0.1'))}倍"
        )
        out.append(
            SkillAlert(
                key=f"payout_surge-{league}-{month}",
                kind="payout_surge",
                region_code=league,
                text_zh=(
                    f"{league}本月（{month}）技能提升补贴发放{now.quantize(Decimal('0.01'))}元，上年同月"
                    f"{last_year.quantize(Decimal('0.01'))}元，前三个月月均{recent.quantize(Decimal('0.01'))}元"
                    f"{times}（阈值{ratio}倍），请核查是否存在集中套取。"
                ),
                figures={
                    "this_month": str(now),
                    "same_month_last_year": str(last_year),
                    "last_three_months_average": str(recent.quantize(Decimal("0.01"))),
                    "ratio_threshold": str(ratio),
                },
                case_ids=cases.get(league, []),
            )
        )
    return out
