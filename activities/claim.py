"""Activities of the benefit claim: the registration platform, the automatic checks against the
external systems, the policy assessment and the entitlement. Each check is its own activity so
that history records each result separately."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from activities.gov.base import lookup
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.claim import (
    AssessRequest,
    CheckReport,
    ClaimEntitlement,
    ContributionSummary,
    CrossProvinceResult,
    DocumentRef,
    EligibilityView,
    EmployerRiskInputs,
    EntitlementRequest,
    MonthlyAmount,
    PensionResult,
    RegistrationResult,
    RejectReason,
    RetirementView,
    RiskHitView,
    StopReasonResult,
    applicant_key_of,
)
from models.rules import YearMonth
from models.tables import CaseRecord, Document
from policy import entitlement, risk
from policy.errors import PolicyError
from policy.retirement import retirement

TZ = ZoneInfo("Asia/Shanghai")


class PersonRef(BaseModel):
    id_number: str
    employer_credit_code: str | None = None


class CounterRegistration(BaseModel):
    id_number: str
    name: str
    region_code: str
    operator: str


class EmployerRiskRequest(BaseModel):
    case_id: str
    employer_credit_code: str
    received_on: date


class LinkDocuments(BaseModel):
    case_id: str
    documents: list[DocumentRef]


def _refused(e: ExternalRefused) -> ApplicationError:
    return ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True)


class ClaimActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    # --- registration (notice item 2) --------------------------------------------------------------

    @activity.defn
    async def check_registration(self, p: PersonRef) -> RegistrationResult:
        st = await lookup(self.gov.registration.get_status(p.id_number))
        if st is None:
            return RegistrationResult(registered=False)
        return RegistrationResult(
            registered=st.registered,
            registered_on=st.registered_on,
            registration_no=st.registration_no,
            via="platform",
        )

    @activity.defn
    async def register_at_counter(self, r: CounterRegistration) -> RegistrationResult:
        """The clerk registers the person on the spot (retry-safe: the platform returns an
        existing registration). The platform not knowing the person is a business outcome the
        clerk acts on (``registered=False``), not a failure for operations."""
        st = await lookup(
            self.gov.registration.register_at_counter(
                id_number=r.id_number, name=r.name, region=r.region_code, operator_id=r.operator
            )
        )
        if st is None:
            return RegistrationResult(registered=False, via="counter")
        return RegistrationResult(
            registered=st.registered,
            registered_on=st.registered_on,
            registration_no=st.registration_no,
            via="counter",
        )

    # --- automatic checks ---------------------------------------------------------------------------

    @activity.defn
    async def fetch_contributions(self, p: PersonRef) -> ContributionSummary:
        rec = await lookup(self.gov.contributions.get_record(p.id_number))
        if rec is None:
            return ContributionSummary(found=False, cumulative_months=0, last_consecutive_months=0)
        return ContributionSummary(
            cumulative_months=rec.cumulative_months,
            last_consecutive_months=rec.last_consecutive_months,
            last_employer=rec.last_employer.credit_code,
            last_contribution_month=rec.last_contribution_month,
            paid_months=[r.month for r in rec.records if r.paid],
            retirement_category=rec.retirement_category,
        )

    @activity.defn
    async def fetch_stop_reason(self, p: PersonRef) -> StopReasonResult:
        r = await lookup(self.gov.insurance_record.get_stop_reason(p.id_number, p.employer_credit_code))
        if r is None:
            return StopReasonResult(code="none", label="未查到停保记录", involuntary=False)
        return StopReasonResult(code=r.code, label=r.label, involuntary=r.involuntary, stop_date=r.stop_date)

    @activity.defn
    async def check_cross_province(self, p: PersonRef) -> CrossProvinceResult:
        cp = await lookup(self.gov.cross_province.check(p.id_number))
        if cp is None:
            return CrossProvinceResult(receiving_elsewhere=False)
        return CrossProvinceResult(receiving_elsewhere=cp.receiving_elsewhere, province=cp.province)

    @activity.defn
    async def check_pension(self, p: PersonRef) -> PensionResult:
        pension = await lookup(self.gov.insurance_record.get_pension(p.id_number))
        if pension is None:
            return PensionResult(receiving=False)
        return PensionResult(receiving=pension.receiving, since=pension.since)

    @activity.defn
    async def employer_risk_inputs(self, req: EmployerRiskRequest) -> EmployerRiskInputs:
        """The employer's insured headcount (external) and the other claims from it around this
        claim's date (our own read model)."""
        params = parameters_in_force(self.settings.params_dir)
        window = params.integer("risk.mass_separation.window_days", req.received_on)
        employer = await lookup(self.gov.employers.get(req.employer_credit_code))
        headcount = employer.insured_headcount if employer is not None else None
        since = datetime.combine(req.received_on - timedelta(days=window), datetime.min.time(), TZ)
        until = datetime.combine(req.received_on + timedelta(days=window + 1), datetime.min.time(), TZ)
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(CaseRecord.received_at).where(
                        CaseRecord.employer_credit_code == req.employer_credit_code,
                        CaseRecord.case_type == "benefit_claim",
                        CaseRecord.case_id != req.case_id,
                        col(CaseRecord.received_at) >= since.astimezone(UTC),
                        col(CaseRecord.received_at) < until.astimezone(UTC),
                    )
                )
            ).all()
        return EmployerRiskInputs(
            insured_headcount=headcount,
            claims_in_window=len(rows),
            window_days=window,
            other_claim_dates=sorted(r.astimezone(TZ).date() for r in rows),
        )

    @activity.defn
    async def unused_months(self, applicant_key: str) -> int:
        """Months left unused from an earlier benefit period (kept on re-employment, A3)."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(CaseRecord)
                    .where(
                        CaseRecord.applicant_key == applicant_key,
                        CaseRecord.case_type == "benefit_period",
                        col(CaseRecord.closed_at).is_not(None),
                    )
                    .order_by(col(CaseRecord.closed_at).desc())
                    .limit(1)
                )
            ).all()
        return int(rows[0].summary.get("unused_months", 0)) if rows else 0

    async def _previous_spell(self, applicant_key: str) -> entitlement.PreviousSpell | None:
        """The person's latest closed benefit period (the one-benefit rule allows no open one), as
        its read model recorded it: its first month and the cumulative contribution months then."""
        async with self.db.session() as s:
            row = (
                await s.exec(
                    select(CaseRecord)
                    .where(
                        CaseRecord.applicant_key == applicant_key,
                        CaseRecord.case_type == "benefit_period",
                        col(CaseRecord.closed_at).is_not(None),
                    )
                    .order_by(col(CaseRecord.closed_at).desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        summary = row.summary or {}
        first = summary.get("first_month") or next(
            (m["month"] for m in summary.get("schedule", []) if m.get("month")), None
        )
        if first is None:
            return None
        at_start = summary.get("cumulative_contribution_months")
        return entitlement.PreviousSpell(
            first_month=YearMonth.parse(str(first)),
            cumulative_at_start=int(at_start) if at_start is not None else None,
        )

    @activity.defn
    async def assess_claim(self, req: AssessRequest) -> CheckReport:
        """Eligibility, retirement and risk with the parameters in force (pure policy functions),
        recorded with the parameter version so an auditor sees which rules produced the report.

        After an earlier benefit spell the contribution time is counted afresh (domain.md A3):
        the bracket, and the one-year condition, take only what was contributed since."""
        params = parameters_in_force(self.settings.params_dir)
        on = req.received_on
        previous = await self._previous_spell(applicant_key_of(req.case_id))
        try:
            counted = entitlement.contribution_months_afresh(
                req.contribution.cumulative_months,
                previous,
                [YearMonth.parse(m) for m in req.contribution.paid_months],
            )
            elig = entitlement.assess_eligibility(
                counted,
                req.stop_reason.involuntary,
                req.registered,
                as_of=on,
                params=params,
            )
            ent = entitlement.max_benefit_months(counted, req.unused_months, as_of=on, params=params)
            birth = YearMonth(int(req.id_number[6:10]), int(req.id_number[10:12]))
            ret = retirement(req.category, birth, params)
            hits = [
                *risk.short_contribution(req.contribution.last_consecutive_months, on, params),
                *risk.mass_separation(on, tuple(req.employer.other_claim_dates), params),
                *risk.cross_province(req.cross_province.receiving_elsewhere),
            ]
            if req.employer.insured_headcount is not None:
                hits += risk.claimant_ratio(
                    req.employer.claims_in_window + 1, req.employer.insured_headcount, on, params
                )
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        reached = YearMonth(on.year, on.month) >= ret.retirement_month
        reasons = [(r.code, r.message_zh) for r in elig.reasons]
        suggested: RejectReason | None = None
        if req.pension.receiving:
            reasons.append(("eligibility.receiving_pension", "已领取基本养老保险待遇"))
            suggested = RejectReason.RECEIVING_PENSION
        elif reached:
            reasons.append(("eligibility.retirement_age", "已达到法定退休年龄"))
            suggested = RejectReason.RETIREMENT_AGE
        elif req.cross_province.receiving_elsewhere:
            suggested = RejectReason.RECEIVING_ELSEWHERE
        elif not req.stop_reason.involuntary:
            suggested = RejectReason.VOLUNTARY_SEPARATION
        elif not ent.eligible:
            suggested = RejectReason.CONTRIBUTION_SHORT
        eligible = elig.eligible and not req.pension.receiving and not reached
        return CheckReport(
            checked_at=datetime.now(UTC),
            contribution=req.contribution,
            stop_reason=req.stop_reason,
            cross_province=req.cross_province,
            pension=req.pension,
            employer=req.employer,
            retirement=RetirementView(
                category=req.category,
                retirement_month=ret.retirement_month,
                original_retirement_month=ret.original_retirement_month,
                reached=reached,
            ),
            eligibility=EligibilityView(
                eligible=eligible,
                reasons=reasons,
                max_months=ent.max_months,
                suggested_reject_reason=None if eligible else suggested,
            ),
            risk_hits=[RiskHitView(code=h.code.value, label=h.label_zh, detail=h.detail_zh) for h in hits],
            unused_months_carried=ent.carried_over_months,
            parameter_version=params.version,
            counted_contribution_months=counted,
        )

    @activity.defn
    async def compute_entitlement(self, req: EntitlementRequest) -> ClaimEntitlement:
        """Months, start and the monthly amounts of each benefit month, each amount for the
        parameters in force in its pay month (a minimum-wage change applies from its month)."""
        params = parameters_in_force(self.settings.params_dir)
        start = entitlement.benefit_start(req.registration_date)
        try:
            ent = entitlement.max_benefit_months(
                req.contribution_months, req.unused_months, as_of=start, params=params
            )
            if not ent.eligible:
                raise ApplicationError("not eligible", type="NotEligible", non_retryable=True)
            first = YearMonth(start.year, start.month)
            schedule = []
            for i, month in enumerate(entitlement.benefit_months(first, ent.max_months), start=1):
                a = entitlement.benefit_amount(i, month, params)
                schedule.append(
                    MonthlyAmount(month_index=i, pay_month=month, amount=a.amount, rate=a.rate, base=a.base)
                )
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        return ClaimEntitlement(
            max_months=ent.max_months,
            new_months=ent.bracket_months,
            carried_months=ent.carried_over_months,
            benefit_start=start,
            first_month=first,
            last_month=first + (ent.max_months - 1),
            schedule=schedule,
            total=sum((m.amount for m in schedule), Decimal("0")),
            parameter_version=params.version,
            cumulative_contribution_months=req.cumulative_months,
        )

    @activity.defn
    async def link_documents(self, req: LinkDocuments) -> int:
        """Attach uploaded documents to the case, checking each one's hash against the store.

        A document belongs to one case: one already attached to another case is refused (a claim
        naming another case's document id must not take it over, nor read it through its case)."""
        async with self.db.session() as s:
            for ref in req.documents:
                doc = await s.get(Document, ref.id, with_for_update=self.db.dialect == "postgresql")
                if doc is None or doc.sha256 != ref.sha256:
                    raise ApplicationError(
                        f"document {ref.id} missing or altered", type="DocumentMismatch", non_retryable=True
                    )
                if doc.case_id is not None and doc.case_id != req.case_id:
                    raise ApplicationError(
                        f"材料{ref.id}已属于其他案件，不能用于本案件，请重新上传",
                        type="document.other_case",
                        non_retryable=True,
                    )
                doc.case_id = req.case_id
            await s.commit()
        return len(req.documents)


ACTIVITY_CLASSES = [ClaimActivities]
