"""技能提升补贴 (skill-upgrade subsidy; domain.md E1–E3; notice item 6).

Why these checks: the subsidy is paid once per occupation and level, within 12 months of the
certificate's issue, to insured employees with the required contribution or (while the national
relaxation lasts) to benefit recipients, and since 2025 at most once a year plus up to two
claims for shortage-occupation (急需紧缺) certificates. Everything is read as of the application
date, so a 2024 claim is judged by the 2024 rule ("at most 3 a year").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from models.rules import ApplicantKind, CertificateLevel
from policy.calendar import add_months_clamped
from policy.entitlement import Reason
from policy.errors import PolicyError
from policy.parameters import ParameterSet, resolve

_AMOUNT_PARAM = {
    CertificateLevel.JUNIOR: "skill.amount.junior",
    CertificateLevel.INTERMEDIATE: "skill.amount.intermediate",
    CertificateLevel.SENIOR: "skill.amount.senior",
}


@dataclass(frozen=True, slots=True)
class PriorSkillClaim:
    """A subsidy already granted to the person."""

    occupation: str
    level: CertificateLevel
    applied_on: date
    shortage_occupation: bool = False


@dataclass(frozen=True, slots=True)
class SkillSubsidyApplication:
    applicant: ApplicantKind
    applied_on: date
    occupation: str  # 职业（工种）code or name, as on the certificate
    level: CertificateLevel
    issued_on: date
    shortage_occupation: bool = False  # on the 急需紧缺 list
    contribution_months: int = 0  # cumulative UI contribution, for insured employees
    certificate_verified: bool = False  # found on the national certificate site (E3)
    job_fit_confirmed: bool = False  # 证岗相适 material from the employer (employees only)
    training_subsidy_for_certificate: bool = False  # 职业培训补贴 already paid for it
    prior_claims: tuple[PriorSkillClaim, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SkillSubsidyDecision:
    eligible: bool
    amount: Decimal  # 0 when not eligible
    reasons: tuple[Reason, ...]
    application_deadline: date
    parameter_version: str


def subsidy_amount(level: CertificateLevel | str, as_of: date, params: ParameterSet | None = None) -> Decimal:
    """1000 / 1500 / 2000 元 for 初级 / 中级 / 高级 (domain.md E1)."""
    try:
        lvl = CertificateLevel(level)
    except ValueError:
        raise PolicyError("skill.level_invalid", f"证书等级不正确：{level}") from None
    return resolve(params).decimal(_AMOUNT_PARAM[lvl], as_of)


def application_deadline(issued_on: date, params: ParameterSet | None = None) -> date:
    """Last day to apply: 12 months from the issue date (domain.md E2), counted per 民法典 Art. 202
    (same day of the month 12 months later, or that month's last day)."""
    months = resolve(params).integer("skill.application_window_months", issued_on)
    return add_months_clamped(issued_on, months)


def within_application_window(issued_on: date, applied_on: date, params: ParameterSet | None = None) -> bool:
    return issued_on <= applied_on <= application_deadline(issued_on, params)


def level_conflict(
    occupation: str, level: CertificateLevel, prior: Iterable[PriorSkillClaim]
) -> Reason | None:
    """Once per occupation and level; no lower level after a higher one (domain.md E1)."""
    for c in prior:
        if c.occupation != occupation:
            continue
        if c.level == level:
            return Reason("skill.already_claimed", "该职业（工种）同一等级证书已申领过技能提升补贴")
        if c.level.rank > level.rank:
            return Reason(
                "skill.lower_after_higher", "已按更高等级申领过该职业（工种）的补贴，不能再申领较低等级"
            )
    return None


def yearly_limit_ok(
    prior_shortage_flags: Sequence[bool], shortage: bool, as_of: date, params: ParameterSet | None = None
) -> bool:
    """Whether one more claim fits this year's limit (domain.md E1).

    2025 rule: 1 claim a year of any kind plus up to 2 more for shortage-occupation certificates,
    i.e. at most ``base`` non-shortage claims and ``base + extra`` claims in all. Before 2025:
    at most 3 claims a year (base 3, extra 0)."""
    p = resolve(params)
    base = p.integer("skill.yearly_limit.base", as_of)
    extra = p.integer("skill.yearly_limit.shortage_extra", as_of)
    flags = [*prior_shortage_flags, shortage]
    non_shortage = sum(1 for f in flags if not f)
    return non_shortage <= base and len(flags) <= base + extra


def assess_skill_subsidy(
    app: SkillSubsidyApplication, params: ParameterSet | None = None
) -> SkillSubsidyDecision:
    """Decide a 技能提升补贴 application; every failing condition is listed."""
    p = resolve(params)
    as_of = app.applied_on
    if app.contribution_months < 0:
        raise PolicyError("skill.months_invalid", "累计缴费月数不能为负数")
    reasons: list[Reason] = []
    if app.applicant is ApplicantKind.BENEFIT_RECIPIENT:
        if not p.flag("skill.recipients_eligible", as_of):
            reasons.append(
                Reason("skill.recipient_not_covered", "申请时领取失业保险金人员不在技能提升补贴的申领范围内")
            )
    else:
        required = p.integer("skill.required_contribution_months", as_of)
        if app.contribution_months < required:
            reasons.append(
                Reason(
                    "skill.contribution_short",
                    f"累计缴纳失业保险费不满{required}个月，不符合技能提升补贴申领条件",
                )
            )
        if not app.job_fit_confirmed:
            reasons.append(Reason("skill.job_fit_missing", "缺少用人单位盖章的证岗相适材料"))
    if not app.certificate_verified:
        reasons.append(
            Reason("skill.certificate_unverified", "证书未能在技能人才评价证书全国联网查询系统中查询到")
        )
    deadline = application_deadline(app.issued_on, p)
    if app.applied_on < app.issued_on:
        reasons.append(Reason("skill.before_issue", "申请日期早于证书核发日期"))
    elif app.applied_on > deadline:
        reasons.append(
            Reason(
                "skill.window_expired", f"已超过证书核发之日起12个月的申领期限（最迟{deadline.isoformat()}）"
            )
        )
    conflict = level_conflict(app.occupation, app.level, app.prior_claims)
    if conflict is not None:
        reasons.append(conflict)
    same_year = [c.shortage_occupation for c in app.prior_claims if c.applied_on.year == as_of.year]
    if not yearly_limit_ok(same_year, app.shortage_occupation, as_of, p):
        reasons.append(Reason("skill.yearly_limit", "本年度技能提升补贴申领次数已达上限"))
    if app.training_subsidy_for_certificate:
        reasons.append(Reason("skill.double_funding", "该证书已享受职业培训补贴，不能重复享受技能提升补贴"))
    amount = subsidy_amount(app.level, as_of, p) if not reasons else Decimal(0)
    return SkillSubsidyDecision(
        eligible=not reasons,
        amount=amount,
        reasons=tuple(reasons),
        application_deadline=deadline,
        parameter_version=p.version,
    )
