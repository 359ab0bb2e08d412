"""The benefit claim (失业保险金申领), notice sections 1 and 2, as one durable workflow per claim.

Lifecycle: registration (wait for it online, register on the spot at a counter) → automatic
checks (each an activity) → review within 10 working days of confirmed registration, with a
reminder before and escalation after the deadline → approve (entitlement), reject (reason and
remedy; then wait for a re-application or a stop-reason change, each a fresh round with a fresh
deadline), or request documents (the clock restarts when they are complete).

Staff decide through the review kit (``workflows/review_levels.py``): a claim is a one-level
review (level ``review``, one round per application) whose decisions are approve, reject, request
documents and recheck (run the automatic checks again when a system said "not found"). The
validators check stage, round, role, region and separation of duties, and refuse while a decision
is still being processed; a refused decision never touches history.

A date from a callback never reaches money unchecked: the registration platform's callback only
wakes the workflow, which re-reads the registration from the platform (patch
``claim-registration-reread``) before the date starts the review clock and the benefit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.case_store import CaseStoreActivities
    from activities.claim import (
        ClaimActivities,
        CounterRegistration,
        EmployerRiskRequest,
        LinkDocuments,
        PersonRef,
    )
    from models import search_attributes as sa
    from models.benefit import BenefitPeriodInput
    from models.case import CaseProjection, DeadlineRequest, DecisionReceipt, Notification, local_date
    from models.claim import (
        CLAIM_STATUS_LABELS,
        REJECT_REASONS,
        ApproveCommand,
        AssessRequest,
        AssignCommand,
        CheckReport,
        ClaimApplication,
        ClaimEntitlement,
        ClaimInput,
        ClaimResult,
        ClaimStage,
        ClaimState,
        ClaimStatus,
        ContributionSummary,
        Decision,
        EntitlementRequest,
        ReapplyEvent,
        RecheckCommand,
        RegistrationEvent,
        RegistrationResult,
        RejectCommand,
        RejectReason,
        RequestDocumentsCommand,
        RetirementCategoryCommand,
        ReviewRound,
        RiskFinding,
        RiskFindingCommand,
        StopReasonChangedEvent,
    )
    from models.enums import CaseType, Channel, Role
    from models.notice import NoticeKind, NoticeRow, date_zh, month_rows, month_zh
    from models.review import DecisionTarget
    from models.rules import RetirementCategory
    from models.staff import StaffActor
    from models.verification import (
        HitBatch,
        HitRecord,
        VerificationInput,
        VerificationParty,
        verification_id_for,
    )
    from policy.identity import mask_resident_id
    from workflows.base import UnblockableCase, initial_search_attributes, refuse, region_path
    from workflows.benefit_period import BenefitPeriodWorkflow
    from workflows.review_levels import DecisionDesk
    from workflows.verification import VerificationWorkflow

REGISTRATION_VIA = {
    "platform": "平台查询",
    "counter": "窗口登记",
    "callback": "平台通知",
    "recheck": "每日复查",
}
RoundTrigger = Literal["application", "reapplication", "stop_reason_changed", "documents_supplied"]
NOUN = "申领"
LEVEL = "review"  # the claim's one review level
LEVEL_LABEL = "审核"
DECIDED = (ClaimStatus.APPROVED, ClaimStatus.REJECTED)
RISK_LEVEL = "risk"  # the risk-verification stage's desk (one finding per round)
RISK_LABEL = "风险核查"
RISK_DAYS_PARAMETER = "risk.verification.working_days"
MIN_FINDING = 4
# Official notices (PDF, check code) at the steps that issue them; one id for every site, so a case
# started before the change replays without them and issues none (workflows/base.py issue_notice).
NOTICES_PATCH = "claim-notices"
# The lean claim (issue 19): independent steps of one stage run together (the intake's projection,
# receipt and registration check; the checks with the review deadline; the approval's audit with
# its entitlement, then the period, projection and notice), and our own database and policy steps
# run as local activities (``workflows/base.py`` LOCAL_STEPS). Asked once, first thing in ``run``:
# a claim started before it replays its recorded sequence unchanged.
LEAN_PATCH = "claim-lean"


async def _nothing() -> None:
    """A step that is not taken, where ``asyncio.gather`` wants an awaitable (no command)."""


async def _empty() -> str:
    return ""


def _authority(case_region: str, _level: str) -> list[str]:
    """Reviewers of the claim's district and of the league and region above it may decide."""
    return region_path(case_region)


