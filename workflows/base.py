"""What every case workflow shares: the timeline, the read-model projection and search
attributes, notifications, the audit log, review deadlines with reminder and escalation, and a
safe stop when an activity fails for good (the case waits for an operations engineer instead of
failing, so no application is ever lost) with the one ``unblock_case`` Update that releases it,
the refusal every validator raises (``refuse``), and the timeout each activity runs under.

Deterministic: time from ``workflow.now()``; everything else through activities."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, SearchAttributeUpdate, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.case_store import CaseStoreActivities
    from activities.notices import NoticeActivities
    from models import search_attributes as sa
    from models.case import (
        AuditEntry,
        CaseProjection,
        DeadlineInfo,
        DeadlineRequest,
        Notification,
        TimelineEntry,
        UnblockCommand,
    )
    from models.enums import Role
    from models.notice import NoticeIssued, NoticeKind, NoticeRequest
    from models.staff import StaffActor
    from policy.regions import ancestors

T = TypeVar("T")

# External systems may be down for hours; a case must outlast that. Retries back off to 10 minutes
# and never give up by count; a non-retryable failure goes to the blocked path below.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=0,
)
OPS_REGION = "150000"

# --- activity timeouts ---------------------------------------------------------------------------
# Why per activity: the start-to-close timeout is also how long a case waits when the worker running
# the activity is killed (the server notices only when the timeout passes). One 60 s for every step
# meant a minute lost per step in flight after each worker kill; a lookup takes well under a second.
# A step on our own database gets 10 s; one call to a government system 15 s (its HTTP client gives
# up at 10 s first, so the fault is classified and retried); the long ones heartbeat (the archiver,
# 5 min) or carry their own limit from settings (the period's payments). Timeouts are not part of
# the command sequence: changing them leaves recorded histories replaying.
STEP_TIMEOUT = timedelta(seconds=10)
LOOKUP_TIMEOUT = timedelta(seconds=15)
#: One payment by its key (``activities/pay_once.py``): the order row, one bank call (its client
#: gives up at 10 s), the answer written. A retry after a kill asks the bank with the same key and
#: gets its first answer, so the short limit costs nothing and recovery takes seconds, not a minute.
PAY_ONCE_TIMEOUT = timedelta(seconds=20)
#: For a step not in the table below (and the payroll batch's snapshot write, a large record).
ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_TIMEOUTS: dict[str, timedelta] = {
    # our own database and the policy functions
    "project_case": STEP_TIMEOUT,
    "write_audit": STEP_TIMEOUT,
    "compute_deadline": STEP_TIMEOUT,
    "unused_months": STEP_TIMEOUT,
    "assess_claim": STEP_TIMEOUT,
    "compute_entitlement": STEP_TIMEOUT,
    "link_documents": STEP_TIMEOUT,
    "find_open_claim": STEP_TIMEOUT,
    "request_limits": STEP_TIMEOUT,
    "link_request": STEP_TIMEOUT,
    "recovery_ledger": STEP_TIMEOUT,
    "repayment_plan": STEP_TIMEOUT,
    "fine_for": STEP_TIMEOUT,
    "record_hits": STEP_TIMEOUT,
    "settle_hits": STEP_TIMEOUT,
    # the scheduled scan reads everyone across systems: minutes, not seconds
    "run_scan": timedelta(minutes=10),
    # one call to a government system (or the notifier's gateway)
    "notify": LOOKUP_TIMEOUT,
    "check_registration": LOOKUP_TIMEOUT,
    "register_at_counter": LOOKUP_TIMEOUT,
    "fetch_contributions": LOOKUP_TIMEOUT,
    "fetch_stop_reason": LOOKUP_TIMEOUT,
    "check_cross_province": LOOKUP_TIMEOUT,
    "check_pension": LOOKUP_TIMEOUT,
    "employer_risk_inputs": LOOKUP_TIMEOUT,
    "read_stop_reason": LOOKUP_TIMEOUT,
    "change_stop_reason": LOOKUP_TIMEOUT,
    "open_ticket": LOOKUP_TIMEOUT,
    "get_ticket": LOOKUP_TIMEOUT,
    "near_retirement_outcome": LOOKUP_TIMEOUT,
    "verify_account_holder": LOOKUP_TIMEOUT,
    "move_schedule_region": STEP_TIMEOUT,
    "hotline_reply": LOOKUP_TIMEOUT,
    "hotline_close": LOOKUP_TIMEOUT,
    "verify_certificate": LOOKUP_TIMEOUT,
    "insurance_status": LOOKUP_TIMEOUT,
    "training_subsidy": LOOKUP_TIMEOUT,
    "prior_subsidies": STEP_TIMEOUT,
    "assess_subsidy": STEP_TIMEOUT,
    "record_grant": STEP_TIMEOUT,
    "pay_subsidy": PAY_ONCE_TIMEOUT,
    "scan_skill_alerts": ACTIVITY_TIMEOUT,
    "mark_recovery": STEP_TIMEOUT,
    # the premium refund (notice item 4)
    "refund_window": STEP_TIMEOUT,
    "failed_premium_months": STEP_TIMEOUT,
    "self_payments": LOOKUP_TIMEOUT,
    "assess_refund": STEP_TIMEOUT,
    "record_refund": STEP_TIMEOUT,
    "pay_refund": PAY_ONCE_TIMEOUT,
    # the year-end run and the late standard read everyone: minutes, and they heartbeat
    "year_end_run": timedelta(minutes=10),
    "pay_missing_standard": timedelta(minutes=10),
    # payments: the period passes its own limit from settings (payment_activity_timeout_seconds)
    "disburse": ACTIVITY_TIMEOUT,
    "pay_premium": ACTIVITY_TIMEOUT,
    # the benefit period's schedule rows and ledger (our own database, rows locked FOR UPDATE)
    "sync_schedule": STEP_TIMEOUT,
    "period_ledger": STEP_TIMEOUT,
    # the pay-day run's cut-off and hand-over (pay_chunk and payday_reconcile heartbeat:
    # workflows/payday.py sets their limits from the pay-day settings)
    "payday_cutoff": ACTIVITY_TIMEOUT,
    "payday_next": ACTIVITY_TIMEOUT,
    # the re-check before a pay day: one bulk call per system for a chunk, then its stops (heartbeats)
    "recheck_chunk": timedelta(minutes=5),
    # an official notice: parsing the CJK font and subsetting it takes seconds on a busy worker
    "issue_notice": ACTIVITY_TIMEOUT,
}


# Steps that may run as local activities (in the worker, recorded as one marker event instead of
# an activity task's three events and its round trip through the server): our own database and the
# policy functions, each idempotent (the projection ignores an older version, the audit entry and
# the notice find their own row), so the local retry (the whole step again, possibly after the
# worker restarts) is safe. A call to a government system or the SMS gateway stays a normal
# activity. Which steps run locally changes the command sequence: a case type switches it on with
# ``_local_steps = True`` behind its own ``workflow.patched`` id.
LOCAL_STEPS = frozenset(
    {"project_case", "write_audit", "compute_deadline", "assess_claim", "compute_entitlement", "issue_notice"}
)


def timeout_for(fn: Callable[..., Any]) -> timedelta:
    """The start-to-close timeout of activity ``fn`` (by its activity name)."""
    return ACTIVITY_TIMEOUTS.get(getattr(fn, "__name__", ""), ACTIVITY_TIMEOUT)


def refuse(code: str, message_zh: str) -> ApplicationError:
    """A refusal with a stable code (the error ``type``, ``<area>.<reason>``) and the Chinese message
    for staff. Raised in a validator it leaves no history; in a handler it fails only the Update."""
    return ApplicationError(message_zh, type=code, non_retryable=True)


def region_path(code: str) -> list[str]:
    return [code, *[r.code for r in ancestors(code)]]


class CaseWorkflowBase:
    """Mixin with the shared mechanics; a case workflow sets ``case_id``, ``region_code``, and
    implements ``projection()``."""

    case_id: str = ""
    region_code: str = ""
    timeline: list[TimelineEntry]
    _version: int
    blocked: str | None
    _unblocked: bool
    _local_steps: bool = False

    def _init_base(self) -> None:
        self.timeline = []
        self._version = 0
        self.blocked = None
        self._unblocked = False
        self._local_steps = False  # LOCAL_STEPS as local activities (set behind a patch)

    async def _run_step(self, fn: Callable[[Any, Any], Awaitable[T]], arg: Any, limit: timedelta) -> T:
        """One activity call, local when the case runs ``LOCAL_STEPS`` locally and ``fn`` is one."""
        if self._local_steps and getattr(fn, "__name__", "") in LOCAL_STEPS:
            return await workflow.execute_local_activity_method(
                fn, arg, start_to_close_timeout=limit, retry_policy=RETRY
            )
        return await workflow.execute_activity_method(
            fn, arg, start_to_close_timeout=limit, retry_policy=RETRY
        )

    # --- a staff decision being applied --------------------------------------------------------------

    def processing(self) -> bool:
        """A staff decision was accepted (its Update answered on acceptance) and ``run`` is still
        applying it. Case types with a decision desk say so; the console shows 处理中 meanwhile."""
        return False

    @workflow.query(name="decision_processing")
    def decision_processing(self) -> bool:
        """Whether a decision is still being applied: what the console's 处理中 notice polls (one
        cheap query, no page reload until the case has caught up)."""
        return self.processing()

    # --- timeline --------------------------------------------------------------------------------

    def record(
        self,
        actor_kind: Literal["staff", "system", "applicant", "external", "employer"],
        actor: str,
        what: str,
        text_zh: str,
        **evidence: Any,
    ) -> None:
        self.timeline.append(
            TimelineEntry(
                at=workflow.now(),
                actor_kind=actor_kind,
                actor=actor,
                what=what,
                text_zh=text_zh,
                evidence=evidence,
            )
        )

    # --- activities with the blocked path ----------------------------------------------------------

    async def act(
        self,
        fn: Callable[[Any, Any], Awaitable[T]],
        arg: Any,
        *,
        activity_timeout: timedelta | None = None,
    ) -> T:
        """Run an activity; if it fails for good, mark the case blocked, tell operations, and
        wait for an engineer to unblock it, then try again. The case never fails silently."""
        while True:
            try:
                return await self._run_step(fn, arg, activity_timeout or timeout_for(fn))
            except ActivityError as e:
                cause = e.cause
                kind = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
                message = cause.message if isinstance(cause, ApplicationError) else str(cause)
                self.blocked = f"{getattr(fn, '__name__', 'activity')}: {kind}"
                self._unblocked = False
                self.record(
                    "system",
                    "uiflow",
                    "case.blocked",
                    f"自动处理失败，已转运维处理：{message}",
                    step=getattr(fn, "__name__", ""),
                    error_type=kind,
                )
                await self.project()
                await self.notify_staff(
                    "ops_engineer",
                    OPS_REGION,
                    "case_blocked",
                    f"案件{self.case_id}自动处理失败（{kind}），请核查后解除阻塞。",
                )
                await workflow.wait_condition(lambda: self._unblocked)
                self.blocked = None
                await self.project()

    def unblock(self, actor: StaffActor, note: str) -> None:
        self._unblocked = True
        self.record("staff", actor.login, "case.unblocked", f"运维人员解除阻塞：{note}")

    def validate_unblock(self, actor: StaffActor) -> None:
        if self.blocked is None:
            raise refuse("case.stage", "该案件当前没有阻塞，无需解除")
        if not actor.has(*_ops_roles()):
            raise refuse("case.role", "只有运维工程师可以解除案件阻塞")

    # --- projection, notifications, audit --------------------------------------------------------------

    def projection(self) -> CaseProjection:
        raise NotImplementedError

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        return []

    async def project(self) -> None:
        self._version += 1
        p = self.projection()
        p.version = self._version
        if self.blocked:
            p.blocked = True
            p.summary["blocked"] = self.blocked
        pairs: list[SearchAttributeUpdate[Any]] = [
            sa.CASE_STATUS.value_set(p.status),
            sa.CASE_STAGE.value_set(p.stage or p.status),
            sa.OVERDUE.value_set(p.overdue),
            *self.search_attributes(),
        ]
        if p.assigned_to:
            pairs.append(sa.ASSIGNED_TO.value_set(p.assigned_to))
        workflow.upsert_search_attributes(pairs)
        await self._run_step(
            CaseStoreActivities.project_case, p, timeout_for(CaseStoreActivities.project_case)
        )

    async def notify(self, n: Notification) -> None:
        try:
            await workflow.execute_activity_method(
                CaseStoreActivities.notify,
                n,
                start_to_close_timeout=timeout_for(CaseStoreActivities.notify),
                retry_policy=RETRY,
            )
        except ActivityError as e:
            # A refused notification must not stop the case; the timeline shows it was not sent.
            self.record(
                "system", "notifier", "notification.failed", f"通知发送失败：{n.template}", error=str(e.cause)
            )

    async def issue_notice(self, req: NoticeRequest) -> NoticeIssued:
        """Issue an official notice (PDF with check code, stored with its hash on the case) at the
        step that decides; the caller appends ``NoticeIssued.sms_zh()`` to the message it sends the
        person. Existing workflows call this behind a ``workflow.patched`` id so histories replay."""
        issued = await self.act(NoticeActivities.issue_notice, req)
        self.record(
            "system",
            "uiflow",
            "notice.issued",
            f"出具《{issued.title}》（文书编号{issued.notice_no}）",
            notice_id=issued.notice_id,
            sha256=issued.sha256,
        )
        return issued

    async def notice_for_person(
        self,
        kind: NoticeKind,
        key: str,
        *,
        person_name: str,
        person_id_masked: str,
        facts: dict[str, str],
        rows: list[Any] | None = None,
    ) -> str:
        """Issue one notice to the person the case is about, at this moment; returns the sentence
        the message to the person ends with (every case type's step notices go through here)."""
        issued = await self.issue_notice(
            NoticeRequest(
                case_id=self.case_id,
                issue_key=key,
                kind=kind,
                region_code=self.region_code,
                issued_at=workflow.now(),
                person_name=person_name,
                person_id_masked=person_id_masked,
                facts=facts,
                rows=rows or [],
            )
        )
        return issued.sms_zh()

    async def notify_person(self, phone: str, name: str, template: str, text_zh: str) -> None:
        """An SMS to the person the case is about (their phone from the encrypted input)."""
        await self.notify(
            Notification(
                case_id=self.case_id,
                audience="applicant",
                phone=phone,
                template=template,
                text_zh=f"{name}您好：{text_zh}",
            )
        )

    async def notify_staff(
        self, role: str, region: str, template: str, text_zh: str, login: str | None = None
    ) -> None:
        await self.notify(
            Notification(
                case_id=self.case_id,
                audience="staff",
                template=template,
                text_zh=text_zh,
                staff_login=login,
                staff_role=role,
                region_code=region,
            )
        )

    async def audit(self, actor: StaffActor, action: str, payload: dict[str, Any]) -> None:
        await self._run_step(
            CaseStoreActivities.write_audit,
            AuditEntry(
                case_id=self.case_id,
                actor=actor.login,
                actor_role=",".join(actor.roles),
                actor_region=actor.region_code,
                action=action,
                payload=payload,
                at=workflow.now(),
            ),
            timeout_for(CaseStoreActivities.write_audit),
        )

    # --- deadlines -----------------------------------------------------------------------------------

    async def deadline(
        self, start: datetime, reminder_working_days: int, working_days: int | None = None
    ) -> DeadlineInfo:
        return await self.act(
            CaseStoreActivities.compute_deadline,
            DeadlineRequest(
                start=start, working_days=working_days, reminder_working_days=reminder_working_days
            ),
        )

    async def wait_with_deadline(
        self,
        done: Callable[[], bool],
        deadline: DeadlineInfo,
        *,
        reminded: Callable[[], bool],
        overdue: Callable[[], bool],
        on_reminder: Callable[[], Awaitable[None]],
        on_overdue: Callable[[], Awaitable[None]],
    ) -> None:
        """Wait until ``done()``; fire the reminder at its instant and the escalation when the
        deadline passes (both Asia/Shanghai instants computed by the deadline activity)."""
        while not done():
            now = workflow.now()
            target: datetime | None = None
            action: Callable[[], Awaitable[None]] | None = None
            if deadline.reminder_at is not None and not reminded() and not overdue():
                target, action = deadline.reminder_at, on_reminder
            elif not overdue():
                target, action = deadline.deadline_at, on_overdue
            if target is None or action is None:
                await workflow.wait_condition(done)
                return
            wait = target - now
            if wait > timedelta(0):
                try:
                    await workflow.wait_condition(done, timeout=wait)
                    return
                except TimeoutError:
                    pass
            await action()


class UnblockableCase(CaseWorkflowBase):
    """A case workflow with the one ``unblock_case`` Update that releases a blocked case (the claim
    and the dispute; the benefit period declares its own until it moves onto this class, which
    needs no other change there: same Update name, argument and answer)."""

    @workflow.update
    def unblock_case(self, cmd: UnblockCommand) -> str:
        self.unblock(cmd.actor, cmd.note)
        return "已解除阻塞，案件将重试"

    @unblock_case.validator
    def _validate_unblock_case(self, cmd: UnblockCommand) -> None:
        self.validate_unblock(cmd.actor)


def _ops_roles() -> tuple[Role, ...]:
    return (Role.OPS_ENGINEER,)


def initial_search_attributes(case_type: str, region_code: str, status: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.CASE_TYPE, case_type),
            SearchAttributePair(sa.REGION_CODE, region_code),
            SearchAttributePair(sa.REGION_PATH, region_path(region_code)),
            SearchAttributePair(sa.CASE_STATUS, status),
            SearchAttributePair(sa.OVERDUE, False),
        ]
    )
