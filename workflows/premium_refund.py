"""The medical-premium refund (医保费返还, notice item 4; domain.md F) as one workflow per application.

Lifecycle: received (counter with the receipts, or online) → may the person apply now (after the
contribution year ends, or after his benefit period ends; earlier: closed with the date from which
he may) → the checks, each an activity (the failed benefit months from the pay day's records, what
the medical-insurance system holds as self-paid, the month-by-month amounts with the differences
from what he claimed) → review by a reviewer of the region within the working days of
``refund.review_working_days``, with a reminder and an escalation → approve (the ledger takes each
month once, then one payment under ``premium-refund:<case>``) or reject with reason and remedy,
after which a re-application within the window starts a new round, as for the claim. A notice
goes to the person at each step.

Staff decide through the review kit's ``DecisionDesk`` (one level, ``review``; one Update
``decide_refund``). An approval with nothing to refund is refused (``review.invalid``).

Deterministic: time from ``workflow.now()``; everything else through activities."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.premium_refund import PremiumRefundActivities
    from models import search_attributes as sa
    from models.case import CaseProjection, DecisionReceipt, Notification, local_date
    from models.enums import CaseType, Channel, Role
    from models.notice import NoticeKind, NoticeRequest, date_zh, month_rows, month_zh
    from models.premium_refund import (
        BASIS_LABELS,
        REFUND_STATUS_LABELS,
        AssessRefundRequest,
        FailedMonthsQuery,
        LedgerRequest,
        MissingStandardRequest,
        MissingStandardResult,
        PayRefundRequest,
        RefundCheckReport,
        RefundDecision,
        RefundDecisionCommand,
        RefundInput,
        RefundLineView,
        RefundReapply,
        RefundResult,
        RefundRound,
        RefundStage,
        RefundState,
        RefundStatus,
        RefundWindow,
        SelfPaymentsQuery,
        WindowQuery,
        YearEndInput,
        YearEndReport,
        YearEndRequest,
    )
    from policy.identity import mask_resident_id
    from workflows.base import UnblockableCase, refuse, region_path, timeout_for
    from workflows.review_levels import MIN_REASON, DecisionDesk

NOUN = "医保费返还申请"
#: The official notices at each step (issue 15); histories recorded before them replay without.
NOTICES_PATCH = "refund-notices"
LEVEL = "review"
LEVEL_LABEL = "审核"


def _authority(case_region: str, _level: str) -> list[str]:
    return region_path(case_region)


def _months_text(lines: list[RefundLineView]) -> str:
    return "；".join(f"{m.month.year}年{m.month.month}月{m.refund}元" for m in lines)


@workflow.defn
class PremiumRefundWorkflow(UnblockableCase):
    @workflow.init
    def __init__(self, inp: RefundInput) -> None:
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        app = inp.application
        self.region_code = app.region_code
        self.state = RefundState(
            case_id=inp.case_id,
            status=RefundStatus.CHECKING,
            stage=RefundStage.CHECKS,
            region_code=app.region_code,
            channel=inp.channel,
            basis=app.basis,
            year=app.year,
            received_at=inp.received_at,
            applicant_name=app.name,
            applicant_id_masked=mask_resident_id(app.id_number),
            receipts=[d.sha256 for d in app.receipts],
        )
        self.desk: DecisionDesk[RefundDecision] = DecisionDesk(
            case_noun_zh=NOUN,
            case_region=app.region_code,
            applicant_key=inp.applicant_key,
            authority=_authority,
            excluded_logins=(inp.submitted_by,),
        )
        self._reapply: RefundReapply | None = None
        self._claimed = list(app.claimed)

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: RefundInput) -> RefundResult:
        self.state.timeline = self.timeline
        app = inp.application
        # Who took it in is the entry's actor (shown as an identifier), not words in its text.
        how = "网上申请" if inp.channel == Channel.ONLINE else "窗口受理"
        self.record(
            "applicant" if inp.channel == Channel.ONLINE else "staff",
            inp.submitted_by,
            "refund.received",
            f"收到医保费返还申请（{how}，{BASIS_LABELS[app.basis]}申请），缴费凭证{len(app.receipts)}份",
            receipts=self.state.receipts,
        )
        await self.project()
        notice = ""
        if workflow.patched(NOTICES_PATCH):
            notice = await self._notice(NoticeKind.REFUND_RECEIPT, "received", self._receipt_facts())
        await self._tell(
            "premium_refund_received",
            f"{app.name}您好：您的医保费返还申请已收到，我们将与医保系统核对您的个人缴费记录后作出决定。{notice}",
        )
        while True:
            outcome = await self._round()
            if outcome != "rejected":
                break
            if not await self._wait_reapply():
                await self._close("reapply_window_expired", "重新申请期限已过，案件办结")
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RefundResult(
            case_id=self.case_id,
            status=self.state.status,
            close_reason=self.state.close_reason,
            amount=self.state.payment.amount if self.state.payment else None,
            rounds=len(self.state.rounds),
        )

    # --- one round --------------------------------------------------------------------------------------

    async def _round(self) -> str:
        """One application round: ``paid``, ``closed`` or ``rejected``."""
        rnd = RefundRound(n=len(self.state.rounds) + 1, started_at=workflow.now())
        self.state.rounds.append(rnd)
        self.state.status, self.state.stage = RefundStatus.CHECKING, RefundStage.CHECKS
        self.state.overdue = self.state.escalated = False
        await self.project()
        applied_on = local_date(rnd.started_at)
        window = await self.act(
            PremiumRefundActivities.refund_window,
            WindowQuery(
                applicant_key=self.inp.applicant_key,
                basis=self.inp.application.basis,
                year=self.inp.application.year,
                applied_on=applied_on,
            ),
        )
        rnd.report = RefundCheckReport(checked_at=workflow.now(), window=window)
        if not window.open:
            await self._too_early(window)
            return "closed"
        rnd.report.assessment = await self._checks(window)
        rnd.deadline = await self.deadline(
            rnd.started_at, window.reminder_working_days, window.review_working_days
        )
        self.state.status, self.state.stage = RefundStatus.UNDER_REVIEW, RefundStage.REVIEW
        a = rnd.report.assessment
        self.record(
            "system",
            "uiflow",
            "refund.checked",
            f"核对完成：可返还{a.total}元（{sum(1 for x in a.lines if x.refund > 0)}个月），"
            f"申报与医保记录不一致{a.differences}处；审核时限{rnd.deadline.deadline.isoformat()}",
            total=str(a.total),
            differences=a.differences,
            parameter_version=a.parameter_version,
        )
        await self.project()
        await self.wait_with_deadline(
            lambda: self.desk.waiting,
            rnd.deadline,
            reminded=lambda: rnd.reminded_at is not None,
            overdue=lambda: rnd.overdue_at is not None,
            on_reminder=lambda: self._remind(rnd),
            on_overdue=lambda: self._escalate(rnd, window),
        )
        d, actor = self.desk.take()
        rnd.decision = d
        await self.audit(
            actor,
            f"premium_refund.{d.action}",
            {"round": rnd.n, "reason": d.reason, "remedy": d.remedy, "note": d.note},
        )
        if d.action == "reject":
            await self._reject(d)
            self.desk.done()
            return "rejected"
        lines = await self._approve(rnd)
        self.desk.done()
        if not lines:
            await self._close("nothing_to_refund", "可返还月份已由其他申请返还，本申请无需再发放")
            return "closed"
        await self._pay(lines)
        return "paid"

    async def _checks(self, window: RefundWindow) -> Any:
        failed = await self.act(
            PremiumRefundActivities.failed_premium_months,
            FailedMonthsQuery(applicant_key=self.inp.applicant_key, months=window.months),
        )
        asked = sorted({f.month for f in failed} | {c.month for c in self._claimed})
        paid = await self.act(
            PremiumRefundActivities.self_payments,
            SelfPaymentsQuery(id_number=self.inp.application.id_number, months=asked),
        )
        return await self.act(
            PremiumRefundActivities.assess_refund,
            AssessRefundRequest(
                case_id=self.case_id,
                months=window.months,
                failed=failed,
                self_paid=paid,
                claimed=self._claimed,
            ),
        )

    async def _too_early(self, window: RefundWindow) -> None:
        self.state.status, self.state.stage = RefundStatus.CLOSED, RefundStage.CLOSED
        self.state.close_reason = "too_early"
        self.record("system", "uiflow", "refund.too_early", f"尚不能申请：{window.reason_zh}")
        await self.project()
        await self._tell(
            "premium_refund_too_early",
            f"{self.inp.application.name}您好：您的医保费返还申请暂不能受理。{window.reason_zh}。",
        )

    async def _remind(self, rnd: RefundRound) -> None:
        rnd.reminded_at = workflow.now()
        self.record("system", "uiflow", "review.reminder", "审核时限即将届满，已提醒审核员")
        await self.notify_staff(
            Role.REVIEWER.value,
            self.region_code,
            "premium_refund_deadline_near",
            f"医保费返还申请{self.case_id}即将到期，请尽快审核。",
        )

    async def _escalate(self, rnd: RefundRound, window: RefundWindow) -> None:
        rnd.overdue_at = workflow.now()
        self.state.overdue = self.state.escalated = True
        self.record(
            "system",
            "uiflow",
            "review.escalated",
            f"已超过{window.review_working_days}个工作日审核时限，已报告业务主管",
        )
        await self.project()
        await self.notify_staff(
            Role.SUPERVISOR.value,
            self.region_code,
            "premium_refund_overdue",
            f"医保费返还申请{self.case_id}已超过审核时限。",
        )

    async def _approve(self, rnd: RefundRound) -> list[RefundLineView]:
        assert rnd.report is not None and rnd.report.assessment is not None and rnd.decision is not None
        kept = await self.act(
            PremiumRefundActivities.record_refund,
            LedgerRequest(
                case_id=self.case_id,
                applicant_key=self.inp.applicant_key,
                region_code=self.region_code,
                lines=rnd.report.assessment.lines,
            ),
        )
        self.state.ledger = kept
        total = sum((x.refund for x in kept), Decimal("0"))
        self.state.status, self.state.stage = RefundStatus.APPROVED, RefundStage.PAYING
        self.record(
            "staff",
            rnd.decision.by,
            "review.approved",
            f"审核通过，核定返还{total}元：{_months_text(kept)}",
            amount=str(total),
        )
        await self.project()
        return kept

    async def _pay(self, lines: list[RefundLineView]) -> None:
        app = self.inp.application
        total = sum((x.refund for x in lines), Decimal("0"))
        paid = await self.act(
            PremiumRefundActivities.pay_refund,
            PayRefundRequest(
                case_id=self.case_id, amount=total, account_no=app.bank_account, account_name=app.name
            ),
        )
        paid.months = lines
        self.state.payment = paid
        self.state.status, self.state.stage = RefundStatus.PAID, RefundStage.PAID
        self.record(
            "external", "bank", "refund.paid", f"医保费返还{paid.amount}元已发放", bank_ref=paid.bank_ref
        )
        await self.project()
        notice = ""
        if workflow.patched(NOTICES_PATCH):
            notice = await self._notice(
                NoticeKind.REFUND_APPROVED,
                f"r{len(self.state.rounds)}:paid",
                {"amount": str(paid.amount)},
                month_rows((x.month, x.refund) for x in lines),
            )
        await self._tell(
            "premium_refund_paid",
            f"{app.name}您好：您申请的医保费返还共{paid.amount}元已发放至尾号{app.bank_account[-4:]}的银行账户，"
            f"其中{_months_text(lines)}（每月按您实际缴纳金额与当地代缴标准中较低者返还）。{notice}",
        )

    async def _reject(self, d: RefundDecision) -> None:
        self.state.status, self.state.stage = RefundStatus.REJECTED, RefundStage.AWAITING_REAPPLICATION
        self.record("staff", d.by, "review.rejected", f"审核不通过：{d.reason}。处置方式：{d.remedy}")
        await self.project()
        notice = ""
        if workflow.patched(NOTICES_PATCH):
            notice = await self._notice(
                NoticeKind.REFUND_NOT_APPROVED,
                f"r{len(self.state.rounds)}:rejected",
                {
                    "reason": d.reason,
                    "remedy": d.remedy,
                    "reapply_days": str(self.inp.timings.reapply_window_days),
                },
            )
        await self._tell(
            "premium_refund_rejected",
            f"{self.inp.application.name}您好：您的医保费返还申请未通过审核。原因：{d.reason}。{d.remedy}"
            f"如补齐材料，可在{self.inp.timings.reapply_window_days}日内重新申请。{notice}",
        )

    async def _wait_reapply(self) -> bool:
        try:
            await workflow.wait_condition(
                lambda: self._reapply is not None,
                timeout=timedelta(days=self.inp.timings.reapply_window_days),
            )
        except TimeoutError:
            return False
        r = self._reapply
        assert r is not None
        self._reapply = None
        if r.claimed is not None:
            self._claimed = list(r.claimed)
        self.state.receipts.extend(d.sha256 for d in r.receipts)
        self.record(
            "applicant" if r.by == "applicant" else "staff",
            r.by,
            "refund.reapplied",
            "重新提出申请" + (f"：{r.note}" if r.note else ""),
            receipts=[d.sha256 for d in r.receipts],
        )
        return True

    async def _tell(self, template: str, text_zh: str) -> None:
        await self.notify(
            Notification(
                case_id=self.case_id,
                audience="applicant",
                phone=self.inp.application.phone,
                template=template,
                text_zh=text_zh,
            )
        )

    async def _close(self, reason: str, text_zh: str) -> None:
        self.state.status, self.state.stage = RefundStatus.CLOSED, RefundStage.CLOSED
        self.state.close_reason = reason
        self.record("system", "uiflow", "refund.closed", text_zh, reason=reason)
        await self.project()

    # --- official notices (受理回执, 不予返还决定书, 返还决定书), behind NOTICES_PATCH -----------------

    def _receipt_facts(self) -> dict[str, str]:
        app = self.inp.application
        basis = BASIS_LABELS[app.basis] + (f"，{app.year}年度" if app.year else "")
        return {
            "received_on": date_zh(local_date(self.inp.received_at)),
            "channel": "网上办事大厅" if self.inp.channel == Channel.ONLINE else "服务窗口",
            "basis": f"{basis}申请",
            "months": "、".join(f"{month_zh(c.month)}{c.amount}元" for c in self._claimed),
            "receipts": str(len(app.receipts)),
        }

    async def _notice(
        self, kind: NoticeKind, key: str, facts: dict[str, str], rows: list[Any] | None = None
    ) -> str:
        """Issue the step's notice; returns the sentence the message to the person ends with."""
        issued = await self.issue_notice(
            NoticeRequest(
                case_id=self.case_id,
                issue_key=key,
                kind=kind,
                region_code=self.region_code,
                issued_at=workflow.now(),
                person_name=self.inp.application.name,
                person_id_masked=self.state.applicant_id_masked,
                facts={"applied_on": date_zh(local_date(self.state.received_at))} | facts,
                rows=rows or [],
            )
        )
        return issued.sms_zh()

    def _receipt(self, message_zh: str) -> DecisionReceipt:
        return DecisionReceipt(
            case_id=self.case_id,
            status=self.state.status.value,
            stage=self.state.stage,
            round=len(self.state.rounds),
            message_zh=message_zh,
        )

    # --- projection ----------------------------------------------------------------------------------

    def projection(self) -> CaseProjection:
        s = self.state
        rnd = s.current_round
        report = rnd.report if rnd else None
        terminal = s.status in (RefundStatus.PAID, RefundStatus.CLOSED)
        summary: dict[str, Any] = {
            "status_label": REFUND_STATUS_LABELS[s.status],
            "basis": s.basis,
            "year": s.year,
            "receipts": len(s.receipts),
        }
        if report is not None and not report.window.open:
            summary["apply_from"] = report.window.apply_from.isoformat() if report.window.apply_from else None
        if report is not None and report.assessment is not None:
            a = report.assessment
            summary.update(
                total=str(a.total),
                differences=a.differences,
                lines=[
                    {
                        "month": str(x.month),
                        "claimed": str(x.claimed) if x.claimed is not None else None,
                        "recorded": str(x.recorded) if x.recorded is not None else None,
                        "standard": str(x.standard) if x.standard is not None else None,
                        "refund": str(x.refund),
                        "note": x.note_zh,
                    }
                    for x in a.lines
                ],
            )
        if s.payment is not None:
            summary["paid_amount"] = str(s.payment.amount)
        if s.close_reason:
            summary["close_reason"] = s.close_reason
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.PREMIUM_REFUND,
            status=s.status.value,
            stage=s.stage,
            region_code=s.region_code,
            applicant_key=self.inp.applicant_key,
            applicant_name=s.applicant_name,
            applicant_id_masked=s.applicant_id_masked,
            channel=s.channel.value,
            received_at=s.received_at,
            deadline=rnd.deadline.deadline
            if rnd and rnd.deadline and s.status == RefundStatus.UNDER_REVIEW
            else None,
            overdue=s.overdue,
            escalated=s.escalated,
            rounds=len(s.rounds),
            summary=summary,
            decided_at=rnd.decision.at if rnd and rnd.decision else None,
            closed_at=workflow.now() if terminal else None,
            version=0,
        )

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        rnd = self.state.current_round
        if rnd and rnd.deadline and self.state.status == RefundStatus.UNDER_REVIEW:
            return [sa.DEADLINE.value_set(rnd.deadline.deadline_at)]
        return []

    # --- queries and Updates -------------------------------------------------------------------------

    @workflow.query
    def state_query(self) -> RefundState:
        self.state.blocked = self.blocked
        return self.state

    def _check_decision(self, cmd: RefundDecisionCommand) -> None:
        s = self.state
        if s.status in (RefundStatus.APPROVED, RefundStatus.PAID):
            raise refuse("review.decided", "该医保费返还申请已审核通过，不能再作审核决定")
        if s.status == RefundStatus.CLOSED:
            raise refuse("review.closed", "该医保费返还申请已办结，不能再作审核决定")
        if s.status != RefundStatus.UNDER_REVIEW:
            raise refuse(
                "review.stage", f"该申请当前状态为“{REFUND_STATUS_LABELS[s.status]}”，不能作出审核决定"
            )
        self.desk.check_free()
        self.desk.check_target(cmd, LEVEL, LEVEL_LABEL, len(s.rounds))
        self.desk.check_staff(cmd.actor, LEVEL, "审核决定", Role.REVIEWER)

    @workflow.update
    async def decide_refund(self, cmd: RefundDecisionCommand) -> DecisionReceipt:
        """Checked by the validator only (a check here can refuse an accepted decision on replay:
        ``DecisionDesk.submit``), and answered on acceptance like every decision (issue 19)."""
        d = RefundDecision(
            action=cmd.action,
            by=cmd.actor.login,
            at=workflow.now(),
            reason=cmd.reason.strip(),
            remedy=cmd.remedy.strip(),
            note=cmd.note,
        )
        await self.desk.answer(self.desk.submit(d, cmd.actor))
        return self._receipt(
            "已审核通过，将返还至申请人账户" if cmd.action == "approve" else "已作出不予返还决定并告知申请人"
        )

    @decide_refund.validator
    def _validate_decide(self, cmd: RefundDecisionCommand) -> None:
        self._check_decision(cmd)
        rnd = self.state.current_round
        a = rnd.report.assessment if rnd and rnd.report else None
        if cmd.action == "approve" and (a is None or a.total <= 0):
            raise refuse("review.invalid", "核对结果没有可返还的月份，不能审核通过")
        if cmd.action == "reject" and (
            len(cmd.reason.strip()) < MIN_REASON or len(cmd.remedy.strip()) < MIN_REASON
        ):
            raise refuse("review.reason_required", "不予返还时必须写明理由和处置方式（将告知申请人）")

    @workflow.update
    def reapply(self, ev: RefundReapply) -> DecisionReceipt:
        self._reapply = ev
        return self._receipt("已收到重新申请，将重新核对和审核")

    @reapply.validator
    def _validate_reapply(self, ev: RefundReapply) -> None:
        if self.state.status != RefundStatus.REJECTED or self._reapply is not None:
            raise refuse("review.stage", "只有未通过且在重新申请期限内的申请可以重新申请")


