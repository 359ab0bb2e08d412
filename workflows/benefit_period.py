"""The benefit period (失业保险金按月发放): from approval to the last month, one durable workflow
per approved claim that runs for two years and more.

The months are data: a schedule from the entitlement, written to the database as payment schedule
rows (amount, due pay day, state) when the period starts and whenever it changes. The region's
pay-day run (``workflows.payday``) pays the rows due on its pay day in bulk; the period is not on
that path (docs/payments.md §0). It sleeps until its last month's pay day, reads the ledger for its
payments and premiums, and then applies the near-retirement rules: 续发 to retirement, the
transitional offer (paid on application), or close with the totals, keeping the unused months in
the read model for a later claim.

Events change the schedule between two turns of the loop: a stop from another system (a Signal)
or from staff (an Update with a validator) stops payments and premiums from the right month; a
suspension holds the months and moves the unpaid ones on when lifted, so none is lost; a refused
account holds payment until staff enter a new one. Each change is written at once (a stop that
races the bank is caught by the row lock or opens a recovery task). The workflow continues-as-new
when the server suggests it, carrying its whole state; the keys make nothing payable twice."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.claim import ClaimActivities, LinkDocuments
    from activities.payday import PaydayActivities
    from activities.payments import STANDARD_MISSING, PaymentActivities
    from activities.period_ops import PeriodOpsActivities
    from models import search_attributes as sa
    from models.benefit import (
        PERIOD_STATUS_LABELS,
        AccountChangeCommand,
        AccountHolderCheck,
        AccountHolderResult,
        BenefitPeriodInput,
        ContinuationApplication,
        MonthBasis,
        MonthPayment,
        MoveScheduleRequest,
        NearRetirementRequest,
        NearRetirementView,
        PeriodCarry,
        PeriodReceipt,
        PeriodResult,
        PeriodState,
        PeriodStatus,
        PremiumRecord,
        ResumeEvent,
        ScheduledMonth,
        StaffResumeCommand,
        StaffStopCommand,
        StaffSuspendCommand,
        StopEvent,
        StopReason,
        StopRecord,
        SuspendEvent,
        Suspension,
        TransferCommand,
        TransferRecord,
        TransitionalApplication,
        mask_account,
    )
    from models.case import BUSINESS_TZ, CaseProjection, Notification, UnblockCommand, local_date
    from models.enums import CaseType, Role
    from models.notice import NoticeKind, NoticeRequest, date_zh
    from models.payday import PeriodLedger, ScheduleMonth, SyncResult, SyncScheduleRequest
    from models.person import DocumentRef
    from models.rules import NearRetirementOutcome, YearMonth
    from models.staff import StaffActor
    from policy import period_stops
    from policy.identity import mask_resident_id
    from policy.money import format_amount
    from policy.regions import RegionError, full_name, get_region
    from workflows.base import CaseWorkflowBase, refuse, region_path, timeout_for
    from workflows.review_levels import DecisionDesk

CONTINUATION = NearRetirementOutcome.CONTINUE_TO_RETIREMENT
TRANSITIONAL = NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
# Patch id: staff operations on the review kit (evidence linked, the bank's holder-name check of
# a new account, the person told of an account change or an accepted application).
STAFF_KIT = "period-staff-kit"
MIN_STAFF_REASON = 2
# A staff operation's own steps: a few tries, then the operation is refused (the staff member
# retries), never the blocked path (it would hold the Update open until operations step in).
STAFF_RETRY = RetryPolicy(
    maximum_attempts=3, non_retryable_error_types=["DocumentMismatch", "document.other_case"]
)


def _staff_authority(case_region: str, _level: str) -> list[str]:
    """Staff of the period's district and of the league and region above it act on it."""
    return region_path(case_region)


def stop_effective_from(reason: StopReason, on: date) -> YearMonth:
    """The first month no longer paid. A pension is paid for the month it starts, so benefit stops
    that month (no month is paid from two funds); for every other reason the person was out of
    work for part of the event's month, which is still paid, and payment stops from the next.
    The month rule is local practice, UNCONFIRMED (domain.md A5 gives none). It lives in
    ``policy/period_stops.py``, where the outside-event path and the re-check read it too."""
    return period_stops.stop_effective_from(reason, on)


def ym_zh(m: YearMonth) -> str:
    return f"{m.year}年{m.month:02d}月"


