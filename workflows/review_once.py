"""Review once, then pay once: the case kit's piece for a case whose application rounds each end in
one reviewer decision (approve, or reject with reason and remedy after which the person may apply
again), and whose approval leads to one payment under the case's idempotency key. The premium
refund (``workflows/premium_refund.py``) and the skill subsidy (``workflows/skill_subsidy.py``) are
built on it; each keeps its own checks, approval, payment step and notices.

What it owns, so the two types no longer copy it: the decision desk (one level, ``review``), the
round's opening and review with its reminder and escalation, the decision's validation (the
desk's checks, ``case.decided`` for a decided or closed case, a rejection's reason and remedy),
the Update's hand-off and receipt, the wait for a re-application, closing, the projection's
common fields and the ``Deadline`` search attribute.

Replay: the command sequence of both types is exactly what it was (the same activities and timers
in the same order, called from here instead of from each type), so recorded histories replay
without a patch. A host sets the class attributes below and ``state``/``inp`` with the fields both
states and inputs share (status, stage, rounds, overdue, escalated, close_reason...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa
    from models.case import CaseProjection, DecisionReceipt, Notification, local_date
    from models.enums import CaseType, LabelledEnum, Role, StageEnum
    from models.notice import NoticeKind, date_zh
    from models.review_once import OnceDecision, OnceDecisionCommand
    from policy.identity import mask_resident_id
    from workflows.base import UnblockableCase, refuse, region_path
    from workflows.review_levels import MIN_REASON, DecisionDesk

LEVEL = "review"
LEVEL_LABEL = "审核"
RoundOutcome = Literal["paid", "closed", "rejected"]


def _authority(case_region: str, _level: str) -> list[str]:
    return region_path(case_region)


class ReviewOnceCase(UnblockableCase):
    """The shared steps; a host defines ``_round`` (checks, decision, payment) and its Updates."""

    #: The case as staff and the person read it (``医保费返还申请``) and as staff messages name it.
    NOUN: ClassVar[str]
    STAFF_NOUN: ClassVar[str]
    #: The prefix of the audit actions (``premium_refund.approve``) and of timeline entries (``refund``).
    AUDIT_AREA: ClassVar[str]
    AREA: ClassVar[str]
    CASE_TYPE: ClassVar[CaseType]
    #: The notification templates to staff: reminder and escalation.
    REMIND_TEMPLATE: ClassVar[str]
    OVERDUE_TEMPLATE: ClassVar[str]
    STATUS: ClassVar[type[LabelledEnum]]
    STAGE: ClassVar[type[StageEnum]]
    STATUS_LABELS: ClassVar[Mapping[Any, str]]
    #: The refusal of a rejection without reason and remedy.
    REASON_REQUIRED_ZH: ClassVar[str]

    state: Any
    inp: Any
    desk: DecisionDesk[OnceDecision]
    _reapply: Any

    def _init_case(self, inp: Any) -> dict[str, Any]:
        """In the host's ``@workflow.init``: the base, the input, the desk; returns the state fields
        every review-once case starts with (the host adds its own and builds its state)."""
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        app = inp.application
        self.region_code = app.region_code
        self._init_review(app.region_code)
        return {
            "case_id": inp.case_id,
            "status": self.STATUS("checking"),
            "stage": self.STAGE("checks"),
            "region_code": app.region_code,
            "channel": inp.channel,
            "received_at": inp.received_at,
            "applicant_name": app.name,
            "applicant_id_masked": mask_resident_id(app.id_number),
        }

    def _init_review(self, region_code: str) -> None:
        self.desk = DecisionDesk(
            case_noun_zh=self.NOUN,
            case_region=region_code,
            applicant_key=self.inp.applicant_key,
            authority=_authority,
            excluded_logins=(self.inp.submitted_by,),
        )
        self._reapply = None

    def _set(self, status: str, stage: str) -> None:
        self.state.status, self.state.stage = self.STATUS(status), self.STAGE(stage)

    # --- the rounds ------------------------------------------------------------------------------------

    async def _round(self) -> RoundOutcome:
        raise NotImplementedError

    async def _rounds(self) -> None:
        """Rounds until one pays or closes; after a rejection, the next round when the person
        applies again within the window, else the case closes."""
        while True:
            if await self._round() != "rejected":
                break
            if not await self._wait_reapply():
                await self._close("reapply_window_expired", "重新申请期限已过，案件办结")
                break
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _open_round(self, round_cls: Callable[..., Any]) -> Any:
        rnd = round_cls(n=len(self.state.rounds) + 1, started_at=workflow.now())
        self.state.rounds.append(rnd)
        self._set("checking", "checks")
        self.state.overdue = self.state.escalated = False
        await self.project()
        return rnd

    async def _review(
        self, rnd: Any, limit_days: int, what: str, text_zh: str, **evidence: Any
    ) -> OnceDecision:
        """The checks are done and the round's deadline known: under review until the reviewer
        decides (reminder before the limit, escalation after it); the decision audited."""
        self._set("under_review", "review")
        self.record("system", "uiflow", what, text_zh, **evidence)
        await self.project()
        await self.wait_with_deadline(
            lambda: self.desk.waiting,
            rnd.deadline,
            reminded=lambda: rnd.reminded_at is not None,
            overdue=lambda: rnd.overdue_at is not None,
            on_reminder=lambda: self._remind(rnd),
            on_overdue=lambda: self._escalate(rnd, limit_days),
        )
        d, actor = await self.desk.take()
        rnd.decision = d
        await self.audit(
            actor,
            f"{self.AUDIT_AREA}.{d.action}",
            {"round": rnd.n, "reason": d.reason, "remedy": d.remedy, "note": d.note},
        )
        return d

    async def _remind(self, rnd: Any) -> None:
        rnd.reminded_at = workflow.now()
        self.record("system", "uiflow", "review.reminder", "审核时限即将届满，已提醒审核员")
        await self.notify_staff(
            Role.REVIEWER.value,
            self.region_code,
            self.REMIND_TEMPLATE,
            f"{self.STAFF_NOUN}{self.case_id}即将到期，请尽快审核。",
        )

    async def _escalate(self, rnd: Any, limit_days: int) -> None:
        rnd.overdue_at = workflow.now()
        self.state.overdue = self.state.escalated = True
        self.record(
            "system", "uiflow", "review.escalated", f"已超过{limit_days}个工作日审核时限，已报告业务主管"
        )
        await self.project()
        await self.notify_staff(
            Role.SUPERVISOR.value,
            self.region_code,
            self.OVERDUE_TEMPLATE,
            f"{self.STAFF_NOUN}{self.case_id}已超过审核时限。",
        )

    async def _wait_reapply(self) -> bool:
        """Whether the person applied again within the window (``_reapplied`` records it)."""
        try:
            await workflow.wait_condition(
                lambda: self._reapply is not None,
                timeout=timedelta(days=self.inp.timings.reapply_window_days),
            )
        except TimeoutError:
            return False
        r = self._reapply
        self._reapply = None
        self._reapplied(r)
        return True

    def _reapplied(self, r: Any) -> None:
        raise NotImplementedError

    async def _tell(self, template: str, text_zh: str) -> None:
        """A message to the person the case is about (their phone from the encrypted input)."""
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
        self._set("closed", "closed")
        self.state.close_reason = reason
        self.record("system", "uiflow", f"{self.AREA}.closed", text_zh, reason=reason)
        await self.project()

    # --- the decision: validator, hand-off, receipt -------------------------------------------------------

    def _check_decision(self, cmd: OnceDecisionCommand) -> None:
        """What every decision of a review-once case is checked for (validators only)."""
        s = self.state
        label = self.STATUS_LABELS[s.status]
        self.desk.check_undecided(
            decided=s.status.value in ("approved", "paid"), closed=s.status.value == "closed", status_zh=label
        )
        self.desk.check_free()
        if s.status.value != "under_review":
            raise refuse("review.stage", f"该申请当前状态为“{label}”，不能作出审核决定")
        self.desk.check_target(cmd, LEVEL, LEVEL_LABEL, len(s.rounds))
        self.desk.check_staff(cmd.actor, LEVEL, "审核决定", Role.REVIEWER)
        if cmd.action == "reject" and (
            len(cmd.reason.strip()) < MIN_REASON or len(cmd.remedy.strip()) < MIN_REASON
        ):
            raise refuse("review.reason_required", self.REASON_REQUIRED_ZH)

    async def _decide(
        self, cmd: OnceDecisionCommand, make: Callable[..., OnceDecision], approved_zh: str, rejected_zh: str
    ) -> DecisionReceipt:
        """The Update's handler: checked by the validator only (``DecisionDesk.submit``), handed to
        the round and answered on acceptance (``DecisionDesk.answer``)."""
        d = make(
            action=cmd.action,
            by=cmd.actor.login,
            at=workflow.now(),
            reason=cmd.reason.strip(),
            remedy=cmd.remedy.strip(),
            note=cmd.note,
        )
        await self.desk.answer(self.desk.submit(d, cmd.actor))
        return self._receipt(approved_zh if cmd.action == "approve" else rejected_zh)

    def _take_reapply(self, ev: Any, message_zh: str) -> DecisionReceipt:
        self._reapply = ev
        return self._receipt(message_zh)

    def _check_reapply(self) -> None:
        if self.state.status.value != "rejected" or self._reapply is not None:
            raise refuse("review.stage", "只有未通过且在重新申请期限内的申请可以重新申请")

    async def _notice(
        self, kind: NoticeKind, key: str, facts: dict[str, str], rows: list[Any] | None = None
    ) -> str:
        """Issue the step's official notice (shared notices mechanism); returns the sentence the
        message to the person ends with."""
        return await self.notice_for_person(
            kind,
            key,
            person_name=self.inp.application.name,
            person_id_masked=self.state.applicant_id_masked,
            facts={"applied_on": date_zh(local_date(self.state.received_at))} | facts,
            rows=rows,
        )

    def _receipt(self, message_zh: str) -> DecisionReceipt:
        return DecisionReceipt(
            case_id=self.case_id,
            status=self.state.status.value,
            stage=self.state.stage,
            round=len(self.state.rounds),
            message_zh=message_zh,
            processing=self.desk.busy,
        )

    def processing(self) -> bool:
        return self.desk.busy

    # --- projection ------------------------------------------------------------------------------------

    def _under_review_deadline(self) -> Any:
        rnd = self.state.current_round
        if rnd and rnd.deadline and self.state.status.value == "under_review":
            return rnd.deadline
        return None

    def _case_projection(self, summary: dict[str, Any], **extra: Any) -> CaseProjection:
        """The read-model row: the fields every review-once case fills, with the type's summary
        (after its status label; the payment and the close reason added here)."""
        s = self.state
        rnd = s.current_round
        summary = {"status_label": self.STATUS_LABELS[s.status], **summary}
        if s.payment is not None:
            summary["paid_amount"] = str(s.payment.amount)
        if s.close_reason:
            summary["close_reason"] = s.close_reason
        deadline = self._under_review_deadline()
        return CaseProjection(
            case_id=self.case_id,
            case_type=self.CASE_TYPE,
            status=s.status.value,
            stage=s.stage,
            region_code=s.region_code,
            applicant_key=self.inp.applicant_key,
            applicant_name=s.applicant_name,
            applicant_id_masked=s.applicant_id_masked,
            channel=s.channel.value,
            received_at=s.received_at,
            deadline=deadline.deadline if deadline else None,
            overdue=s.overdue,
            escalated=s.escalated,
            rounds=len(s.rounds),
            summary=summary,
            decided_at=rnd.decision.at if rnd and rnd.decision else None,
            closed_at=workflow.now() if s.status.value in ("paid", "closed") else None,
            version=0,
            **extra,
        )

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        deadline = self._under_review_deadline()
        return [sa.DEADLINE.value_set(deadline.deadline_at)] if deadline else []


__all__ = ["LEVEL", "LEVEL_LABEL", "ReviewOnceCase", "RoundOutcome"]
