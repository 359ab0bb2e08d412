"""The skill-upgrade subsidy (技能提升补贴, notice item 6; domain.md E) as one workflow per application.

Lifecycle: received (counter, online, or a row of an employer's batch) → automatic checks, each an
activity (certificate on the national site, contributions or a running benefit period, prior
subsidies, training-subsidy double funding, then the pure assessment with the dated rules) →
review by a reviewer within 10 working days of the complete application (经办条例 Art. 24), with a
reminder and an escalation → approve (grant recorded, then one payment under ``subsidy:<case>``) or
reject with reason and remedy, after which a re-application within the window starts a new round,
as for the claim. A notice goes to the applicant at each step.

Built on the case kit's "review once, then pay once" piece (``workflows/review_once.py``: the desk,
the round's review with reminder and escalation, the decision's checks and hand-off, the wait for a
re-application, closing, the projection's common fields); one Update ``decide_subsidy``. An
approval is refused (``review.invalid``) while the checks list a failing condition: the
subsidy's conditions are rules, not judgement. The assessment records the parameter version and
each deciding rule with its status, so the case says which (possibly unconfirmed) 2026 rule
decided it.

Deterministic: time from ``workflow.now()``; everything else through activities."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.skill_subsidy import SkillSubsidyActivities
    from models.case import CaseProjection, DecisionReceipt, local_date
    from models.enums import CaseType, Channel
    from models.notice import NoticeKind, money_zh
    from models.review_once import OnceDecision
    from models.rules import ApplicantKind
    from models.skill_subsidy import (
        SUBSIDY_STATUS_LABELS,
        AssessSubsidyRequest,
        CertificateQuery,
        GrantRecord,
        InsuranceQuery,
        PayRequest,
        PriorQuery,
        SubsidyCheckReport,
        SubsidyDecision,
        SubsidyDecisionCommand,
        SubsidyInput,
        SubsidyReapply,
        SubsidyResult,
        SubsidyRound,
        SubsidyStage,
        SubsidyState,
        SubsidyStatus,
    )
    from workflows.base import refuse
    from workflows.review_once import ReviewOnceCase, RoundOutcome

LEVEL_TEXT = {"junior": "初级（五级）", "intermediate": "中级（四级）", "senior": "高级（三级）"}


@workflow.defn
class SkillSubsidyWorkflow(ReviewOnceCase):
    NOUN = "技能提升补贴申请"
    STAFF_NOUN = "技能提升补贴"
    AUDIT_AREA = "skill_subsidy"
    AREA = "subsidy"
    CASE_TYPE = CaseType.SKILL_SUBSIDY
    REMIND_TEMPLATE = "subsidy_deadline_near"
    OVERDUE_TEMPLATE = "subsidy_overdue"
    STATUS = SubsidyStatus
    STAGE = SubsidyStage
    STATUS_LABELS = SUBSIDY_STATUS_LABELS
    REASON_REQUIRED_ZH = "不予通过时必须写明理由和处置方式（将告知申请人）"

    @workflow.init
    def __init__(self, inp: SubsidyInput) -> None:
        common = self._init_case(inp)
        app = inp.application
        self.state = SubsidyState(
            **common,
            applicant_kind=app.applicant_kind,
            cert_no=app.cert_no,
            occupation_code=app.occupation_code,
            occupation=app.occupation,
            level=app.level,
            issued_on=app.issued_on,
            batch_id=inp.batch_id,
            fit_statement_sha256=app.fit_statement.sha256 if app.fit_statement else None,
        )

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: SubsidyInput) -> SubsidyResult:
        self.state.timeline = self.timeline
        app = inp.application
        how = {Channel.ONLINE: "网上申请", Channel.COUNTER: f"窗口受理（{inp.submitted_by}）"}.get(
            inp.channel, f"单位批量申报（{inp.submitted_by}）"
        )
        kind: Literal["applicant", "employer", "staff"] = (
            "applicant" if inp.channel == Channel.ONLINE else "employer" if inp.batch_id else "staff"
        )
        self.record(
            kind,
            inp.submitted_by,
            "subsidy.received",
            f"收到技能提升补贴申请（{how}）：{app.occupation}{LEVEL_TEXT[app.level.value]}证书",
            batch_id=inp.batch_id,
            fit_statement=self.state.fit_statement_sha256,
        )
        await self.project()
        await self._tell(
            "subsidy_received",
            f"{app.name}您好：您的技能提升补贴申请已收到，我们将自动核验证书和参保情况，"
            f"并在材料齐全之日起{inp.timings.review_working_days}个工作日内作出决定。",
        )
        await self._rounds()
        return SubsidyResult(
            case_id=self.case_id,
            status=self.state.status,
            close_reason=self.state.close_reason,
            amount=self.state.payment.amount if self.state.payment else None,
            rounds=len(self.state.rounds),
        )

    # --- one round: checks, review, decision ------------------------------------------------------------

    async def _round(self) -> RoundOutcome:
        """One application round: ``paid`` or ``rejected``."""
        rnd: SubsidyRound = await self._open_round(SubsidyRound)
        applied_on = local_date(self.state.received_at if rnd.n == 1 else rnd.started_at)
        rnd.report = await self._checks(applied_on)
        rnd.deadline = await self.deadline(
            rnd.started_at, self.inp.timings.reminder_working_days, self.inp.timings.review_working_days
        )
        a = rnd.report.assessment
        summary = "符合条件" if a.eligible else "不符合：" + "；".join(text for _, text in a.reasons)
        d = await self._review(
            rnd,
            self.inp.timings.review_working_days,
            "subsidy.checked",
            f"自动核验完成（{summary}），第{rnd.n}轮审核时限{rnd.deadline.deadline.isoformat()}",
            eligible=a.eligible,
            reasons=[code for code, _ in a.reasons],
            amount=str(a.amount),
            parameter_version=a.parameter_version,
            rules={r.name: f"{r.value}（{r.status}，自{r.effective_from.isoformat()}）" for r in a.rules},
        )
        if d.action == "reject":
            await self._reject(d)
            self.desk.done()
            return "rejected"
        await self._approve(rnd)
        self.desk.done()
        await self._pay(rnd)
        return "paid"

    async def _checks(self, applied_on: date) -> SubsidyCheckReport:
        app = self.inp.application
        cert = await self.act(
            SkillSubsidyActivities.verify_certificate,
            CertificateQuery(
                cert_no=app.cert_no,
                id_number=app.id_number,
                occupation_code=app.occupation_code,
                level=app.level,
                issued_on=app.issued_on,
            ),
        )
        insurance = await self.act(
            SkillSubsidyActivities.insurance_status,
            InsuranceQuery(
                id_number=app.id_number, applicant_key=self.inp.applicant_key, kind=app.applicant_kind
            ),
        )
        prior = await self.act(
            SkillSubsidyActivities.prior_subsidies,
            PriorQuery(applicant_key=self.inp.applicant_key, case_id=self.case_id),
        )
        training = await self.act(SkillSubsidyActivities.training_subsidy, app.cert_no)
        recipient = app.applicant_kind is ApplicantKind.BENEFIT_RECIPIENT
        assessment = await self.act(
            SkillSubsidyActivities.assess_subsidy,
            AssessSubsidyRequest(
                case_id=self.case_id,
                applicant_kind=app.applicant_kind,
                applied_on=applied_on,
                occupation_code=app.occupation_code,
                level=app.level,
                issued_on=app.issued_on,
                certificate_found=cert.outcome == "found",
                contribution_months=insurance.contribution_months,
                fit_statement=self.state.fit_statement_sha256 is not None,
                training_subsidy_paid=training,
                prior=prior,
            ),
        )
        if cert.outcome == "mismatch":
            assessment.reasons.insert(
                0, ("skill.certificate_mismatch", "证书信息不一致：" + "；".join(cert.mismatches))
            )
        if recipient and insurance.benefit_period_id is None:
            assessment.eligible = False
            assessment.reasons.append(("skill.not_recipient", "未查到正在领取失业保险金的记录"))
        if not assessment.eligible:
            assessment.amount = Decimal(0)
        return SubsidyCheckReport(
            checked_at=workflow.now(),
            certificate=cert,
            insurance=insurance,
            prior=prior,
            training_subsidy_paid=training,
            assessment=assessment,
        )

    async def _approve(self, rnd: SubsidyRound) -> None:
        assert rnd.report is not None and rnd.decision is not None
        a = rnd.report.assessment
        app = self.inp.application
        await self.act(
            SkillSubsidyActivities.record_grant,
            GrantRecord(
                case_id=self.case_id,
                applicant_key=self.inp.applicant_key,
                cert_no=app.cert_no,
                occupation_code=app.occupation_code,
                level=app.level,
                applied_on=local_date(self.state.received_at),
                shortage=a.shortage_occupation,
                amount=a.amount,
                region_code=self.region_code,
            ),
        )
        self.state.status, self.state.stage = SubsidyStatus.APPROVED, SubsidyStage.PAYING
        self.record(
            "staff",
            rnd.decision.by,
            "review.approved",
            f"审核通过，核定补贴{a.amount}元（规则版本{a.parameter_version}）",
            amount=str(a.amount),
        )
        await self.project()
        notice = ""
        if workflow.patched("subsidy-notices"):
            notice = await self._notice(
                NoticeKind.SUBSIDY_APPROVED,
                f"r{len(self.state.rounds)}:approved",
                {
                    "amount": money_zh(a.amount).removesuffix("元"),
                    "certificate": app.cert_no,
                    "occupation": app.occupation,
                    "level": app.level.label,
                },
            )
        await self._tell(
            "subsidy_approved",
            f"{app.name}您好：您的技能提升补贴申请已审核通过，补贴{a.amount}元将发放至您的银行账户。{notice}",
        )

    async def _pay(self, rnd: SubsidyRound) -> None:
        assert rnd.report is not None
        app = self.inp.application
        paid = await self.act(
            SkillSubsidyActivities.pay_subsidy,
            PayRequest(
                case_id=self.case_id,
                amount=rnd.report.assessment.amount,
                account_no=app.bank_account,
                account_name=app.name,
            ),
        )
        self.state.payment = paid
        self.state.status, self.state.stage = SubsidyStatus.PAID, SubsidyStage.PAID
        self.record("external", "bank", "subsidy.paid", f"补贴{paid.amount}元已发放", bank_ref=paid.bank_ref)
        await self.project()
        await self._tell(
            "subsidy_paid", f"{app.name}您好：技能提升补贴{paid.amount}元已发放至您的银行账户，请查收。"
        )

    async def _reject(self, d: OnceDecision) -> None:
        self.state.status, self.state.stage = SubsidyStatus.REJECTED, SubsidyStage.AWAITING_REAPPLICATION
        self.record("staff", d.by, "review.rejected", f"审核不通过：{d.reason}。处置方式：{d.remedy}")
        await self.project()
        notice = ""
        if workflow.patched("subsidy-notices"):
            notice = await self._notice(
                NoticeKind.SUBSIDY_NOT_APPROVED,
                f"r{len(self.state.rounds)}:rejected",
                {"reason": d.reason, "remedy": d.remedy or "", "certificate": self.inp.application.cert_no},
            )
        await self._tell(
            "subsidy_rejected",
            f"{self.inp.application.name}您好：您的技能提升补贴申请未通过审核。原因：{d.reason}。{d.remedy}"
            f"如情况变化，可在{self.inp.timings.reapply_window_days}日内重新申请。{notice}",
        )

    def _reapplied(self, r: SubsidyReapply) -> None:
        if r.fit_statement is not None:
            self.state.fit_statement_sha256 = r.fit_statement.sha256
        self.record(
            "applicant" if r.by == "applicant" else "staff",
            r.by,
            "subsidy.reapplied",
            "重新提出申请" + (f"：{r.note}" if r.note else ""),
            fit_statement=self.state.fit_statement_sha256,
        )

    # --- projection ----------------------------------------------------------------------------------

    def projection(self) -> CaseProjection:
        s = self.state
        rnd = s.current_round
        report = rnd.report if rnd else None
        summary: dict[str, Any] = {
            "occupation_code": s.occupation_code,
            "occupation": s.occupation,
            "level": s.level.value,
            "applicant_kind": s.applicant_kind.value,
        }
        if s.batch_id:
            summary["batch_id"] = s.batch_id
        if report is not None:
            a = report.assessment
            summary.update(
                eligible=a.eligible,
                reasons=[code for code, _ in a.reasons],
                amount=str(a.amount),
                parameter_version=a.parameter_version,
                certificate=report.certificate.outcome,
                issuer=report.certificate.issuer,
                issuer_region=report.certificate.issuer_region,
                insured_region=report.insurance.insured_region or report.insurance.benefit_region,
            )
        if rnd and rnd.decision and rnd.deadline:
            summary["decided_within_limit"] = local_date(rnd.decision.at) <= rnd.deadline.deadline
        return self._case_projection(
            summary,
            applicant_id_number=self.inp.application.id_number,
            employer_credit_code=self.inp.application.employer_credit_code,
        )

    # --- queries and Updates -------------------------------------------------------------------------

    @workflow.query
    def state_query(self) -> SubsidyState:
        self.state.blocked = self.blocked
        return self.state

    @workflow.update
    async def decide_subsidy(self, cmd: SubsidyDecisionCommand) -> DecisionReceipt:
        return await self._decide(
            cmd, SubsidyDecision, "已审核通过，补贴将发放", "已作出不予通过决定并告知申请人"
        )

    @decide_subsidy.validator
    def _validate_decide(self, cmd: SubsidyDecisionCommand) -> None:
        self._check_decision(cmd)
        rnd = self.state.current_round
        report = rnd.report if rnd else None
        if cmd.action == "approve" and report is not None and not report.assessment.eligible:
            raise refuse("review.invalid", "自动核验显示不符合技能提升补贴条件，不能审核通过")

    @workflow.update
    def reapply(self, ev: SubsidyReapply) -> DecisionReceipt:
        return self._take_reapply(ev, "已收到重新核验和审核")

    @reapply.validator
    def _validate_reapply(self, ev: SubsidyReapply) -> None:
        self._check_reapply()


WORKFLOWS = [SkillSubsidyWorkflow]