@workflow.defn
class BenefitPeriodWorkflow(CaseWorkflowBase):
    @workflow.init
    def __init__(self, inp: BenefitPeriodInput) -> None:
        self._init_base()
        self.inp = inp
        self.t = inp.timings
        self.person = inp.person
        self.case_id = inp.case_id
        self.region_code = inp.region_code
        # Staff operations (below) are checked and held busy by one desk, against the period's
        # current district (a transfer moves it).
        self.desk: DecisionDesk[None] = DecisionDesk(
            case_noun_zh="发放案件",
            case_region=inp.region_code,
            applicant_key=inp.applicant_key,
            authority=_staff_authority,
            area="period",
        )
        self._stops_to_tell: list[tuple[StopRecord, str]] = []  # told once their rows are written
        if inp.carry is not None:
            self.state = inp.carry.state
            self._version = inp.carry.projection_version
            self.timeline = self.state.timeline
        else:
            self.state = PeriodState(
                case_id=inp.case_id,
                claim_case_id=inp.claim_case_id,
                region_code=inp.region_code,
                applicant_name=inp.person.name,
                applicant_id_masked=mask_resident_id(inp.person.id_number),
                account_masked=mask_account(inp.person.account_no),
                schedule=[
                    ScheduledMonth(
                        month_index=m.month_index,
                        pay_month=m.pay_month,
                        basis=inp.imported.basis(m.month_index) if inp.imported else "ordinary",
                    )
                    for m in sorted(inp.entitlement.schedule, key=lambda x: x.month_index)
                ],
            )
            self.state.timeline = self.timeline
            if inp.imported is not None:
                # A legacy recipient: an extension granted there is not assessed again here.
                self.state.near_retirement = inp.imported.near_retirement
                if inp.imported.continuation == "transitional":
                    self.state.extension_applied_at = inp.approved_at
        # The account version whose payee row is written (a carried run wrote it already).
        self._synced_account = self.state.account_version if inp.carry is not None else 0
        self._recheck_at: datetime | None = None
        self._projected_deadline: date | None = None

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: BenefitPeriodInput) -> PeriodResult:
        ent = inp.entitlement
        if inp.carry is None and inp.imported is not None:
            self._record_imported(inp)
            await self._sync(with_person=True)
        elif inp.carry is None:
            self.record(
                "system",
                "uiflow",
                "period.started",
                f"失业保险金按月发放开始：核定{ent.max_months}个月（{ent.first_month}至{ent.last_month}），"
                f"每月{self.t.pay_day}日发放（遇节假日顺延），同时代缴职工医疗保险费",
                claim=inp.claim_case_id,
                parameter_version=ent.parameter_version,
            )
            await self._sync(with_person=True)
        else:
            self.record(
                "system",
                "uiflow",
                "period.continued",
                f"发放记录续接（第{self.state.run}段），已发放{self.state.months_paid}个月",
            )
        await self.project()
        while self.state.status != PeriodStatus.CLOSED:
            await self._step()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PeriodResult(
            case_id=self.case_id,
            status=self.state.status,
            close_reason=self.state.close_reason,
            months_paid=self.state.months_paid,
            total_paid=self.state.total_paid,
            unused_months=self.state.unused_months,
            extension=self._extension(),
        )

    def _record_imported(self, inp: BenefitPeriodInput) -> None:
        imp = inp.imported
        assert imp is not None
        left = [m for m in self.state.schedule if m.status == "scheduled"]
        extensions = {"continuation": "（已核定续发）", "transitional": "（已申请过渡期发放）"}
        ext = extensions.get(imp.continuation, "")
        self.record(
            "system",
            "uiflow",
            "period.imported",
            f"原系统领金人员转入按月发放：核定{imp.ordinary_months}个月{ext}，原系统已发放{imp.months_paid}个月"
            f"（合计{format_amount(imp.total_paid)}元）"
            + (f"，自{ym_zh(left[0].pay_month)}起在本系统发放{len(left)}个月" if left else ""),
            source_sha256=imp.source_sha256,
            line=imp.line,
            months_paid=imp.months_paid,
            continuation=imp.continuation,
        )

    async def _step(self) -> None:
        """One turn of the loop. The period is not on the pay day's path: its months are rows the
        region's pay-day run pays; the period writes them when they change and reads the ledger
        when its last month is due (and before it applies an event)."""
        s = self.state
        if self._pending():
            await self._refresh()
            await self._apply_pending()
            await self._raced(await self._sync())
            await self._tell_stopped()
            return
        if self._account_changed():
            await self._sync(with_person=True, reschedule_rejected=True)
            if s.rejected_account_version is not None:
                s.rejected_account_version = None
                self._recheck_at = workflow.now() + timedelta(days=1)
            return
        if s.open_suspensions:
            await self._status(PeriodStatus.SUSPENDED, "suspended")
            await workflow.wait_condition(self._pending)
            return
        if s.rejected_account_version is not None:
            await self._status(PeriodStatus.AWAITING_ACCOUNT, "awaiting_account")
            await workflow.wait_condition(lambda: self._pending() or self._account_changed())
            return
        if self._next_scheduled() is None:
            await self._at_end()
            return
        await self._status(PeriodStatus.ACTIVE, "scheduled")
        wait = self._wake_at() - workflow.now()
        if wait > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._pending() or self._account_changed(), timeout=wait
                )
            if self._pending() or self._account_changed():
                return
        ledger = await self._refresh()
        if ledger.rejected and s.rejected_account_version is None:
            await self._account_rejected(ledger.rejected)
            return
        if self._next_scheduled() is not None:
            # Not all paid yet (a run still going, an item failing): look again tomorrow.
            self._recheck_at = workflow.now() + timedelta(days=1)
        if workflow.info().is_continue_as_new_suggested():
            await self._continue_as_new()

    # --- the schedule --------------------------------------------------------------------------------

    def _today(self) -> date:
        return local_date(workflow.now())

    def _next_scheduled(self) -> ScheduledMonth | None:
        return next((m for m in self.state.schedule if m.status == "scheduled"), None)

    def _account_changed(self) -> bool:
        return self._synced_account != self.state.account_version

    def _wake_at(self) -> datetime:
        """The day after the last open month's pay day, at the pay hour: by then the region's run
        has paid it (a check the next day otherwise)."""
        due = [m.pay_date or self._today() for m in self.state.schedule if m.status == "scheduled"]
        at = datetime.combine(max(due) + timedelta(days=1), time(self.t.pay_hour), BUSINESS_TZ)
        if self._recheck_at is not None:
            at = max(at, self._recheck_at)
        return at

    async def _sync(self, *, with_person: bool = False, reschedule_rejected: bool = False) -> SyncResult:
        """Write the schedule rows (start, stop, suspension, resumption, extension, account)."""
        s = self.state
        held = bool(s.open_suspensions)
        res = await self.act(
            PaydayActivities.sync_schedule,
            SyncScheduleRequest(
                case_id=self.case_id,
                region_code=self.region_code,
                applicant_key=self.inp.applicant_key,
                pay_day=self.t.pay_day,
                months=[
                    ScheduleMonth(
                        month_index=m.month_index,
                        pay_month=m.pay_month,
                        basis=m.basis,
                        want="stopped" if m.status == "stopped" else ("held" if held else "scheduled"),
                    )
                    for m in s.schedule
                ],
                person=self.person if with_person else None,
                reschedule_rejected=reschedule_rejected,
            ),
        )
        if with_person:
            self._synced_account = s.account_version
        for m in s.schedule:
            due = res.due.get(str(m.pay_month))
            if due is not None and m.status == "scheduled":
                m.pay_date = due
        return res

    async def _refresh(self) -> PeriodLedger:
        """Take what the ledger says into the state: months paid (with the bank's reference and
        the run that paid them) and the premiums paid or refused on the person's behalf."""
        ledger = await self.act(PaydayActivities.period_ledger, self.case_id)
        s = self.state
        known = {p.pay_month for p in s.payments}
        new = [p for p in ledger.paid if p.pay_month not in known]
        for p in new:
            for m in s.schedule:
                if m.pay_month == p.pay_month:
                    m.status = "paid"
            s.payments.append(
                MonthPayment(
                    month_index=p.month_index,
                    pay_month=p.pay_month,
                    basis=p.basis,  # type: ignore[arg-type]
                    amount=p.amount,
                    rate=Decimal("0"),
                    base=Decimal("0"),
                    parameter_version="",
                    order_key=p.order_key,
                    bank_ref=p.bank_ref,
                    paid_at=p.paid_at,
                    batch_id=p.payday_id,
                )
            )
        s.payments.sort(key=lambda p: p.pay_month)
        if new:
            total = sum((p.amount for p in new), Decimal("0"))
            self.record(
                "external",
                "bank",
                "payments.reconciled",
                f"发放日批量代发：已发放{'、'.join(ym_zh(p.pay_month) for p in new)}失业保险金，"
                f"合计{format_amount(total)}元",
                months=[str(p.pay_month) for p in new],
                paydays=sorted({p.payday_id or "" for p in new}),
            )
        known_premiums = {p.month for p in s.premiums}
        for rec in ledger.premiums:
            if rec.month not in known_premiums:
                await self._premium(rec)
        if new:
            await self.project()
        return ledger

    async def _raced(self, res: SyncResult) -> None:
        """Months a stop or suspension came too late for: paid meanwhile (a recovery task is open)
        or at the bank now (the pay-day run opens one if the bank pays)."""
        told = {m for x in self.state.stops for m in x.overpaid_months}
        late = [m for m in res.recovered if m not in told]
        if res.at_bank:
            self.record(
                "system",
                "uiflow",
                "payment.stop_raced_bank",
                f"{'、'.join(ym_zh(m) for m in res.at_bank)}的发放在登记时已提交银行："
                "如银行已付款，将生成追回任务",
                months=[str(m) for m in res.at_bank],
            )
        if late:
            self.record(
                "system",
                "uiflow",
                "payment.recovery_opened",
                f"{'、'.join(ym_zh(m) for m in late)}已在登记前发放，已生成追回任务",
                months=[str(m) for m in late],
            )
            await self.notify_staff(
                Role.SUPERVISOR.value,
                self.region_code,
                "overpayment_recovery",
                f"发放案件{self.case_id}：{'、'.join(str(m) for m in late)}"
                "在停发（或暂停）登记前已发放，请核实并办理追回。",
            )

    async def _account_rejected(self, months: list[YearMonth]) -> None:
        s = self.state
        s.rejected_account_version = s.account_version
        s.status, s.stage = PeriodStatus.AWAITING_ACCOUNT, "awaiting_account"
        self.record(
            "external",
            "bank",
            "payment.account_rejected",
            f"{'、'.join(ym_zh(m) for m in months)}失业保险金被银行退回（收款账户无效）。"
            "已暂停发放，待变更收款账户",
            account=s.account_masked,
        )
        await self.project()

    async def _premium(self, rec: PremiumRecord) -> None:
        """A month's medical premium on the person's behalf (notice item 4), as the pay-day run
        recorded it. A failure is told to the person, once per reason."""
        month = rec.month
        previous = self.state.premiums[-1] if self.state.premiums else None
        self.state.premiums.append(rec)
        if rec.status == "paid":
            missing = "（大额补充医疗保险代缴标准尚未录入，该项未代缴）" if rec.missing_items else ""
            self.record(
                "external",
                "medical",
                "premium.paid",
                f"已代缴{ym_zh(month)}职工医疗保险费{format_amount(rec.total)}元{missing}",
                payment_no=rec.payment_no,
                missing=rec.missing_items,
            )
            return
        self.record(
            "external",
            "medical",
            "premium.failed",
            f"{ym_zh(month)}医疗保险费未能代缴：{rec.reason_zh}",
            reason_code=rec.reason_code,
        )
        if previous is not None and previous.status == "failed" and previous.reason_code == rec.reason_code:
            return  # already told, for the same reason
        if rec.reason_code == STANDARD_MISSING:
            await self.notify_staff(
                Role.SUPERVISOR.value,
                self.region_code,
                "premium_standard_missing",
                f"发放案件{self.case_id}：{ym_zh(month)}职工医疗保险代缴标准尚未录入，未能代缴。请通知运维人员录入参数。",
            )
            return
        await self._tell_person(
            "premium_failed",
            f"{self.person.name}您好：您领取失业保险金期间的职工基本医疗保险（含生育保险）和大额补充医疗保险"
            f"应由失业保险基金代缴，但自{ym_zh(month)}起未能代缴，原因：{rec.reason_zh}。"
            "您在领金期间以个人身份缴纳的职工医疗保险费，可在医保缴费年度结束后或领金期满后，"
            "持缴费凭证到经办窗口申请返还，返还金额不超过当地代缴标准。",
        )

    # --- events ----------------------------------------------------------------------------------------

    def _pending(self) -> bool:
        s = self.state
        return bool(s.pending_stops or s.pending_suspensions or s.pending_resumptions)

    async def _apply_pending(self) -> None:
        s = self.state
        while s.pending_stops:
            await self._apply_stop(s.pending_stops.pop(0))
        while s.pending_suspensions:
            await self._apply_suspension(s.pending_suspensions.pop(0))
        while s.pending_resumptions:
            await self._apply_resumption(s.pending_resumptions.pop(0))

    async def _apply_stop(self, rec: StopRecord) -> None:
        s = self.state
        eff = rec.effective_from
        for m in s.schedule:
            if m.status == "scheduled" and m.pay_month >= eff:
                m.status = "stopped"
        rec.overpaid_months = [p.pay_month for p in s.payments if p.pay_month >= eff]
        rec.unused_months = s.unused_months
        s.stops.append(rec)
        text = (
            f"{rec.label}（{rec.on.isoformat()}）：自{ym_zh(eff)}起停止发放失业保险金和代缴医疗保险费"
            f"（{rec.legal_basis}）"
        )
        if rec.unused_months:
            text += f"；尚有{rec.unused_months}个月未领取，再次失业时可合并计算"
        if rec.overpaid_months:
            text += f"；已多发{len(rec.overpaid_months)}个月，需核实追回"
        self.record(
            "staff" if rec.by_staff else "external",
            rec.source,
            "period.stopped",
            text,
            reason=rec.reason.value,
            effective_from=str(eff),
            unused_months=rec.unused_months,
            overpaid=[str(x) for x in rec.overpaid_months],
            reference=rec.reference,
        )
        await self.project()
        if rec.reason is StopReason.DEATH:
            await self.notify_staff(
                Role.REVIEWER.value,
                self.region_code,
                "survivors_grant",
                f"领金人员（发放案件{self.case_id}）已于{rec.on.isoformat()}死亡，失业保险金自{ym_zh(eff)}起停发。"
                "请告知其遗属申领丧葬补助金和抚恤金（社会保险法第四十九条）；如同时符合基本养老保险或工伤保险"
                "丧葬补助金条件，只能选择其一。",
            )
        else:
            carry = (
                f"尚未领取的{rec.unused_months}个月，再次失业时可与新核定的期限合并计算（最长24个月）。"
                if rec.unused_months and rec.reason is StopReason.REEMPLOYED
                else ""
            )
            if workflow.patched("period-notices"):
                # 停发通知书 with the remedies (an adverse decision), told after the stop's rows are
                # written (``_tell_stopped``): rendering the notice takes seconds, and a stop
                # registered just before a pay day's cut-off must reach the rows first.
                self._stops_to_tell.append((rec, carry))
            else:
                await self._tell_person("period_stopped", self._stopped_text(rec, carry))
        if rec.overpaid_months:
            await self.notify_staff(
                Role.SUPERVISOR.value,
                self.region_code,
                "overpayment_recovery",
                f"发放案件{self.case_id}：停发月份（{ym_zh(eff)}）后已发放{len(rec.overpaid_months)}个月"
                f"（{'、'.join(str(x) for x in rec.overpaid_months)}），请核实并办理追回。",
            )

    async def _apply_suspension(self, sus: Suspension) -> None:
        s = self.state
        if any(x.ref == sus.ref and x.lifted_on is None for x in s.suspensions):
            return
        s.suspensions.append(sus)
        s.status, s.stage = PeriodStatus.SUSPENDED, "suspended"
        self.record(
            "staff" if sus.source.startswith("staff:") else "external",
            sus.source.removeprefix("staff:"),
            "period.suspended",
            f"暂停发放：{sus.reason_zh}。暂停期间的月份顺延发放，领取期限不减少",
            ref=sus.ref,
        )
        await self.project()
        await self._tell_person(
            "period_suspended",
            f"{self.person.name}您好：因{sus.reason_zh}，您的失业保险金暂停发放，核实后恢复；"
            "暂停期间的月份将顺延发放，领取期限不会减少。",
        )

    async def _apply_resumption(self, ev: ResumeEvent) -> None:
        s = self.state
        lifted = [x for x in s.suspensions if x.ref == ev.ref and x.lifted_on is None]
        if not lifted:
            return
        for x in lifted:
            x.lifted_on, x.lifted_by = ev.on, ev.by or None
        if s.open_suspensions:
            self.record(
                "system",
                "uiflow",
                "period.suspension_lifted",
                f"解除一项暂停（{ev.ref}），仍有其他暂停未解除",
            )
            await self.project()
            return
        moved = self._move_schedule(YearMonth.of(ev.on))
        for x in lifted:
            x.months_moved = moved
        s.status, s.stage = PeriodStatus.ACTIVE, "scheduled"
        nxt = self._next_scheduled()
        self.record(
            "staff" if ev.by else "system",
            ev.by or "uiflow",
            "period.resumed",
            "恢复发放"
            + (f"，暂停期间未发的月份顺延{moved}个月" if moved else "")
            + (f"，下次发放{ym_zh(nxt.pay_month)}" if nxt else ""),
            ref=ev.ref,
            months_moved=moved,
        )
        await self.project()
        await self._tell_person(
            "period_resumed",
            f"{self.person.name}您好：您的失业保险金已恢复发放"
            + (f"，暂停期间的月份顺延至{ym_zh(s.schedule[-1].pay_month)}" if moved else "")
            + "。",
        )

    def _move_schedule(self, resume: YearMonth) -> int:
        """Move every unpaid month on by the months the suspension held, keeping their order and
        their benefit-month numbers (so the rates are unchanged): no month is lost."""
        pending = [m for m in self.state.schedule if m.status == "scheduled"]
        if not pending or pending[0].pay_month >= resume:
            return 0
        shift = resume - pending[0].pay_month
        for m in pending:
            m.moved_from = m.moved_from or m.pay_month
            m.pay_month = m.pay_month + shift
            m.pay_date = None
        return shift

    # --- expiry (notice item 3; domain.md C6) ---------------------------------------------------------

    async def _at_end(self) -> None:
        s = self.state
        if s.stops:
            stop = s.stops[0]
            await self._close(stop.reason.value, f"因{stop.label}停止发放，案件办结")
            return
        nr = s.near_retirement
        if nr is None:
            nr = await self._assess_near_retirement()
            if nr.outcome is CONTINUATION and nr.pay_through is not None:
                self._extend(nr.pay_through, "continuation")
                await self._sync()
                self.record(
                    "system",
                    "uiflow",
                    "period.continuation",
                    f"核定期限{ym_zh(nr.expiry)}期满，距法定退休年龄（{ym_zh(nr.retirement_month)}）不足1年，"
                    f"续发失业保险金至{ym_zh(nr.pay_through)}（无需申请）",
                    pay_through=str(nr.pay_through),
                )
                await self.project()
                await self._tell_person(
                    "continuation",
                    f"{self.person.name}您好：您的失业保险金核定期限已于{ym_zh(nr.expiry)}期满。因您距法定退休年龄"
                    f"（{ym_zh(nr.retirement_month)}）不足1年，失业保险金将继续发放至{ym_zh(nr.pay_through)}，"
                    "无需申请，期间继续代缴医疗保险费。",
                )
                await self._pension_support_notice(nr)
                return
            if nr.outcome is NearRetirementOutcome.NONE:
                await self._pension_support_notice(nr)
            if nr.outcome is TRANSITIONAL and nr.pay_through is not None:
                s.application_deadline = workflow.now() + timedelta(days=self.t.application_window_days)
                s.status, s.stage = PeriodStatus.AWAITING_APPLICATION, "awaiting_application"
                self.record(
                    "system",
                    "uiflow",
                    "transitional.offered",
                    f"核定期限{ym_zh(nr.expiry)}期满，符合延迟退休过渡政策：经本人申请可继续领取至原法定退休年龄"
                    f"（{ym_zh(nr.pay_through)}），此后不再续发；已告知本人",
                    pay_through=str(nr.pay_through),
                )
                await self.project()
                await self._tell_person(
                    "transitional_offer",
                    f"{self.person.name}您好：您的失业保险金核定期限已于{ym_zh(nr.expiry)}期满。根据延迟法定退休年龄"
                    f"改革过渡政策，您2024年12月31日正在领取失业保险金，期满时距改革后法定退休年龄"
                    f"（{ym_zh(nr.retirement_month)}）超过1年、距原法定退休年龄（{ym_zh(nr.original_retirement_month)}）"
                    f"不足1年，经本人申请可继续领取失业保险金至{ym_zh(nr.pay_through)}，期满后不再续发。"
                    f"请于{local_date(s.application_deadline).isoformat()}前通过网上办事大厅或到经办窗口申请。",
                )
        if nr.outcome is TRANSITIONAL and nr.pay_through is not None and s.extension_applied_at is None:
            if not await self._await_application():
                return
            s.extension_applied_at = workflow.now()
            app = s.transitional_application or TransitionalApplication()
            self._extend(nr.pay_through, "transitional")
            await self._sync()
            s.status, s.stage = PeriodStatus.ACTIVE, "scheduled"
            self.record(
                "staff" if app.actor else "applicant",
                app.actor.login if app.actor else app.by,
                "transitional.applied",
                f"本人申请过渡期发放，继续发放至{ym_zh(nr.pay_through)}，此后不再续发",
                pay_through=str(nr.pay_through),
            )
            await self.project()
            await self._pension_support_notice(nr)
            return
        await self._close("expired", "领取期满，案件办结")

    async def _assess_near_retirement(self) -> NearRetirementView:
        s = self.state
        ordinary = [m.pay_month for m in s.schedule if m.basis == "ordinary"]
        nr = await self.act(
            PaymentActivities.near_retirement_outcome,
            NearRetirementRequest(
                category=self.inp.category,
                birth_month=self.inp.birth_month,
                expiry=ordinary[-1],
                receiving_on_2024_12_31=self.inp.receiving_on_2024_12_31,
                benefit_months=ordinary,
                paid_months=[p.pay_month for p in s.payments],  # paid for, ordinary and 续发
            ),
        )
        s.near_retirement = nr
        self.record(
            "system",
            "uiflow",
            "near_retirement.assessed",
            f"期满核查：法定退休年龄{ym_zh(nr.retirement_month)}（原{ym_zh(nr.original_retirement_month)}），"
            f"期满月份{ym_zh(nr.expiry)}，结论：{nr.outcome.label}",
            outcome=nr.outcome.value,
            parameter_version=nr.parameter_version,
        )
        return nr

    async def _await_application(self) -> bool:
        """Wait for the person's application within the window; False when the loop must apply an
        event first or the case closed because nobody applied."""
        s = self.state
        if s.transitional_application is not None:
            return True
        deadline = s.application_deadline or workflow.now()
        try:
            await workflow.wait_condition(
                lambda: s.transitional_application is not None or self._pending(),
                timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            await self._close("expired", "过渡期发放申请期限已过，未收到本人申请，案件办结")
            return False
        return s.transitional_application is not None and not self._pending()

    def _extend(self, through: YearMonth, basis: MonthBasis) -> None:
        last = self.state.schedule[-1]
        index, month = last.month_index, last.pay_month
        while month < through:
            index, month = index + 1, month + 1
            self.state.schedule.append(ScheduledMonth(month_index=index, pay_month=month, basis=basis))

    async def _pension_support_notice(self, nr: NearRetirementView) -> None:
        """人社部发〔2024〕76号 (Rule 3): the fund pays the pension contribution, 先缴后补; the agency
        must tell eligible people."""
        if nr.pension_support_from is None or nr.pension_support_through is None:
            return
        self.record(
            "system",
            "uiflow",
            "pension_support.informed",
            f"符合大龄领金人员养老保险费补助条件（{ym_zh(nr.pension_support_from)}至"
            f"{ym_zh(nr.pension_support_through)}），已告知本人先缴后补",
            support_from=str(nr.pension_support_from),
            support_through=str(nr.pension_support_through),
        )
        await self._tell_person(
            "pension_support",
            f"{self.person.name}您好：您在{ym_zh(nr.pension_support_from)}至{ym_zh(nr.pension_support_through)}"
            "期间领取失业保险金，符合大龄领金人员养老保险费补助条件：请以个人身份参加企业职工基本养老保险并缴费，"
            "缴费后可持缴费凭证向经办机构申请补助（按当地灵活就业人员最低缴费标准补助）。",
        )

    async def _close(self, reason: str, text: str) -> None:
        s = self.state
        s.status, s.stage = PeriodStatus.CLOSED, "closed"
        s.close_reason = reason
        s.closed_at = workflow.now()
        self.record(
            "system",
            "uiflow",
            "period.closed",
            f"{text}：共发放{s.months_paid}个月，合计{format_amount(s.total_paid)}元"
            + (f"，未领取{s.unused_months}个月" if s.unused_months else ""),
            reason=reason,
            months_paid=s.months_paid,
            total_paid=str(s.total_paid),
            unused_months=s.unused_months,
        )
        await self.project()
        if reason == "expired" and s.payments:
            await self._tell_person(
                "period_expired",
                f"{self.person.name}您好：您的失业保险金已于{ym_zh(s.payments[-1].pay_month)}发放期满，"
                f"共发放{s.months_paid}个月，合计{format_amount(s.total_paid)}元。",
            )

    def _extension(self) -> NearRetirementOutcome | None:
        nr = self.state.near_retirement
        if nr is None or not any(m.basis != "ordinary" and m.status == "paid" for m in self.state.schedule):
            return None
        return nr.outcome

    # --- continue-as-new -----------------------------------------------------------------------------

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.state.run += 1
        workflow.continue_as_new(
            self.inp.model_copy(
                update={
                    "person": self.person,
                    "carry": PeriodCarry(state=self.state, projection_version=self._version),
                }
            )
        )

    # --- helpers -------------------------------------------------------------------------------------

    async def _status(self, status: PeriodStatus, stage: str) -> None:
        if (self.state.status, self.state.stage) != (status, stage):
            self.state.status, self.state.stage = status, stage
            await self.project()

    def _stopped_text(self, rec: StopRecord, carry: str, notice: str = "") -> str:
        return (
            f"{self.person.name}您好：因{rec.label}，您的失业保险金和代缴的医疗保险费自{ym_zh(rec.effective_from)}"
            f"起停止发放（依据{rec.legal_basis}）。{carry}如有异议，请联系经办机构。{notice}"
        )

    async def _tell_stopped(self) -> None:
        """The person's 停发通知书 and message for the stops just applied, once their rows are
        written."""
        while self._stops_to_tell:
            rec, carry = self._stops_to_tell.pop(0)
            notice = await self._notice_stop(rec)
            await self._tell_person("period_stopped", self._stopped_text(rec, carry, notice))

    async def _notice_stop(self, rec: StopRecord) -> str:
        issued = await self.issue_notice(
            NoticeRequest(
                case_id=self.case_id,
                issue_key=f"stopped:{rec.reason.value}:{rec.effective_from}",
                kind=NoticeKind.BENEFIT_STOPPED,
                region_code=self.region_code,
                issued_at=workflow.now(),
                person_name=self.person.name,
                person_id_masked=mask_resident_id(self.person.id_number),
                facts={
                    "reason": rec.label,
                    "on": date_zh(rec.on),
                    "legal_basis": rec.legal_basis,
                    "from_month": ym_zh(rec.effective_from),
                    "months_left": str(rec.unused_months)
                    if rec.unused_months and rec.reason is StopReason.REEMPLOYED
                    else "",
                },
            )
        )
        return issued.sms_zh()

    async def _tell_person(self, template: str, text_zh: str) -> None:
        await self.notify(
            Notification(
                case_id=self.case_id,
                audience="applicant",
                phone=self.person.phone,
                template=template,
                text_zh=text_zh,
            )
        )

    def _receipt(self, message: str) -> PeriodReceipt:
        return PeriodReceipt(
            case_id=self.case_id, status=self.state.status.value, stage=self.state.stage, message_zh=message
        )

    def _stop_record(
        self,
        reason: StopReason,
        on: date,
        *,
        source: str,
        by_staff: bool,
        reference: str = "",
        note: str = "",
    ) -> StopRecord:
        return StopRecord(
            reason=reason,
            label=reason.label_zh,
            legal_basis=reason.legal_basis,
            on=on,
            effective_from=stop_effective_from(reason, on),
            source=source,
            by_staff=by_staff,
            reference=reference,
            note=note,
            recorded_at=workflow.now(),
            unused_months=0,  # counted when applied
        )

    def _open_refs(self) -> set[str]:
        s = self.state
        return {x.ref for x in s.open_suspensions} | {x.ref for x in s.pending_suspensions}

    # --- projection ------------------------------------------------------------------------------------

    def projection(self) -> CaseProjection:
        s = self.state
        closed = s.status == PeriodStatus.CLOSED
        nxt = None if closed else self._next_scheduled()
        summary: dict[str, Any] = {
            "status_label": PERIOD_STATUS_LABELS[s.status],
            "claim_case_id": s.claim_case_id,
            "max_months": self.inp.entitlement.max_months,
            "imported_months_paid": self.inp.imported.months_paid if self.inp.imported else None,
            # What a later claim needs to count contribution time afresh (domain.md A3).
            "first_month": str(self.inp.entitlement.first_month),
            "cumulative_contribution_months": self.inp.entitlement.cumulative_contribution_months,
            "months_paid": s.months_paid,
            "total_paid": str(s.total_paid),
            "unused_months": s.unused_months,
            "account": s.account_masked,
            "schedule": [
                {
                    "i": m.month_index,
                    "month": str(m.pay_month),
                    "basis": m.basis,
                    "status": m.status,
                    "pay_date": m.pay_date.isoformat() if m.pay_date else None,
                    "moved_from": str(m.moved_from) if m.moved_from else None,
                }
                for m in s.schedule
            ],
            "payments": [
                {
                    "i": p.month_index,
                    "month": str(p.pay_month),
                    "amount": str(p.amount),
                    "bank_ref": p.bank_ref,
                    "paid_at": p.paid_at.isoformat(),
                }
                for p in s.payments
            ],
            "premiums_paid": [str(p.month) for p in s.premiums if p.status == "paid"],
            "premiums_failed": [
                {"month": str(p.month), "reason_code": p.reason_code, "reason": p.reason_zh}
                for p in s.premiums
                if p.status == "failed"
            ],
            "stops": [
                {
                    "reason": x.reason.value,
                    "on": x.on.isoformat(),
                    "effective_from": str(x.effective_from),
                    "unused_months": x.unused_months,
                    "overpaid_months": [str(m) for m in x.overpaid_months],
                }
                for x in s.stops
            ],
            "suspensions": [
                {
                    "ref": x.ref,
                    "since": x.since.isoformat(),
                    "lifted_on": x.lifted_on.isoformat() if x.lifted_on else None,
                    "months_moved": x.months_moved,
                }
                for x in s.suspensions
            ],
        }
        if nxt is not None:
            summary["next_month"] = str(nxt.pay_month)
        if s.near_retirement is not None:
            nr = s.near_retirement
            summary["near_retirement"] = {
                "outcome": nr.outcome.value,
                "pay_through": str(nr.pay_through) if nr.pay_through else None,
                "applied": s.extension_applied_at is not None,
                "pension_support": (
                    [str(nr.pension_support_from), str(nr.pension_support_through)]
                    if nr.pension_support_from and nr.pension_support_through
                    else None
                ),
            }
        if s.close_reason:
            summary["close_reason"] = s.close_reason
        self._projected_deadline = nxt.pay_date if nxt is not None else None
        return CaseProjection(
            case_id=self.case_id,
            case_type=CaseType.BENEFIT_PERIOD,
            status=s.status.value,
            stage=s.stage,
            region_code=self.region_code,
            applicant_key=self.inp.applicant_key,
            applicant_name=s.applicant_name,
            applicant_id_masked=s.applicant_id_masked,
            applicant_id_number=self.inp.person.id_number,
            received_at=self.inp.approved_at,
            deadline=self._projected_deadline,
            overdue=s.status == PeriodStatus.AWAITING_ACCOUNT,
            summary=summary,
            closed_at=s.closed_at,
            version=0,
        )

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        nxt = self._next_scheduled()
        if nxt is not None and nxt.pay_date is not None and self.state.status != PeriodStatus.CLOSED:
            return [sa.DEADLINE.value_set(datetime.combine(nxt.pay_date, time(self.t.pay_hour), BUSINESS_TZ))]
        return []

    # --- query, signals, updates ----------------------------------------------------------------------

    @workflow.query
    def state_query(self) -> PeriodState:
        self.state.blocked = self.blocked
        return self.state

    @workflow.signal
    def stop_event(self, ev: StopEvent) -> None:
        if self.state.status == PeriodStatus.CLOSED:
            return
        known = {x.reference for x in [*self.state.stops, *self.state.pending_stops]}
        if ev.reference and ev.reference in known:
            return  # the same outside event again (pushed, then found by the re-check)
        self.state.pending_stops.append(
            self._stop_record(ev.reason, ev.on, source=ev.source, by_staff=False, reference=ev.reference)
        )

    @workflow.signal
    def suspend(self, ev: SuspendEvent) -> None:
        if self.state.status == PeriodStatus.CLOSED or ev.ref in self._open_refs():
            return
        self.state.pending_suspensions.append(
            Suspension(
                ref=ev.ref, reason_zh=ev.reason_zh, source=ev.source, since=ev.on, opened_at=workflow.now()
            )
        )

    @workflow.signal
    def resume(self, ev: ResumeEvent) -> None:
        if self.state.status != PeriodStatus.CLOSED:
            self.state.pending_resumptions.append(ev)

    # Staff operations (issue 14 item 1) on the review kit: the desk's checks (role, region,
    # own case) under the period's own refusal codes ``period.<reason>``; a reason always, evidence
    # by hash, audit, and a notice to the person. Handlers that gained steps (linking evidence,
    # the bank's holder check, the notice) run them behind ``STAFF_KIT``, so periods recorded
    # before still replay.

    def _check_staff(self, actor: StaffActor, what: str, *roles: Role) -> None:
        self.desk.check_undecided(closed=self.state.status == PeriodStatus.CLOSED)
        self.desk.check_free()
        self.desk.check_staff(actor, "period", what, *roles)

    @staticmethod
    def _check_reason(text: str, what: str) -> None:
        if len(text.strip()) < MIN_STAFF_REASON:
            raise refuse("period.reason_required", f"{what}必须写明理由（将记入案件并告知本人）")

    async def _staff_step(self, evidence: list[DocumentRef]) -> bool:
        """Whether this operation runs the kit's steps (new cases: yes; recorded ones: as they
        were), linking its evidence first. A document that is not what was uploaded refuses the
        operation (the Update fails, the case is unchanged)."""
        if not workflow.patched(STAFF_KIT):
            return False
        if evidence:
            try:
                await workflow.execute_activity_method(
                    ClaimActivities.link_documents,
                    LinkDocuments(case_id=self.case_id, documents=evidence),
                    start_to_close_timeout=timeout_for(ClaimActivities.link_documents),
                    retry_policy=STAFF_RETRY,
                )
            except ActivityError as e:
                raise refuse("period.invalid", "证明材料与上传时不一致或属于其他案件，请重新上传") from e
        return True

    @workflow.update
    async def stop_by_staff(self, cmd: StaffStopCommand) -> PeriodReceipt:
        with self.desk.occupied():
            await self._staff_step(cmd.evidence)
        rec = self._stop_record(cmd.reason, cmd.on, source=cmd.actor.login, by_staff=True, note=cmd.note)
        self.state.pending_stops.append(rec)
        await self.audit(
            cmd.actor,
            "period.stop",
            {
                "reason": cmd.reason.value,
                "on": cmd.on.isoformat(),
                "note": cmd.note,
                "evidence": [d.sha256 for d in cmd.evidence],
            },
        )
        return self._receipt(f"已登记停发（{rec.label}），自{ym_zh(rec.effective_from)}起停止发放")

    @stop_by_staff.validator
    def _validate_stop(self, cmd: StaffStopCommand) -> None:
        self._check_staff(cmd.actor, "登记停发", Role.REVIEWER, Role.SUPERVISOR)
        self._check_reason(cmd.note, "登记停发")
        if self.state.stops or self.state.pending_stops:
            raise refuse("period.stage", "该发放案件已登记停发，不能重复登记")
        if cmd.on > self._today():
            raise refuse("period.invalid", "停发事由发生日期不能晚于今天")
        if cmd.on < self.inp.entitlement.benefit_start:
            raise refuse("period.invalid", "停发事由发生日期早于领金起始日期，请核实")

    @workflow.update
    async def suspend_by_staff(self, cmd: StaffSuspendCommand) -> PeriodReceipt:
        with self.desk.occupied():
            await self._staff_step(cmd.evidence)
        ref = f"staff-{len(self.state.suspensions) + len(self.state.pending_suspensions) + 1}"
        self.state.pending_suspensions.append(
            Suspension(
                ref=ref,
                reason_zh=cmd.reason_zh,
                source=f"staff:{cmd.actor.login}",
                since=self._today(),
                opened_at=workflow.now(),
            )
        )
        await self.audit(
            cmd.actor,
            "period.suspend",
            {"ref": ref, "reason": cmd.reason_zh, "evidence": [d.sha256 for d in cmd.evidence]},
        )
        return self._receipt(f"已暂停发放（{ref}）")

    @suspend_by_staff.validator
    def _validate_suspend(self, cmd: StaffSuspendCommand) -> None:
        self._check_staff(cmd.actor, "暂停发放", Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR)
        self._check_reason(cmd.reason_zh, "暂停发放")

    @workflow.update
    async def resume_by_staff(self, cmd: StaffResumeCommand) -> PeriodReceipt:
        with self.desk.occupied():
            await self._staff_step(cmd.evidence)
        refs = [cmd.ref] if cmd.ref else sorted(self._open_refs())
        for ref in refs:
            self.state.pending_resumptions.append(
                ResumeEvent(ref=ref, on=self._today(), by=cmd.actor.login, note=cmd.note)
            )
        await self.audit(
            cmd.actor,
            "period.resume",
            {"refs": refs, "note": cmd.note, "evidence": [d.sha256 for d in cmd.evidence]},
        )
        return self._receipt("已恢复发放")

    @resume_by_staff.validator
    def _validate_resume(self, cmd: StaffResumeCommand) -> None:
        self._check_staff(cmd.actor, "恢复发放", Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR)
        self._check_reason(cmd.note, "恢复发放")
        refs = self._open_refs()
        if not refs:
            raise refuse("period.stage", "该发放案件当前没有暂停，无需恢复")
        if cmd.ref is not None and cmd.ref not in refs:
            raise refuse("period.invalid", f"没有编号为{cmd.ref}的暂停")

    @workflow.update
    async def change_account(self, cmd: AccountChangeCommand) -> PeriodReceipt:
        check: AccountHolderResult | None = None
        with self.desk.occupied():
            try:
                kit = await self._staff_step(cmd.evidence)
                if kit:
                    # The bank's holder-name check: the account must be open and the person's own.
                    check = await workflow.execute_activity_method(
                        PeriodOpsActivities.verify_account_holder,
                        AccountHolderCheck(account_no=cmd.account_no, name=self.person.name),
                        start_to_close_timeout=timeout_for(PeriodOpsActivities.verify_account_holder),
                        retry_policy=STAFF_RETRY,
                    )
            except ActivityError as e:
                raise refuse("period.unavailable", "银行账户核验暂时无法完成，请稍后重试") from e
        if check is not None and not check.match:
            self.record(
                "external",
                "bank",
                "account.check_failed",
                f"新收款账户{mask_account(cmd.account_no)}未通过银行户名核验：{check.message_zh}",
            )
            raise refuse(
                "period.invalid",
                f"新收款账户未通过银行户名核验（{check.message_zh}）：账户须为本人名下的有效账户，请核实后重新录入",
            )
        waiting = self.state.rejected_account_version is not None
        self.person = self.person.model_copy(
            update={"account_no": cmd.account_no, "bank_name": cmd.bank_name or self.person.bank_name}
        )
        self.state.account_version += 1
        self.state.account_masked = mask_account(cmd.account_no)
        self.record(
            "staff",
            cmd.actor.login,
            "account.changed",
            f"收款账户变更为{self.state.account_masked}"
            + ("（已通过银行户名核验）" if kit else "")
            + (f"：{cmd.note}" if cmd.note else ""),
        )
        await self.audit(
            cmd.actor,
            "period.account_changed",
            {
                "account": self.state.account_masked,
                "note": cmd.note,
                "evidence": [d.sha256 for d in cmd.evidence],
            },
        )
        if kit:
            await self._tell_person(
                "account_changed",
                f"{self.person.name}您好：您领取失业保险金的收款账户已变更为{self.state.account_masked}，"
                "此后的失业保险金将发放至新账户。如非本人申请，请立即联系经办机构。",
            )
        return self._receipt("已变更收款账户" + ("，将立即补发" if waiting else ""))

    @change_account.validator
    def _validate_account(self, cmd: AccountChangeCommand) -> None:
        self._check_staff(cmd.actor, "变更收款账户", Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR)
        self._check_reason(cmd.note, "变更收款账户")
        if cmd.account_no == self.person.account_no:
            raise refuse("period.invalid", "新账户与当前收款账户相同，请核实")

    @workflow.update
    async def apply_transitional(self, app: TransitionalApplication) -> PeriodReceipt:
        kit = False
        if app.actor is not None:
            with self.desk.occupied():
                kit = await self._staff_step(app.evidence)
        self.state.transitional_application = app
        if app.actor is not None:
            await self.audit(
                app.actor,
                "period.transitional_application",
                {"by": app.by, "note": app.note, "evidence": [d.sha256 for d in app.evidence]},
            )
        nr = self.state.near_retirement
        through = ym_zh(nr.pay_through) if nr and nr.pay_through else ""
        if kit:
            await self._tell_person(
                "transitional_accepted",
                f"{self.person.name}您好：您的过渡期发放申请已受理，失业保险金将继续发放至{through}，此后不再续发。",
            )
        return self._receipt(f"已受理过渡期发放申请，将继续发放至{through}")

    @apply_transitional.validator
    def _validate_transitional(self, app: TransitionalApplication) -> None:
        s = self.state
        self.desk.check_undecided(closed=s.status == PeriodStatus.CLOSED)
        nr = s.near_retirement
        if (
            s.status != PeriodStatus.AWAITING_APPLICATION
            or nr is None
            or nr.outcome is not TRANSITIONAL
            or s.transitional_application is not None
        ):
            raise refuse("period.stage", "该发放案件当前不符合过渡期发放申请条件或已申请")
        if app.actor is not None:
            self._check_staff(app.actor, "受理过渡期发放申请", Role.INTAKE_CLERK, Role.REVIEWER)
            self._check_reason(app.note, "受理过渡期发放申请")

    @workflow.update
    async def apply_continuation(self, app: ContinuationApplication) -> PeriodReceipt:
        """续发 (C6 Rule 1) needs no application; a person who applies is recorded and told where
        the case stands: before expiry, that 续发 is decided at expiry by the rules; after it, to
        which month it runs."""
        with self.desk.occupied():
            await self._staff_step(app.evidence)
        self.state.continuation_application = app
        nr = self.state.near_retirement
        if nr is not None and nr.outcome is CONTINUATION and nr.pay_through is not None:
            told = (
                f"您符合续发条件，失业保险金将继续发放至{ym_zh(nr.pay_through)}（法定退休年龄），"
                "无需另行办理。"
            )
            done = f"已受理续发申请：已核定续发至{ym_zh(nr.pay_through)}"
        else:
            last = max(m.pay_month for m in self.state.schedule if m.basis == "ordinary")
            told = (
                f"您的失业保险金核定期限至{ym_zh(last)}，期满时经办机构将按规定核定是否续发至法定退休年龄，"
                "并告知您结果。"
            )
            done = "已受理续发申请，期满时按规定核定"
        self.record(
            "staff",
            app.actor.login,
            "continuation.applied",
            f"本人申请续发（窗口受理）：{app.note}。{done}",
            evidence=[d.sha256 for d in app.evidence],
        )
        await self.audit(
            app.actor,
            "period.continuation_application",
            {"note": app.note, "evidence": [d.sha256 for d in app.evidence]},
        )
        await self.project()
        await self._tell_person(
            "continuation_application", f"{self.person.name}您好：您的续发申请已受理。{told}"
        )
        return self._receipt(done)

    @apply_continuation.validator
    def _validate_continuation(self, app: ContinuationApplication) -> None:
        s = self.state
        self._check_staff(app.actor, "受理续发申请", Role.INTAKE_CLERK, Role.REVIEWER)
        self._check_reason(app.note, "受理续发申请")
        nr = s.near_retirement
        if s.stops or s.pending_stops:
            raise refuse("period.stage", "该发放案件已登记停发，不能申请续发")
        if nr is not None and nr.outcome is TRANSITIONAL:
            raise refuse(
                "period.stage", "该人员适用延迟退休过渡政策，可申请过渡期发放，期满后不再续发，不能申请续发"
            )
        if s.continuation_application is not None:
            raise refuse("period.stage", "已受理过该人员的续发申请，无需重复申请")

    @workflow.update
    async def transfer_region(self, cmd: TransferCommand) -> PeriodReceipt:
        """The person moved within Inner Mongolia: the one period moves (its district, its open
        schedule rows and payee row, the region's pay day), never a second period."""
        with self.desk.occupied():
            await self._staff_step(cmd.evidence)
            old = self.region_code
            self.region_code = self.desk.case_region = cmd.to_region
            self.state.region_code = cmd.to_region
            self.state.transfers.append(
                TransferRecord(
                    from_region=old,
                    to_region=cmd.to_region,
                    by=cmd.actor.login,
                    at=workflow.now(),
                    note=cmd.note,
                )
            )
            workflow.upsert_search_attributes(
                [
                    sa.REGION_CODE.value_set(cmd.to_region),
                    sa.REGION_PATH.value_set(region_path(cmd.to_region)),
                ]
            )
            moved = await self.act(
                PeriodOpsActivities.move_schedule_region,
                MoveScheduleRequest(case_id=self.case_id, to_region=cmd.to_region, pay_day=self.t.pay_day),
            )
            self.record(
                "staff",
                cmd.actor.login,
                "period.transferred",
                f"发放地由{full_name(old)}转移至{full_name(cmd.to_region)}：{cmd.note}；"
                f"尚未发放的{moved}个月改由新发放地按月发放",
                from_region=old,
                to_region=cmd.to_region,
                months_moved=moved,
                evidence=[d.sha256 for d in cmd.evidence],
            )
            await self.audit(
                cmd.actor,
                "period.transfer",
                {
                    "from": old,
                    "to": cmd.to_region,
                    "note": cmd.note,
                    "evidence": [d.sha256 for d in cmd.evidence],
                },
            )
            await self.project()
        await self._tell_person(
            "period_transferred",
            f"{self.person.name}您好：您的失业保险金发放地已转移至{full_name(cmd.to_region)}，"
            "领取期限和待遇标准不变，此后由新发放地经办机构按月发放。",
        )
        await self.notify_staff(
            Role.REVIEWER.value,
            cmd.to_region,
            "period_transferred_in",
            f"发放案件{self.case_id}已由{full_name(old)}转入本地区，请知悉。",
        )
        return self._receipt(f"已转移至{full_name(cmd.to_region)}")

    @transfer_region.validator
    def _validate_transfer(self, cmd: TransferCommand) -> None:
        self._check_staff(cmd.actor, "办理发放地转移", Role.REVIEWER, Role.SUPERVISOR)
        self._check_reason(cmd.note, "办理发放地转移")
        if self.state.stops or self.state.pending_stops:
            raise refuse("period.stage", "该发放案件已登记停发，不能转移")
        try:
            target = get_region(cmd.to_region)
        except RegionError as e:
            raise refuse("period.invalid", f"转入地区代码无效：{e.message_zh}") from e
        if target.level != "county":
            raise refuse("period.invalid", "请选择转入的旗县（市、区），不能转入盟市或自治区本级")
        if cmd.to_region == self.region_code:
            raise refuse("period.invalid", "转入地区与当前发放地相同")

    @workflow.update
    def unblock_case(self, cmd: UnblockCommand) -> str:
        self.unblock(cmd.actor, cmd.note)
        return "已解除阻塞，案件将重试"

    @unblock_case.validator
    def _validate_unblock(self, cmd: UnblockCommand) -> None:
        self.validate_unblock(cmd.actor)


WORKFLOWS = [BenefitPeriodWorkflow]
