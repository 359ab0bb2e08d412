"""Activities of the skill-upgrade subsidy (技能提升补贴): each automatic check is one activity, so
the history records what each system said; then the grant and the one payment.

The certificate site being down is never "not found": the check is retried a bounded number of
times (``skill.certificate_site_attempts``), then fails non-retryably so the case goes to the
blocked path and an engineer releases it when the site is back."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, ExternalUnavailable, GovClients
from activities.pay_once import pay_once
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.case import local_date
from models.enums import CaseType
from models.rules import ApplicantKind, CertificateLevel
from models.skill_subsidy import (
    ORDER_KIND,
    AssessSubsidyRequest,
    CertificateCheck,
    CertificateQuery,
    GrantRecord,
    InsuranceQuery,
    InsuranceStatus,
    PayRequest,
    PriorGrant,
    PriorQuery,
    RuleUsed,
    SubsidyAssessment,
    SubsidyPayment,
    payment_key,
)
from models.tables import CaseRecord, SkillSubsidyGrant
from policy.errors import PolicyError
from policy.parameters import ParameterSet
from policy.skill_subsidy import PriorSkillClaim, SkillSubsidyApplication, assess_skill_subsidy

#: Grades printed on certificates (五级 lowest) and the subsidy levels they pay at (domain.md E1).
LEVEL_BY_GRADE: dict[int, CertificateLevel] = {
    5: CertificateLevel.JUNIOR,
    4: CertificateLevel.INTERMEDIATE,
    3: CertificateLevel.SENIOR,
}
#: A benefit period in one of these states means the person is a benefit recipient now.
RUNNING_PERIOD = ("active", "suspended", "awaiting_account")
#: The dated parameters whose version decides a case (the 2026 ones are unconfirmed).
DECIDING_RULES = (
    "skill.recipients_eligible",
    "skill.required_contribution_months",
    "skill.application_window_months",
    "skill.yearly_limit.base",
    "skill.yearly_limit.shortage_extra",
    "skill.shortage_occupations",
)


def shortage_occupation(params: ParameterSet, occupation_code: str, as_of: date) -> bool:
    """Whether the occupation is on the 急需紧缺 catalogue in force on ``as_of``."""
    catalogue = str(params.value("skill.shortage_occupations", as_of))
    return occupation_code in {c.strip() for c in catalogue.split(",") if c.strip()}


class SkillSubsidyActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    # --- the automatic checks ---------------------------------------------------------------------

    @activity.defn
    async def verify_certificate(self, q: CertificateQuery) -> CertificateCheck:
        params = parameters_in_force(self.settings.params_dir)
        try:
            cert = await self.gov.certificates.lookup(q.cert_no)
        except ExternalUnavailable as e:
            attempts = params.integer("skill.certificate_site_attempts", local_date(datetime.now(UTC)))
            if activity.info().attempt >= attempts:
                raise ApplicationError(
                    f"技能人才评价证书查询系统连续{attempts}次不可用（{e.detail}）",
                    type="certificates.unavailable",
                    non_retryable=True,
                ) from e
            raise
        except ExternalRefused as e:
            raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e
        if cert is None:
            return CertificateCheck(outcome="not_found")
        mismatches = []
        if cert.holder_id_number != q.id_number:
            mismatches.append("持证人身份证号码与申请人不一致")
        if LEVEL_BY_GRADE.get(cert.level) != q.level:
            mismatches.append(f"证书等级为{cert.level_label}，与申报等级不一致")
        if cert.occupation_code != q.occupation_code:
            mismatches.append(f"证书职业（工种）为{cert.occupation}，与申报不一致")
        if cert.issued_on != q.issued_on:
            mismatches.append(f"证书核发日期为{cert.issued_on.isoformat()}，与申报不一致")
        return CertificateCheck(
            outcome="mismatch" if mismatches else "found",
            mismatches=mismatches,
            issuer=cert.issuer,
            issuer_region=cert.issuer_region,
        )

    @activity.defn
    async def insurance_status(self, q: InsuranceQuery) -> InsuranceStatus:
        """An employee's contribution months (the contribution system); a recipient's running
        benefit period (our own read model)."""
        if q.kind is ApplicantKind.BENEFIT_RECIPIENT:
            async with self.db.session() as s:
                row = (
                    await s.exec(
                        select(CaseRecord).where(
                            CaseRecord.applicant_key == q.applicant_key,
                            CaseRecord.case_type == CaseType.BENEFIT_PERIOD.value,
                            col(CaseRecord.status).in_(RUNNING_PERIOD),
                        )
                    )
                ).first()
            return InsuranceStatus(
                kind=q.kind,
                benefit_period_id=row.case_id if row else None,
                benefit_region=row.region_code if row else None,
            )
        try:
            rec = await self.gov.contributions.get_record(q.id_number)
        except ExternalRefused as e:
            if e.code.endswith("not_found") or e.status_code == 404:
                return InsuranceStatus(kind=q.kind, contribution_months=0)
            raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e
        return InsuranceStatus(
            kind=q.kind, contribution_months=rec.cumulative_months, insured_region=rec.insured_region
        )

    @activity.defn
    async def prior_subsidies(self, q: PriorQuery) -> list[PriorGrant]:
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(SkillSubsidyGrant).where(
                        SkillSubsidyGrant.applicant_key == q.applicant_key,
                        SkillSubsidyGrant.case_id != q.case_id,
                    )
                )
            ).all()
        return [
            PriorGrant(
                case_id=r.case_id,
                occupation_code=r.occupation_code,
                level=CertificateLevel(r.level),
                applied_on=r.applied_on,
                shortage=r.shortage,
            )
            for r in rows
        ]

    @activity.defn
    async def training_subsidy(self, cert_no: str) -> bool:
        """Whether a 职业培训补贴 was already paid for this certificate."""
        try:
            return await self.gov.training.paid_for(cert_no) is not None
        except ExternalRefused as e:
            raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e

    @activity.defn
    async def assess_subsidy(self, req: AssessSubsidyRequest) -> SubsidyAssessment:
        params = parameters_in_force(self.settings.params_dir)
        as_of = req.applied_on
        try:
            shortage = shortage_occupation(params, req.occupation_code, as_of)
            d = assess_skill_subsidy(
                SkillSubsidyApplication(
                    applicant=req.applicant_kind,
                    applied_on=as_of,
                    occupation=req.occupation_code,
                    level=req.level,
                    issued_on=req.issued_on,
                    shortage_occupation=shortage,
                    contribution_months=req.contribution_months,
                    certificate_verified=req.certificate_found,
                    job_fit_confirmed=req.fit_statement,
                    training_subsidy_for_certificate=req.training_subsidy_paid,
                    prior_claims=tuple(
                        PriorSkillClaim(p.occupation_code, p.level, p.applied_on, p.shortage)
                        for p in req.prior
                    ),
                ),
                params,
            )
            rules = [_rule(params, name, as_of) for name in DECIDING_RULES]
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        return SubsidyAssessment(
            eligible=d.eligible,
            amount=d.amount,
            reasons=[(r.code, r.message_zh) for r in d.reasons],
            application_deadline=d.application_deadline,
            shortage_occupation=shortage,
            parameter_version=d.parameter_version,
            rules=rules,
        )

    # --- grant and payment -------------------------------------------------------------------------

    @activity.defn
    async def record_grant(self, g: GrantRecord) -> None:
        """The approved subsidy counts for later applications from now on (written before paying,
        so two cases for one person cannot both pass the yearly limit unseen). Retry-safe."""
        async with self.db.session() as s:
            if await s.get(SkillSubsidyGrant, g.case_id) is not None:
                return
            s.add(
                SkillSubsidyGrant(
                    case_id=g.case_id,
                    applicant_key=g.applicant_key,
                    cert_no=g.cert_no,
                    occupation_code=g.occupation_code,
                    level=g.level.value,
                    applied_on=g.applied_on,
                    shortage=g.shortage,
                    amount=g.amount,
                    region_code=g.region_code,
                    created_at=datetime.now(UTC),
                )
            )
            try:
                await s.commit()
            except IntegrityError as e:
                raise ApplicationError(
                    "该证书已由其他案件核准技能提升补贴", type="skill.certificate_granted", non_retryable=True
                ) from e

    @activity.defn
    async def pay_subsidy(self, req: PayRequest) -> SubsidyPayment:
        """The one payment under ``subsidy:<case>`` (``activities.pay_once``)."""
        p = await pay_once(
            self.db, self.gov, req, key=payment_key(req.case_id), kind=ORDER_KIND, purpose_zh="技能提升补贴"
        )
        return SubsidyPayment(key=p.key, amount=p.amount, bank_ref=p.bank_ref, paid_at=p.paid_at)


def _rule(params: ParameterSet, name: str, as_of: date) -> RuleUsed:
    e = params.entry(name, as_of)
    return RuleUsed(
        name=name, value=str(e.value), effective_from=e.effective_from, status=e.status, source=e.source
    )


ACTIVITY_CLASSES = [SkillSubsidyActivities]