@workflow.defn
class BenefitClaimWorkflow(UnblockableCase):
    @workflow.init
    def __init__(self, inp: ClaimInput) -> None:
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        self.region_code = inp.application.region_code
        app = inp.application
        self.state = ClaimState(
            case_id=inp.case_id,
            status=ClaimStatus.CHECKING,
            stage=ClaimStage.REGISTRATION,
            region_code=app.region_code,
            channel=inp.channel,
            received_at=inp.received_at,
            applicant_name=app.name,
            applicant_id_masked=mask_resident_id(app.id_number),
            documents=list(app.documents),
        )
        self._registration_event: RegistrationEvent | None = None
        self.desk: DecisionDesk[Decision] = DecisionDesk(
            case_noun_zh=NOUN,
            case_region=app.region_code,
            applicant_key=inp.applicant_key,
            authority=_authority,
            excluded_logins=(inp.submitted_by,),
        )
        # The inspector's finding on a flagged claim: a desk of its own (same hand-off and checks).
        self.risk_desk: DecisionDesk[RiskFinding] = DecisionDesk(
            case_noun_zh=NOUN,
            case_region=app.region_code,
            applicant_key=inp.applicant_key,
            authority=_authority,
            excluded_logins=(inp.submitted_by,),
        )
        self._risk_patched: bool | None = None  # patch claim-risk-verification, asked once when flagged
        self._reapply: ReapplyEvent | None = None
        self._stop_reason_changed: StopReasonChangedEvent | None = None
        self._documents_supplied: ReapplyEvent | None = None
        # The clerk's statement of the retirement category (patch claim-retirement-category).
        self._category_cmd: RetirementCategoryCommand | None = None
        self._category_patched: bool | None = None
        self._awaiting_category = False
        # Registered when the claim arrived (found at once, or on the spot at the counter): the
        # review clock runs from receipt (patch claim-deadline-from-receipt).
        self._registered_at_receipt = False

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ClaimInput) -> ClaimResult:
        self._lean = workflow.patched(LEAN_PATCH)
        self._local_steps = self._lean
        self.state.timeline = self.timeline
        who = inp.submitted_by
        channel_text = "网上提交" if inp.channel == Channel.ONLINE else f"窗口受理（{who}）"
        self.record(
            "applicant" if inp.channel == Channel.ONLINE else "staff",
            who,
            "claim.received",
            f"收到失业保险金申领（{channel_text}）",
            documents=[d.sha256 for d in inp.application.documents],
        )
        if inp.application.documents:
            await self.act(
                ClaimActivities.link_documents,
                LinkDocuments(case_id=self.case_id, documents=inp.application.documents),
            )
        first_check: RegistrationResult | None = None
        if self._lean:
            # Received: the case row, the receipt and the registration check, all at once.
            receipt = self._receipt() if workflow.patched(NOTICES_PATCH) else _nothing()
            _, _, first_check = await asyncio.gather(
                self.project(), receipt, self.act(ClaimActivities.check_registration, self._person())
            )
        else:
            await self.project()
            if workflow.patched(NOTICES_PATCH):
                await self._receipt()

        await self._lifecycle(first_check)
        # Every Update returns its receipt before the case completes (as the other case types do).
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    def _person(self) -> PersonRef:
        app = self.inp.application
        return PersonRef(id_number=app.id_number, employer_credit_code=app.employer_credit_code)

    async def _lifecycle(self, first_check: RegistrationResult | None = None) -> None:
        if not await self._registration(first_check):
            return
        trigger: RoundTrigger = "application"
        clock_start = workflow.now()
        if self._registered_at_receipt and workflow.patched("claim-deadline-from-receipt"):
            # 10 working days "自收到申请之日起" (notice item 一; domain.md A6): a person already
            # registered waits for nothing, so the limit counts from receipt, not from the end of
            # the registration check.
            clock_start = self.inp.received_at
        while True:
            outcome = await self._review_round(trigger, clock_start)
            if outcome in ("approved", "closed"):
                return
            # Rejected: wait for a re-application or a stop-reason change within the window.
            next_trigger = await self._wait_for_new_round()
            if next_trigger is None:
                await self._close("reapply_window_expired", "重新申请期限已过，案件办结")
                return
            trigger = next_trigger
            clock_start = workflow.now()

    # --- registration (notice item 2) ------------------------------------------------------------------

    async def _registration(self, first_check: RegistrationResult | None = None) -> bool:
        """``first_check``: the platform's answer already asked for at intake (the lean claim)."""
        app = self.inp.application
        person = self._person()
        reg = (
            first_check
            if first_check is not None
            else await self.act(ClaimActivities.check_registration, person)
        )
        self._registered_at_receipt = reg.registered
        if not reg.registered and self.inp.channel == Channel.COUNTER:
            reg = await self.act(
                ClaimActivities.register_at_counter,
                CounterRegistration(
                    id_number=app.id_number,
                    name=app.name,
                    region_code=app.region_code,
                    operator=self.inp.submitted_by,
                ),
            )
            if reg.registered:
                self._registered_at_receipt = True  # registered on the spot, with the application
                self.record(
                    "staff",
                    self.inp.submitted_by,
                    "registration.counter",
                    "窗口当场办理失业登记",
                    registration_no=reg.registration_no,
                )
        if not reg.registered and self.inp.channel == Channel.COUNTER:
            # The platform does not know the person: a business outcome the clerk acts on (check the
            # ID number and name with the applicant, register on the platform); the daily re-check or
            # the platform's callback then finds the registration. Not the blocked path.
            self.state.status = ClaimStatus.AWAITING_REGISTRATION
            self.state.stage = ClaimStage.REGISTRATION_NOT_FOUND
            self.record(
                "external",
                "registration-platform",
                "registration.counter_not_found",
                "窗口办理失业登记时，登记平台未查到该人员信息，请受理人核实身份信息后在登记平台办理",
            )
            await self.project()
            await self.notify_staff(
                Role.INTAKE_CLERK.value,
                self.region_code,
                "registration_not_found",
                f"申领案件{self.case_id}窗口登记未成功：登记平台未查到该人员，请核实后办理失业登记。",
                login=self.inp.submitted_by,
            )
        elif not reg.registered:
            self.state.status = ClaimStatus.AWAITING_REGISTRATION
            self.state.stage = ClaimStage.REGISTRATION
            self.record("system", "uiflow", "registration.missing", "未查到失业登记，已通知申请人办理")
            await self.project()
            await self._tell_applicant(
                "register_needed",
                f"{app.name}您好：您的失业保险金申请已收到，但尚未查到您的失业登记。请通过网上办事大厅或到就近"
                "服务大厅办理失业登记，登记确认后我们将在规定的工作日时限内完成审核。",
            )
        if not reg.registered:
            t = self.inp.timings
            give_up_at = workflow.now() + timedelta(days=t.registration_wait_days)
            while not reg.registered:
                remaining = give_up_at - workflow.now()
                if remaining <= timedelta(0):
                    notice = ""
                    if workflow.patched(NOTICES_PATCH):
                        notice = await self._notice(
                            NoticeKind.CLAIM_NOT_ACCEPTED,
                            "registration_timeout",
                            {"reason": f"自申请之日起{t.registration_wait_days}日内未查到您的失业登记"},
                        )
                    await self._tell_applicant(
                        "registration_timeout",
                        f"{app.name}您好：因{t.registration_wait_days}日内未办理失业登记，您的申请已办结。"
                        f"办理登记后可重新申请。{notice}",
                    )
                    await self._close(
                        "registration_timeout", f"{t.registration_wait_days}日内未办理失业登记，案件办结"
                    )
                    return False
                try:
                    await workflow.wait_condition(
                        lambda: self._registration_event is not None,
                        timeout=min(remaining, timedelta(hours=t.registration_recheck_hours)),
                    )
                    ev = self._registration_event
                    assert ev is not None
                    reg = await self._confirm_callback(person, ev)
                except TimeoutError:
                    reg = await self.act(ClaimActivities.check_registration, person)
                    if reg.registered:
                        reg.via = "recheck"
        self.state.registration = reg
        self.record(
            "external",
            "registration-platform",
            "registration.confirmed",
            f"失业登记已确认（{reg.registered_on}，{REGISTRATION_VIA[reg.via]}），审核时限开始计算",
            registration_no=reg.registration_no,
        )
        return True

    async def _confirm_callback(self, person: PersonRef, ev: RegistrationEvent) -> RegistrationResult:
        """The platform's callback says the person registered: the date that will start the review
        clock and the benefit is re-read from the platform itself, never taken from the callback."""
        if not workflow.patched("claim-registration-reread"):
            return RegistrationResult(
                registered=True,
                registered_on=ev.registered_on,
                registration_no=ev.registration_no,
                via="callback",
            )
        reg = await self.act(ClaimActivities.check_registration, person)
        if reg.registered:
            reg.via = "callback"
            return reg
        self._registration_event = None  # the next callback is heard again
        self.record(
            "external",
            "registration-platform",
            "registration.callback_unconfirmed",
            "收到失业登记通知，但登记平台查无此登记，继续等待",
            registration_no=ev.registration_no,
        )
        return reg

    # --- one review round ------------------------------------------------------------------------------

    async def _review_round(self, trigger: RoundTrigger, clock_start: datetime) -> str:
        rnd = ReviewRound(n=len(self.state.rounds) + 1, trigger=trigger, started_at=workflow.now())
        self.state.rounds.append(rnd)
        self.state.status = ClaimStatus.CHECKING
        self.state.stage = ClaimStage.CHECKS
        self.state.overdue = False
        self.state.escalated = False
        if self._lean:
            # The deadline is known from the start of the clock: computed beside the checks.
            _, report, deadline = await asyncio.gather(
                self.project(),
                self._checks(),
                self.deadline(clock_start, self.inp.timings.reminder_working_days),
            )
            rnd.report, rnd.deadline = report, deadline
        else:
            await self.project()
            rnd.report = await self._checks()
            rnd.deadline = await self.deadline(clock_start, self.inp.timings.reminder_working_days)
        if self._needs_verification(rnd):
            # A flagged claim is verified before anyone decides it (notice item 7).
            self._record_checks(rnd.report)
            if await self._verify(rnd) == "confirmed":
                return "rejected"
            return await self._review_decisions(rnd)
        self.state.status = ClaimStatus.UNDER_REVIEW
        self.state.stage = ClaimStage.REVIEW
        self._record_checks(rnd.report)
        self.record(
            "system",
            "uiflow",
            "review.started",
            f"第{rnd.n}轮审核开始，办理时限{rnd.deadline.deadline.isoformat()}（{rnd.deadline.working_days}个工作日）",
            deadline=rnd.deadline.deadline.isoformat(),
            calendar_version=rnd.deadline.calendar_version,
        )
        await self.project()
        return await self._review_decisions(rnd)

    async def _review_decisions(self, rnd: ReviewRound) -> str:
        """The reviewer's decisions of one round until it is decided (or closed)."""
        while True:
            assert rnd.deadline is not None
            await self.wait_with_deadline(
                lambda: self.desk.waiting,
                rnd.deadline,
                reminded=lambda: rnd.reminded_at is not None,
                overdue=lambda: rnd.overdue_at is not None,
                on_reminder=lambda: self._remind(rnd),
                on_overdue=lambda: self._escalate(rnd),
            )
            decision, actor = await self.desk.take()
            audit = self.audit(
                actor,
                f"claim.{decision.kind}",
                {
                    "round": rnd.n,
                    "decision": decision.kind,
                    "reason_code": decision.reason_code,
                    "remedy": decision.remedy,
                    "documents": decision.documents,
                    "note": decision.note,
                },
            )
            if self._lean and decision.kind == "approve":
                # The audit entry is written beside the entitlement (the decision is already
                # accepted and final); the approval's other steps follow in ``_approve``.
                rnd.decision = decision
                await self._approve(rnd, audit)
                self.desk.done()
                return "approved"
            await audit
            if decision.kind == "recheck":
                await self._recheck(rnd, decision)
                self.desk.done()
                # Data back after a "not found": a risk hit that stands is verified first.
                if self._needs_verification(rnd) and await self._verify(rnd) == "confirmed":
                    return "rejected"
                continue
            if decision.kind == "request_documents":
                rnd.document_requests.append(decision)
                # ``_await_documents`` frees the desk once the applicant is asked.
                if await self._await_documents(rnd, decision) == "closed":
                    return "closed"
                continue
            rnd.decision = decision
            if decision.kind == "approve":
                await self._approve(rnd)
                self.desk.done()
                return "approved"
            await self._reject(rnd, decision)
            self.desk.done()
            return "rejected"

    # --- risk verification (notice item 7) -----------------------------------------------------------

    def _needs_verification(self, rnd: ReviewRound) -> bool:
        """A risk hit with the data complete and no finding yet in this round. With a record "not
        found" the figures behind a hit mean nothing: the reviewer rechecks first (and may not
        approve meanwhile, ``_validate_approve``). The patch is asked only for a flagged claim."""
        report = rnd.report
        if report is None or not report.risk_hits:
            return False
        if self._risk_patched is None:
            self._risk_patched = workflow.patched("claim-risk-verification")
        return self._risk_patched and not report.not_found and rnd.risk_finding is None

    async def _verify(self, rnd: ReviewRound) -> str:
        """Risk verification, then (cleared) back to review with the finding on the case, or
        (confirmed) the claim refused. Returns the finding's outcome."""
        assert rnd.deadline is not None
        finding = await self._risk_verification(rnd)
        if finding.outcome == "confirmed":
            await self._confirmed(rnd, finding)
            self.risk_desk.done()  # the inspector's Update returns with the claim refused
            return "confirmed"
        self.state.status = ClaimStatus.UNDER_REVIEW
        self.state.stage = ClaimStage.REVIEW
        self.record(
            "system",
            "uiflow",
            "review.started",
            f"风险核查已排除，转入审核，办理时限{rnd.deadline.deadline.isoformat()}"
            f"（{rnd.deadline.working_days}个工作日）",
            deadline=rnd.deadline.deadline.isoformat(),
            calendar_version=rnd.deadline.calendar_version,
        )
        await self.project()
        self.risk_desk.done()  # the inspector's Update returns with the claim back in review
        return "cleared"

    async def _risk_verification(self, rnd: ReviewRound) -> RiskFinding:
        """The claim waits for a 风险稽核员 of its region, within the stage's own working-day limit
        (a dated parameter), with the shared reminder and escalation; the finding is taken from the
        risk desk, audited, its evidence linked to the case, and shown on the case."""
        assert rnd.report is not None
        rnd.risk_deadline = await self.act(
            CaseStoreActivities.compute_deadline,
            DeadlineRequest(start=workflow.now(), parameter=RISK_DAYS_PARAMETER, reminder_working_days=1),
        )
        self.state.status = ClaimStatus.RISK_VERIFICATION
        self.state.stage = ClaimStage.RISK_VERIFICATION
        hits = "；".join(f"{h.label}：{h.detail}" if h.detail else h.label for h in rnd.report.risk_hits)
        self.record(
            "system",
            "uiflow",
            "risk.verification_opened",
            f"风险提示{len(rnd.report.risk_hits)}项（{hits}），转风险稽核员核查，核查时限"
            f"{rnd.risk_deadline.deadline.isoformat()}（{rnd.risk_deadline.working_days}个工作日）；核查结论作出前不能审核通过",
            risk=[h.code for h in rnd.report.risk_hits],
            deadline=rnd.risk_deadline.deadline.isoformat(),
        )
        await self.project()
        await self.notify_staff(
            Role.RISK_INSPECTOR.value,
            self.region_code,
            "risk_verification_assigned",
            f"申领案件{self.case_id}有风险提示，请于{rnd.risk_deadline.deadline.isoformat()}前核查并作出结论。",
        )
        deadline = rnd.risk_deadline
        await self.wait_with_deadline(
            lambda: self.risk_desk.waiting,
            deadline,
            reminded=lambda: rnd.risk_reminded_at is not None,
            overdue=lambda: rnd.risk_overdue_at is not None,
            on_reminder=lambda: self._risk_remind(rnd),
            on_overdue=lambda: self._risk_escalate(rnd),
        )
        finding, actor = await self.risk_desk.take()
        rnd.risk_finding = finding
        await self.audit(
            actor,
            f"claim.risk_finding.{finding.outcome}",
            {
                "round": rnd.n,
                "outcome": finding.outcome,
                "action": finding.action,
                "finding": finding.finding,
                "evidence": [d.sha256 for d in finding.evidence],
                "risk": [h.code for h in rnd.report.risk_hits],
            },
        )
        if finding.evidence:
            self.state.documents.extend(finding.evidence)
            await self.act(
                ClaimActivities.link_documents,
                LinkDocuments(case_id=self.case_id, documents=finding.evidence),
            )
        verdict = "排除风险" if finding.outcome == "cleared" else "风险属实"
        self.record(
            "staff",
            finding.by,
            f"risk.finding_{finding.outcome}",
            f"风险核查结论（{finding.by_name}）：{verdict}。{finding.finding}",
            outcome=finding.outcome,
            action=finding.action,
            evidence=[d.sha256 for d in finding.evidence],
        )
        self.state.overdue = False
        return finding

    async def _confirmed(self, rnd: ReviewRound, f: RiskFinding) -> None:
        """Confirmed: the claim is refused with reason and remedy (and, referred, a verification
        case takes the matter on)."""
        label, default_remedy = REJECT_REASONS[RejectReason.FRAUD_VERIFIED]
        d = Decision(
            kind="reject",
            by=f.by,
            by_role=Role.RISK_INSPECTOR.value,
            at=f.at,
            reason_code=RejectReason.FRAUD_VERIFIED,
            reason_label=label,
            remedy=f.remedy or default_remedy,
            note=f.finding,
        )
        rnd.decision = d
        if f.action == "refer":
            await self._refer(rnd, f)
        await self._reject(rnd, d)

    async def _refer(self, rnd: ReviewRound, f: RiskFinding) -> None:
        """A verification case (核查) takes the matter on: the person, the employer, this claim and
        the hits, with the inspector's finding as its reason."""
        assert rnd.report is not None
        app = self.inp.application
        ref = "c" + self.case_id.split("-", 2)[2] + f"-r{rnd.n}"
        case_id = verification_id_for(self.region_code, ref)
        now = workflow.now()
        hits = [
            HitRecord(
                rule=h.code,
                rule_version=rnd.report.parameter_version,
                explanation_zh=f"{h.label}：{h.detail}" if h.detail else h.label,
                found_at=rnd.report.checked_at,
                parties=[self.inp.applicant_key],
            )
            for h in rnd.report.risk_hits
        ]
        inp = VerificationInput(
            case_id=case_id,
            region_code=self.region_code,
            opened_by=f.by,
            opened_at=now,
            reason_zh=f"申领{self.case_id}风险核查属实，转立案核查：{f.finding}"[:500],
            source_claim_id=self.case_id,
            hits=HitBatch(
                hits=hits,
                parties=[
                    VerificationParty(
                        kind="person",
                        key=self.inp.applicant_key,
                        label=self.state.applicant_id_masked,
                        claim_ids=[self.case_id],
                        phone=app.phone,
                    ),
                    VerificationParty(
                        kind="employer", key=app.employer_credit_code, claim_ids=[self.case_id]
                    ),
                ],
            ),
        )
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                VerificationWorkflow.run,
                inp,
                id=case_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=initial_search_attributes(CaseType.RISK_CHECK, self.region_code, "open"),
            )
        f.verification_case_id = case_id
        self.record(
            "staff",
            f.by,
            "risk.referred",
            f"转立案核查（核查案件{case_id}）",
            verification_case_id=case_id,
        )

    async def _risk_remind(self, rnd: ReviewRound) -> None:
        rnd.risk_reminded_at = workflow.now()
        assert rnd.risk_deadline is not None
        when = rnd.risk_deadline.deadline.isoformat()
        self.record("system", "uiflow", "risk.reminder", f"风险核查时限提醒：核查时限为{when}")
        await self.notify_staff(
            Role.RISK_INSPECTOR.value,
            self.region_code,
            "risk_verification_reminder",
            f"申领案件{self.case_id}的风险核查将于{when}到期，请及时作出核查结论。",
        )

    async def _risk_escalate(self, rnd: ReviewRound) -> None:
        rnd.risk_overdue_at = workflow.now()
        self.state.overdue = True
        self.state.escalated = True
        assert rnd.risk_deadline is not None
        when = rnd.risk_deadline.deadline.isoformat()
        self.record(
            "system", "uiflow", "risk.overdue", f"风险核查已超过核查时限（{when}），已上报业务主管督办"
        )
        await self.project()
        await self.notify_staff(
            Role.SUPERVISOR.value,
            self.region_code,
            "risk_verification_overdue",
            f"申领案件{self.case_id}的风险核查已超过{rnd.risk_deadline.working_days}个工作日时限（{when}），请督办。",
        )

    async def _recheck(self, rnd: ReviewRound, d: Decision) -> None:
        """The reviewer asked for the automatic checks again: same round, same time limit."""
        rnd.rechecks.append(d)
        self.state.stage = ClaimStage.CHECKS
        self.record(
            "staff",
            d.by,
            "review.recheck_requested",
            "审核员要求重新自动核验" + (f"：{d.note}" if d.note else ""),
        )
        await self.project()
        rnd.report = await self._checks()
        self.state.stage = ClaimStage.REVIEW
        self._record_checks(rnd.report, again=True)
        await self.project()

    def _record_checks(self, report: CheckReport, *, again: bool = False) -> None:
        verdict = "符合" if report.eligibility.eligible else "不符合"
        text = f"{'重新' if again else '自动'}核验完成：{verdict}申领条件"
        if report.risk_hits:
            text += f"；风险提示{len(report.risk_hits)}项，需重点核查"
        if again and report.not_found:
            text += f"；仍未查到{'、'.join(report.not_found)}"
        self.record(
            "system",
            "uiflow",
            "checks.completed",
            text,
            eligible=report.eligibility.eligible,
            risk=[h.code for h in report.risk_hits],
            parameter_version=report.parameter_version,
        )

    async def _checks(self) -> CheckReport:
        app = self.inp.application
        person = PersonRef(id_number=app.id_number, employer_credit_code=app.employer_credit_code)
        contribution, stop_reason, cross, pension, employer, unused = await asyncio.gather(
            self.act(ClaimActivities.fetch_contributions, person),
            self.act(ClaimActivities.fetch_stop_reason, person),
            self.act(ClaimActivities.check_cross_province, person),
            self.act(ClaimActivities.check_pension, person),
            self.act(
                ClaimActivities.employer_risk_inputs,
                EmployerRiskRequest(
                    case_id=self.case_id,
                    employer_credit_code=app.employer_credit_code,
                    received_on=self._local_date(),
                ),
            ),
            self.act(ClaimActivities.unused_months, self.inp.applicant_key),
        )
        category = await self._retirement_category(contribution)
        return await self.act(
            ClaimActivities.assess_claim,
            AssessRequest(
                case_id=self.case_id,
                id_number=app.id_number,
                category=category,
                registered=self.state.registration is not None and self.state.registration.registered,
                received_on=self._local_date(),
                contribution=contribution,
                stop_reason=stop_reason,
                cross_province=cross,
                pension=pension,
                employer=employer,
                unused_months=unused,
            ),
        )

    def _local_date(self) -> date:
        return local_date(workflow.now())

    async def _retirement_category(self, contribution: ContributionSummary) -> RetirementCategory:
        """The 原法定退休年龄类别 (domain.md C2: a personnel attribute, not sex): the clerk's
        statement, the application's, or the contribution record's. With none, the claim waits in
        its checks for the clerk to state it (``set_retirement_category``); the review clock is not
        stopped. Histories from before patch ``claim-retirement-category`` keep the old guess."""
        app = self.inp.application
        if self._category_patched is None:
            self._category_patched = workflow.patched("claim-retirement-category")
        if not self._category_patched:
            return app.category()
        if self._category_cmd is None and (app.retirement_category or contribution.retirement_category):
            return app.retirement_category or contribution.retirement_category  # type: ignore[return-value]
        if self._category_cmd is None:
            stage = self.state.stage
            self.state.stage = ClaimStage.AWAITING_CATEGORY
            self._awaiting_category = True
            self.record(
                "system",
                "uiflow",
                "category.missing",
                "申请和缴费记录中均无原法定退休年龄类别，待受理人根据档案确定后继续核验（不按性别推定）",
            )
            await self.project()
            await self.notify_staff(
                Role.INTAKE_CLERK.value,
                self.region_code,
                "retirement_category_needed",
                f"申领案件{self.case_id}缺少原法定退休年龄类别，请根据人事档案确定后录入。",
                login=None if self.inp.channel == Channel.ONLINE else self.inp.submitted_by,
            )
            await workflow.wait_condition(lambda: self._category_cmd is not None)
            self._awaiting_category = False
            self.state.stage = stage
        cmd = self._category_cmd
        assert cmd is not None
        return cmd.category

    async def _remind(self, rnd: ReviewRound) -> None:
        rnd.reminded_at = workflow.now()
        assert rnd.deadline is not None
        self.record(
            "system",
            "uiflow",
            "review.reminder",
            f"审核时限提醒：距办理时限（{rnd.deadline.deadline.isoformat()}）还有"
            f"{self.inp.timings.reminder_working_days}个工作日",
        )
        await self.notify_staff(
            "reviewer",
            self.region_code,
            "review_reminder",
            f"申领案件{self.case_id}将于{rnd.deadline.deadline.isoformat()}到期，请及时审核。",
            login=self.state.assigned_to,
        )

    async def _escalate(self, rnd: ReviewRound) -> None:
        rnd.overdue_at = workflow.now()
        self.state.overdue = True
        self.state.escalated = True
        assert rnd.deadline is not None
        self.record(
            "system",
            "uiflow",
            "review.overdue",
            f"已超过办理时限（{rnd.deadline.deadline.isoformat()}），已上报业务主管督办",
        )
        await self.project()
        await self.notify_staff(
            "supervisor",
            self.region_code,
            "review_overdue",
            f"申领案件{self.case_id}已超过{rnd.deadline.working_days}个工作日办理时限（{rnd.deadline.deadline.isoformat()}），请督办。",
        )

    async def _approve(self, rnd: ReviewRound, audit: Awaitable[None] | None = None) -> None:
        """``audit``: the decision's audit entry, still to write (the lean claim writes it here,
        beside the entitlement); None when it is written already."""
        assert rnd.report is not None and self.state.registration is not None
        reg_date = self.state.registration.registered_on or self._local_date()
        # The report's carried months are already min(cap - bracket, unused): passing them as the
        # unused months gives the same entitlement the reviewer saw.
        entitlement = self.act(
            ClaimActivities.compute_entitlement,
            EntitlementRequest(
                case_id=self.case_id,
                contribution_months=rnd.report.bracket_months_basis,  # afresh after a spell (A3)
                unused_months=rnd.report.unused_months_carried,
                registration_date=reg_date,
                cumulative_months=rnd.report.contribution.cumulative_months,
            ),
        )
        if audit is not None:
            _, ent = await asyncio.gather(audit, entitlement)
        else:
            ent = await entitlement
        self.state.entitlement = ent
        self.state.status = ClaimStatus.APPROVED
        self.state.stage = ClaimStage.APPROVED
        self.record(
            "staff",
            rnd.decision.by if rnd.decision else "",
            "review.approved",
            f"审核通过：可领取{ent.max_months}个月（{ent.first_month}至{ent.last_month}），"
            f"首月{ent.schedule[0].amount}元",
            parameter_version=ent.parameter_version,
        )
        period_start: Awaitable[None] | None = None
        if workflow.patched("start-benefit-period"):
            # The monthly payments run on in their own case (ABANDON: the claim completes as
            # approved while the period pays for two years and more).
            period = BenefitPeriodInput.from_claim(
                self.inp, ent, workflow.now(), category=rnd.report.retirement.category
            )
            period_start = self._start_period(period)
            if not self._lean:
                await period_start
                period_start = None
            self.state.period_id = period.case_id
            self.record(
                "system",
                "uiflow",
                "benefit_period.started",
                f"已转入按月发放（发放案件{period.case_id}）",
                period_id=period.case_id,
            )
        app = self.inp.application
        notice = ""
        if self._lean:
            # The period, the read model and the notice do not wait for each other.
            wording = self._approval_notice(rnd, ent) if workflow.patched(NOTICES_PATCH) else _empty()
            _, _, notice = await asyncio.gather(period_start or _nothing(), self.project(), wording)
        else:
            await self.project()
            if workflow.patched(NOTICES_PATCH):
                notice = await self._approval_notice(rnd, ent)
        await self._tell_applicant(
            "claim_approved",
            f"{app.name}您好：您的失业保险金申请已审核通过，可领取{ent.max_months}个月，"
            f"自{ent.first_month}起按月发放至您的银行账户，每月{ent.schedule[0].amount}元。{notice}",
        )

    async def _start_period(self, period: BenefitPeriodInput) -> None:
        # A reset claim approved again: the period it started before carries on.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                BenefitPeriodWorkflow.run,
                period,
                id=period.case_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=initial_search_attributes(
                    CaseType.BENEFIT_PERIOD, self.region_code, "active"
                ),
            )

    async def _approval_notice(self, rnd: ReviewRound, ent: ClaimEntitlement) -> str:
        assert rnd.report is not None
        return await self._notice(
            NoticeKind.BENEFIT_APPROVED,
            f"r{rnd.n}:approved",
            {
                "contribution_months": str(rnd.report.contribution.cumulative_months),
                "months": str(ent.max_months),
                "first_month": month_zh(ent.first_month),
                "last_month": month_zh(ent.last_month),
            },
            month_rows((m.pay_month, m.amount) for m in ent.schedule),
        )

    async def _reject(self, rnd: ReviewRound, d: Decision) -> None:
        self.state.status = ClaimStatus.REJECTED
        self.state.stage = ClaimStage.AWAITING_REAPPLICATION
        self.record(
            "staff",
            d.by,
            "review.rejected",
            f"审核不通过：{d.reason_label}。处置方式：{d.remedy}",
            reason_code=d.reason_code,
        )
        await self.project()
        app = self.inp.application
        notice = ""
        if workflow.patched(NOTICES_PATCH):
            notice = await self._notice(
                NoticeKind.CLAIM_NOT_APPROVED,
                f"r{rnd.n}:rejected",
                {
                    "reason": d.reason_label or "",
                    "remedy": d.remedy or "",
                    "reapply_days": str(self.inp.timings.reapply_window_days),
                },
            )
        await self._tell_applicant(
            "claim_rejected",
            f"{app.name}您好：您的失业保险金申请未通过审核。原因：{d.reason_label}。{d.remedy}"
            f"如情况变化，可在{self.inp.timings.reapply_window_days}日内重新申请。{notice}",
        )

    async def _await_documents(self, rnd: ReviewRound, d: Decision) -> str:
        self.state.status = ClaimStatus.AWAITING_DOCUMENTS
        self.state.stage = ClaimStage.AWAITING_DOCUMENTS
        self.desk.done()  # the request is taken: the reviewer's Update returns
        self._documents_supplied = None
        self.record(
            "staff",
            d.by,
            "review.documents_requested",
            f"要求补正材料：{'、'.join(d.documents)}",
            documents=d.documents,
        )
        await self.project()
        app = self.inp.application
        notice = ""
        if workflow.patched(NOTICES_PATCH):
            notice = await self._notice(
                NoticeKind.DOCUMENTS_REQUEST,
                f"r{rnd.n}:documents:{len(rnd.document_requests)}",
                {"wait_days": str(self.inp.timings.documents_wait_days)},
                [NoticeRow(label=str(i), value=doc) for i, doc in enumerate(d.documents, start=1)],
            )
        await self._tell_applicant(
            "documents_requested",
            f"{app.name}您好：审核您的失业保险金申请需要补正以下材料：{'、'.join(d.documents)}。"
            f"请在{self.inp.timings.documents_wait_days}日内通过网上办事大厅或到窗口提交，材料齐全后重新计算审核时限。"
            f"{notice}",
        )
        try:
            await workflow.wait_condition(
                lambda: self._documents_supplied is not None,
                timeout=timedelta(days=self.inp.timings.documents_wait_days),
            )
        except TimeoutError:
            await self._close("documents_not_supplied", "逾期未补正材料，案件办结")
            return "closed"
        ev = self._documents_supplied
        assert ev is not None
        if ev.documents:
            self.state.documents.extend(ev.documents)
            await self.act(
                ClaimActivities.link_documents,
                LinkDocuments(case_id=self.case_id, documents=ev.documents),
            )
        # The time limit restarts from the day the materials are complete.
        rnd.deadline = await self.deadline(workflow.now(), self.inp.timings.reminder_working_days)
        rnd.reminded_at = None
        rnd.overdue_at = None
        self.state.overdue = False
        self.state.status = ClaimStatus.UNDER_REVIEW
        self.state.stage = ClaimStage.REVIEW
        self.record(
            "applicant" if ev.by == "applicant" else "staff",
            ev.by,
            "documents.supplied",
            f"材料已补正，办理时限重新计算至{rnd.deadline.deadline.isoformat()}",
            documents=[x.sha256 for x in ev.documents],
        )
        await self.project()
        return "continue"

    async def _wait_for_new_round(self) -> RoundTrigger | None:
        # A stop-reason change that arrived during the review is not lost: it starts the next round.
        try:
            await workflow.wait_condition(
                lambda: self._reapply is not None or self._stop_reason_changed is not None,
                timeout=timedelta(days=self.inp.timings.reapply_window_days),
            )
        except TimeoutError:
            return None
        if self._stop_reason_changed is not None:
            ev = self._stop_reason_changed
            self._stop_reason_changed = None
            self._reapply = None
            self.record(
                "external",
                ev.dispute_id,
                "stop_reason.changed",
                f"停保原因已变更为“{ev.new_label}”（争议案件{ev.dispute_id}），自动重新审核，无需再次申请",
            )
            return "stop_reason_changed"
        r = self._reapply
        assert r is not None
        self._reapply = None
        if r.documents:
            self.state.documents.extend(r.documents)
            await self.act(
                ClaimActivities.link_documents,
                LinkDocuments(case_id=self.case_id, documents=r.documents),
            )
        self.record(
            "applicant" if r.by == "applicant" else "staff",
            r.by,
            "claim.reapplied",
            "重新提出申请" + (f"：{r.note}" if r.note else ""),
            documents=[x.sha256 for x in r.documents],
        )
        return "reapplication"

    async def _receipt(self) -> None:
        """受理回执: the person (or the clerk, to print) gets it as soon as the claim is taken in."""
        app = self.inp.application
        notice = await self._notice(
            NoticeKind.CLAIM_RECEIPT,
            "received",
            {
                "received_on": date_zh(local_date(self.inp.received_at)),
                "channel": "网上办事大厅" if self.inp.channel == Channel.ONLINE else "服务窗口",
                "documents": f"{len(app.documents)}份" if app.documents else "",
            },
        )
        await self._tell_applicant("claim_received", f"{app.name}您好：您的失业保险金申请已受理。{notice}")

    async def _notice(
        self, kind: NoticeKind, key: str, facts: dict[str, str], rows: list[NoticeRow] | None = None
    ) -> str:
        """Issue one notice of this claim; returns the sentence the message to the person ends with."""
        return await self.notice_for_person(
            kind,
            key,
            person_name=self.inp.application.name,
            person_id_masked=self.state.applicant_id_masked,
            facts={"received_on": date_zh(local_date(self.inp.received_at))} | facts,
            rows=rows,
        )

    async def _tell_applicant(self, template: str, text_zh: str) -> None:
        """An SMS to the applicant (the phone stays inside the encrypted payloads)."""
        await self.notify(
            Notification(
                case_id=self.case_id,
                audience="applicant",
                phone=self.inp.application.phone,
                template=template,
                text_zh=text_zh,
            )
        )

    def _receipt_now(self, message_zh: str) -> DecisionReceipt:
        return DecisionReceipt(
            case_id=self.case_id,
            status=self.state.status.value,
            stage=self.state.stage,
            round=len(self.state.rounds),
            message_zh=message_zh,
            processing=self.desk.busy or self.risk_desk.busy,
        )

    async def _close(self, reason: str, text_zh: str) -> None:
        self.state.status = ClaimStatus.CLOSED
        self.state.stage = ClaimStage.CLOSED
        self.state.close_reason = reason
        self.record("system", "uiflow", "claim.closed", text_zh, reason=reason)
        await self.project()

    def _result(self) -> ClaimResult:
        return ClaimResult(
            case_id=self.case_id,
            status=self.state.status,
            close_reason=self.state.close_reason,
            entitlement=self.state.entitlement,
            rounds=len(self.state.rounds),
        )

    # --- projection ----------------------------------------------------------------------------------

    def projection(self) -> CaseProjection:
        s = self.state
        rnd = s.current_round
        report = rnd.report if rnd else None
        terminal = s.status in (ClaimStatus.APPROVED, ClaimStatus.CLOSED)
        decided = rnd.decision.at if rnd and rnd.decision else None
        summary: dict[str, Any] = {"status_label": CLAIM_STATUS_LABELS[s.status]}
        if report is not None:
            summary["eligible"] = report.eligibility.eligible
            summary["risk"] = [h.code for h in report.risk_hits]
            summary["stop_reason"] = report.stop_reason.label
        if rnd and rnd.risk_finding is not None:
            f = rnd.risk_finding
            summary["risk_finding"] = {
                "outcome": f.outcome,
                "action": f.action,
                "finding": f.finding,
                "by": f.by,
                "at": f.at.isoformat(),
                "evidence": [d.sha256 for d in f.evidence],
                "verification_case_id": f.verification_case_id,
            }
        if s.entitlement is not None:
            summary["max_months"] = s.entitlement.max_months
        if s.close_reason:
            summary["close_reason"] = s.close_reason
        if rnd and rnd.decision and rnd.deadline:
            summary["decided_within_limit"] = local_date(rnd.decision.at) <= rnd.deadline.deadline
        if rnd and rnd.decision:
            summary["decided_by"] = rnd.decision.by  # the supervisor's per-reviewer table
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.BENEFIT_CLAIM,
            status=s.status.value,
            stage=s.stage,
            region_code=s.region_code,
            applicant_key=self.inp.applicant_key,
            applicant_name=s.applicant_name,
            applicant_id_masked=s.applicant_id_masked,
            applicant_id_number=self.inp.application.id_number,
            employer_credit_code=self.inp.application.employer_credit_code,
            channel=s.channel.value,
            received_at=s.received_at,
            deadline=self._deadline_shown(rnd) if rnd and not terminal else None,
            overdue=s.overdue,
            escalated=s.escalated,
            assigned_to=s.assigned_to,
            rounds=len(s.rounds),
            risk_flagged=bool(report and report.risk_hits),
            summary=summary,
            decided_at=decided,
            closed_at=workflow.now() if terminal else None,
            version=0,
        )

    def _deadline_shown(self, rnd: ReviewRound) -> date | None:
        """While the inspector verifies, the verification's own limit; otherwise the review's."""
        if self.state.status == ClaimStatus.RISK_VERIFICATION and rnd.risk_deadline is not None:
            return rnd.risk_deadline.deadline
        return rnd.deadline.deadline if rnd.deadline else None

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        rnd = self.state.current_round
        if rnd and rnd.deadline and self.state.status == ClaimStatus.UNDER_REVIEW:
            return [sa.DEADLINE.value_set(rnd.deadline.deadline_at)]
        if rnd and rnd.risk_deadline and self.state.status == ClaimStatus.RISK_VERIFICATION:
            return [sa.DEADLINE.value_set(rnd.risk_deadline.deadline_at)]
        return []

    # --- queries, updates, signals ------------------------------------------------------------------------

    @workflow.query
    def state_query(self) -> ClaimState:
        self.state.blocked = self.blocked
        self.state.processing = self.processing()
        return self.state

    def processing(self) -> bool:
        return self.desk.busy or self.risk_desk.busy

    @workflow.query
    def applicant_details(self) -> ClaimApplication:
        """The full application with personal data: the API audits every call."""
        return self.inp.application

    # --- decisions: the review kit's desk (one level, one round per application) ----------------------

    def _check_decision(self, cmd: DecisionTarget, actor: StaffActor) -> None:
        """The checks every claim decision shares; run by the validators (never again by the handler)."""
        s = self.state
        self.desk.check_undecided(
            decided=s.status in DECIDED,
            closed=s.status == ClaimStatus.CLOSED,
            status_zh=CLAIM_STATUS_LABELS[s.status],
        )
        self.desk.check_free()
        if s.status != ClaimStatus.UNDER_REVIEW:
            raise refuse(
                "review.stage", f"该申领当前状态为“{CLAIM_STATUS_LABELS[s.status]}”，不能作出审核决定"
            )
        self.desk.check_target(cmd, LEVEL, LEVEL_LABEL, len(s.rounds))
        self.desk.check_staff(actor, LEVEL, "审核决定", Role.REVIEWER)
        if s.assigned_to and s.assigned_to != actor.login:
            raise refuse("review.conflict", f"该申领已分派给{s.assigned_to}审核")

    def _decision(self, kind: str, actor: StaffActor, **fields: Any) -> Decision:
        return Decision(
            kind=kind,  # type: ignore[arg-type]
            by=actor.login,
            by_role=Role.REVIEWER.value,
            at=workflow.now(),
            **fields,
        )

    async def _decide(
        self, cmd: DecisionTarget, actor: StaffActor, d: Decision, message_zh: str
    ) -> DecisionReceipt:
        """Handed to the round and answered on acceptance (``DecisionDesk.answer``): the round applies
        it after. Not checked again here: the validator accepted it (see ``DecisionDesk.submit`` for
        why a second check in the handler broke replay)."""
        await self.desk.answer(self.desk.submit(d, actor))
        return self._receipt_now(message_zh)

    @workflow.update
    async def approve(self, cmd: ApproveCommand) -> DecisionReceipt:
        d = self._decision("approve", cmd.actor, note=cmd.note)
        return await self._decide(cmd, cmd.actor, d, "已审核通过")

    @approve.validator
    def _validate_approve(self, cmd: ApproveCommand) -> None:
        self._check_decision(cmd, cmd.actor)
        rnd = self.state.current_round
        if rnd and rnd.report and rnd.report.risk_hits and rnd.risk_finding is None and self._risk_patched:
            raise refuse("review.stage", "该申领有风险提示，须由风险稽核员核查并作出结论后才能审核通过")
        if rnd and rnd.report and not rnd.report.eligibility.eligible and not cmd.note.strip():
            raise refuse("review.note_required", "自动核验显示不符合申领条件，如仍要通过须填写核实说明")

    @workflow.update
    async def reject(self, cmd: RejectCommand) -> DecisionReceipt:
        d = self._decision(
            "reject",
            cmd.actor,
            reason_code=cmd.reason_code,
            reason_label=REJECT_REASONS[cmd.reason_code][0],
            remedy=cmd.remedy.strip(),
            note=cmd.note,
        )
        return await self._decide(cmd, cmd.actor, d, "已作出不予通过决定并告知申请人")

    @reject.validator
    def _validate_reject(self, cmd: RejectCommand) -> None:
        self._check_decision(cmd, cmd.actor)
        if len(cmd.remedy.strip()) < 4:
            raise refuse("review.reason_required", "不予通过时必须填写处置方式（告知申请人下一步怎么办）")

    @workflow.update
    async def request_documents(self, cmd: RequestDocumentsCommand) -> DecisionReceipt:
        d = self._decision(
            "request_documents", cmd.actor, documents=[x.strip() for x in cmd.documents], note=cmd.note
        )
        return await self._decide(cmd, cmd.actor, d, "已通知申请人补正材料")

    @request_documents.validator
    def _validate_request_documents(self, cmd: RequestDocumentsCommand) -> None:
        self._check_decision(cmd, cmd.actor)
        if not any(x.strip() for x in cmd.documents):
            raise refuse("review.invalid", "请列明需补正的材料")

    @workflow.update
    async def recheck(self, cmd: RecheckCommand) -> DecisionReceipt:
        d = self._decision("recheck", cmd.actor, note=cmd.note.strip())
        return await self._decide(cmd, cmd.actor, d, "已重新自动核验")

    @recheck.validator
    def _validate_recheck(self, cmd: RecheckCommand) -> None:
        self._check_decision(cmd, cmd.actor)
        rnd = self.state.current_round
        if rnd is None or rnd.report is None or not rnd.report.not_found:
            raise refuse("review.stage", "自动核验没有“未查到记录”的结果，无需重新核验")
        if len(cmd.note.strip()) < 2:
            raise refuse("review.note_required", "要求重新核验时须写明原因")

    # --- the inspector's finding on a flagged claim (the risk desk) ------------------------------------

    def _check_finding(self, cmd: RiskFindingCommand) -> None:
        s = self.state
        self.risk_desk.check_free()
        if s.status != ClaimStatus.RISK_VERIFICATION:
            raise refuse(
                "review.stage", f"该申领当前状态为“{CLAIM_STATUS_LABELS[s.status]}”，不在风险核查阶段"
            )
        self.risk_desk.check_target(cmd, RISK_LEVEL, RISK_LABEL, len(s.rounds))
        self.risk_desk.check_staff(cmd.actor, RISK_LEVEL, RISK_LABEL, Role.RISK_INSPECTOR)
        if len(cmd.finding.strip()) < MIN_FINDING:
            raise refuse("review.note_required", "请写明核查结论及依据")
        if not cmd.evidence:
            raise refuse("review.invalid", "核查结论须附核查证据材料")
        if cmd.outcome == "confirmed" and cmd.action is None:
            raise refuse("review.invalid", "风险属实时须选择处理方式：不予通过或转核查案件")
        if cmd.outcome == "confirmed" and cmd.action == "refuse" and len(cmd.remedy.strip()) < 4:
            raise refuse("review.reason_required", "不予通过时必须填写处置方式（告知申请人下一步怎么办）")

    @workflow.update
    async def record_risk_finding(self, cmd: RiskFindingCommand) -> DecisionReceipt:
        # The validator accepted it; no second check here (``DecisionDesk.submit``).
        f = RiskFinding(
            outcome=cmd.outcome,
            action=cmd.action if cmd.outcome == "confirmed" else None,
            finding=cmd.finding.strip(),
            evidence=list(cmd.evidence),
            remedy=cmd.remedy.strip(),
            by=cmd.actor.login,
            by_name=cmd.actor.name,
            at=workflow.now(),
        )
        await self.risk_desk.answer(self.risk_desk.submit(f, cmd.actor))
        text = "已排除风险，申领转入审核" if cmd.outcome == "cleared" else "风险属实，申领不予通过"
        return self._receipt_now(text)

    @record_risk_finding.validator
    def _validate_risk_finding(self, cmd: RiskFindingCommand) -> None:
        self._check_finding(cmd)

    @workflow.update
    async def set_retirement_category(self, cmd: RetirementCategoryCommand) -> DecisionReceipt:
        """The clerk states the category from the personnel file; the checks go on with it."""
        self._category_cmd = cmd
        await self.audit(
            cmd.actor, "claim.retirement_category", {"category": cmd.category.value, "note": cmd.note}
        )
        self.record(
            "staff",
            cmd.actor.login,
            "category.set",
            f"受理人确定原法定退休年龄类别：{cmd.category.label}（依据：{cmd.note}）",
            category=cmd.category.value,
        )
        return self._receipt_now("已确定退休人员类别，继续自动核验")

    @set_retirement_category.validator
    def _validate_category(self, cmd: RetirementCategoryCommand) -> None:
        if not self._awaiting_category or self._category_cmd is not None:
            raise refuse("review.stage", "该申领当前不需要确定退休人员类别")
        if not cmd.actor.has(Role.INTAKE_CLERK, Role.REVIEWER):
            raise refuse("review.role", "只有窗口受理员或审核员可以确定退休人员类别")
        self.desk.check_region(cmd.actor, LEVEL, "确定退休人员类别")
        if cmd.actor.applicant_key and cmd.actor.applicant_key == self.inp.applicant_key:
            raise refuse("review.own_case", "不能办理与本人有关的申领（回避）")
        if len(cmd.note.strip()) < 2:
            raise refuse("review.note_required", "请写明确定类别的依据")

    @workflow.update
    def assign(self, cmd: AssignCommand) -> DecisionReceipt:
        self.state.assigned_to = cmd.reviewer_login
        self.record("staff", cmd.actor.login, "review.assigned", f"分派给{cmd.reviewer_login}审核")
        return self._receipt_now(f"已分派给{cmd.reviewer_login}")

    @assign.validator
    def _validate_assign(self, cmd: AssignCommand) -> None:
        if self.state.status not in (
            ClaimStatus.UNDER_REVIEW,
            ClaimStatus.RISK_VERIFICATION,
            ClaimStatus.CHECKING,
            ClaimStatus.AWAITING_DOCUMENTS,
        ):
            raise refuse("review.stage", "该申领当前不在审核阶段，不能分派")
        if cmd.actor.has(Role.SUPERVISOR):
            self.desk.check_region(cmd.actor, LEVEL, "分派")
            return
        if cmd.reviewer_login != cmd.actor.login:
            raise refuse("review.role", "只有业务主管可以分派，审核员只能认领给自己")
        self.desk.check_staff(cmd.actor, LEVEL, "认领", Role.REVIEWER)

    @workflow.update
    def reapply(self, ev: ReapplyEvent) -> DecisionReceipt:
        self._reapply = ev
        return self._receipt_now("已收到重新申请，将重新审核")

    @reapply.validator
    def _validate_reapply(self, ev: ReapplyEvent) -> None:
        if self.state.status != ClaimStatus.REJECTED or self._reapply is not None:
            raise refuse("review.stage", "只有未通过且在重新申请期限内的申领可以重新申请")

    @workflow.update
    def supply_documents(self, ev: ReapplyEvent) -> DecisionReceipt:
        self._documents_supplied = ev
        return self._receipt_now("已收到补正材料，审核时限重新计算")

    @supply_documents.validator
    def _validate_supply(self, ev: ReapplyEvent) -> None:
        if self.state.status != ClaimStatus.AWAITING_DOCUMENTS or self._documents_supplied is not None:
            raise refuse("review.stage", "该申领当前不需要补正材料")

    @workflow.signal
    def registration_confirmed(self, ev: RegistrationEvent) -> None:
        if self._registration_event is None:
            self._registration_event = ev

    @workflow.signal
    def stop_reason_changed(self, ev: StopReasonChangedEvent) -> None:
        self._stop_reason_changed = ev


WORKFLOWS = [BenefitClaimWorkflow]
