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

Built on the case kit's "review once, then pay once" piece (``workflows/review_once.py``: the desk,
the round's review with reminder and escalation, the decision's checks and hand-off, the wait for a
re-application, closing, the projection's common fields); one Update ``decide_refund``. An
approval with nothing to refund is refused (``review.invalid``).

Deterministic: time from ``workflow.now()``; everything else through activities."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.premium_refund import PremiumRefundActivities
    from models.case import CaseProjection, DecisionReceipt, local_date
    from models.enums import CaseType, Channel
    from models.notice import NoticeKind, date_zh, month_rows, month_zh
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
    from models.review_once import OnceDecision
    from workflows.base import refuse, timeout_for
    from workflows.review_once import ReviewOnceCase, RoundOutcome

#: The official notices at each step (issue 15); histories recorded before them replay without.
NOTICES_PATCH = "refund-notices"


def _months_text(lines: list[RefundLineView]) -> str:
    return "；".join(f"{m.month.year}年{m.month.month}月{m.refund}元" for m in lines)


@workflow.defn
class PremiumRefundWorkflow(ReviewOnceCase):
    NOUN = "医保费返还申请"
    STAFF_NOUN = "医保费返还申请"
    AUDIT_AREA = "premium_refund"
    AREA = "refund"
    CASE_TYPE = CaseType.PREMIUM_REFUND
    REMIND_TEMPLATE = "premium_refund_deadline_near"
    OVERDUE_TEMPLATE = "premium_refund_overdue"
    STATUS = RefundStatus
    STAGE = RefundStage
    STATUS_LABELS = REFUND_STATUS_LABELS
    REASON_REQUIRED_ZH = "不予返还时必须写明理由和处置方式（将告知申请人）"

    @workflow.init
    def __init__(self, inp: RefundInput) -> None:
        common = self._init_case(inp)
        app = inp.application
        self.state = RefundState(
            **common, basis=app.basis, year=app.year, receipts=[d.sha256 for d in app.receipts]
        )
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
        await self._rounds()
        return RefundResult(
            case_id=self.case_id,
            status=self.state.status,
            close_reason=self.state.close_reason,
            amount=self.state.payment.amount if self.state.payment else None,
            rounds=len(self.state.rounds),
        )

    # --- one round --------------------------------------------------------------------------------------

    async def _round(self) -> RoundOutcome:
        """One application round: ``paid``, ``closed`` or ``rejected``."""
        rnd: RefundRound = await self._open_round(RefundRound)
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
        a = rnd.report.assessment
        d = await self._review(
            rnd,
            window.review_working_days,
            "refund.checked",
            f"核对完成：可返还{a.total}元（{sum(1 for x in a.lines if x.refund > 0)}个月），"
            f"申报与医保记录不一致{a.differences}处；审核时限{rnd.deadline.deadline.isoformat()}",
            total=str(a.total),
            differences=a.differences,
            parameter_version=a.parameter_version,
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

    async def _reject(self, d: OnceDecision) -> None:
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

    def _reapplied(self, r: RefundReapply) -> None:
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

    # --- projection ----------------------------------------------------------------------------------

    def projection(self) -> CaseProjection:
        s = self.state
        rnd = s.current_round
        report = rnd.report if rnd else None
        summary: dict[str, Any] = {
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
        return self._case_projection(summary)

    # --- queries and Updates -------------------------------------------------------------------------

    @workflow.query
    def state_query(self) -> RefundState:
        self.state.blocked = self.blocked
        return self.state

    @workflow.update
    async def decide_refund(self, cmd: RefundDecisionCommand) -> DecisionReceipt:
        return await self._decide(
            cmd, RefundDecision, "已审核通过，将返还至申请人账户", "已作出不予返还决定并告知申请人"
        )

    @decide_refund.validator
    def _validate_decide(self, cmd: RefundDecisionCommand) -> None:
        self._check_decision(cmd)
        rnd = self.state.current_round
        a = rnd.report.assessment if rnd and rnd.report else None
        if cmd.action == "approve" and (a is None or a.total <= 0):
            raise refuse("review.invalid", "核对结果没有可返还的月份，不能审核通过")

    @workflow.update
    def reapply(self, ev: RefundReapply) -> DecisionReceipt:
        return self._take_reapply(ev, "已收到重新申请，将重新核对和审核")

    @reapply.validator
    def _validate_reapply(self, ev: RefundReapply) -> None:
        self._check_reapply()


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