@workflow.defn
class PremiumRefundYearEndWorkflow:
    """The year-end run (started by the Schedule ``uiflow-refund-year-end`` after each contribution
    year end): everyone with refundable failed months in the year that ended is told what he may
    claim, where, with what and until when; the result is the supervisors' report by district."""

    @workflow.run
    async def run(self, inp: YearEndInput) -> YearEndReport:
        return await workflow.execute_activity_method(
            PremiumRefundActivities.year_end_run,
            YearEndRequest(year=inp.year, as_of=local_date(workflow.now())),
            start_to_close_timeout=timeout_for(PremiumRefundActivities.year_end_run),
            heartbeat_timeout=timedelta(minutes=2),
        )


@workflow.defn
class MissingStandardWorkflow:
    """Started when an operator enters the medical standard: the months that failed as "standard
    missing" are paid on the person's behalf once each (the key they would have had), as far back
    as the medical system accepts, and each person is told."""

    @workflow.run
    async def run(self, inp: MissingStandardRequest) -> MissingStandardResult:
        return await workflow.execute_activity_method(
            PremiumRefundActivities.pay_missing_standard,
            inp,
            start_to_close_timeout=timeout_for(PremiumRefundActivities.pay_missing_standard),
            heartbeat_timeout=timedelta(minutes=2),
        )


WORKFLOWS = [PremiumRefundWorkflow, PremiumRefundYearEndWorkflow, MissingStandardWorkflow]
