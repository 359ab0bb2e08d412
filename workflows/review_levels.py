"""The review kit: the one way a case takes a staff decision, as a reusable piece of a case workflow.

Why a separate piece: every case type decides through staff (a claim at one level, a stop-reason
dispute at 初审、复审、终审, refunds and subsidies likely at several), and a decision has the same
mechanics everywhere: the validator checks, the handler hands the decision to the case's ``run``,
``run`` processes it (audit, state, next level) and only then does the Update return. Two pieces:

- ``DecisionDesk``: that hand-off and the checks every decision shares (busy, level, round, role,
  region, own case, intake). A one-level case (the claim) uses it directly, with its own actions;
- ``MultiLevelReview``: a chain of levels in order on a desk, each with its role, its working-day
  limit with a reminder and an escalation, and three decisions (approve to the next level, reject
  to end the case, send back to the previous level with a note). Separation of duties is per
  person: one person acts at one level of a case only, never on their own case, and never on a
  case they took in.

How a case workflow uses the chain (see ``workflows/stop_reason_dispute.py``):

1. build ``MultiLevelReview(self, specs, ...)`` in ``@workflow.init``, where ``self`` is a
   ``CaseWorkflowBase`` (the chain records, audits, projects and notifies through it) and
   ``authority(case_region, level_key)`` returns the regions whose staff may act at that level;
2. declare one Update per level, whose validator is ``review.validate(key, cmd)`` and whose
   handler is ``await review.decide(key, cmd)``;
3. in ``run``, ``outcome = await review.run(on_finished)``: ``on_finished`` lets the case set its
   own status before the deciding Update returns, so the reviewer sees the case as it now stands.

Answered on acceptance (patch ``decision-answer-on-acceptance``, issue 19): the Update returns its
receipt as soon as the handler has handed the decision to ``run``. The decision is durable by then:
the Update's acceptance (with its command) is in the history, and a worker that replays it hands
the same decision to ``run`` again, so the audit, the entitlement, the child start, the projection
and the notice run once, after the answer, in ``run``. The receipt says ``processing`` until then.
Histories recorded before the patch replay as they ran: the handler waited for ``run``. From
patch ``decision-answer-before-steps`` on, ``run`` takes the decision only after the accepting
workflow task has completed (``DecisionDesk.take``), so the answer does not wait for the steps'
local activities, which the SDK completes with the task they were started in.

Race-proof: a decision is *being processed* from the moment its handler takes it until ``run``
says it is done (audit written, next level open); meanwhile every validator refuses with
``review.busy``. Two Updates in one workflow task cannot both pass: the first one's handler hands
its decision over in the same step as its validator, before the second validator runs. Answering
on acceptance does not shorten that window: a second decision sent while the first is applied is
refused, deterministically, exactly as before. A
command naming the level or round it was made for is refused for any other
(``review.wrong_level`` / ``review.wrong_round``), so a decision can never land on the next level.

Only validators check; a handler never checks again. On replay the SDK skips validators (the
acceptance is in history) and runs the handler where the core places the Update's job, which after
a worker kill can be an earlier activation than the live one (the drill's ``TMPRL1100 … Update
machine does not handle this event: UpsertWorkflowSearchAttributes``: an approval accepted while
the review's projection was in flight, replayed in the activation that opens the review, where a
second check in the handler saw "checking" and refused what had been accepted).
``tests/workflow/test_decision_replay.py`` replays that shape.

Refusals are ``ApplicationError`` whose ``type`` is a stable code (``review.wrong_level``,
``review.wrong_round``, ``review.unknown_level``, ``review.role``, ``review.region``,
``review.separation``, ``review.own_case``, ``review.intake``, ``review.busy``,
``review.stage``, ``review.conflict``, ``review.reason_required``, ``review.note_required``,
``review.invalid``, ``review.cannot_send_back``) and whose message is the Chinese text for staff,
so the API can return a structured refusal. A decision on a case already decided or closed is
refused by the desk (``check_undecided``) with the one code ``case.decided`` on every type.
Raised in a validator, they leave no trace in history.

Deterministic: time from ``workflow.now()``; deadlines come from the host's deadline activity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Generic, Literal, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa
    from models.case import DecisionReceipt
    from models.enums import Role
    from models.review import (
        REVIEW_ACTION_LABELS,
        DecisionTarget,
        ReviewAction,
        ReviewChainState,
        ReviewCommand,
        ReviewDecision,
        ReviewLevelSpec,
        ReviewLevelState,
    )
    from models.staff import StaffActor
    from workflows.base import CaseWorkflowBase, refuse

Authority = Callable[[str, str], Collection[str]]
Outcome = Literal["approved", "rejected"]
D = TypeVar("D")

MIN_REASON = 4
MIN_NOTE = 2

#: The one code of "the decision is taken / the case is closed", on every case type.
DECIDED_CODE = "case.decided"

#: The patch under which a decision's Update answers when accepted, not when processed.
ANSWER_ON_ACCEPTANCE = "decision-answer-on-acceptance"
#: The patch under which the workflow task that accepts a decision carries no steps of it.
ANSWER_BEFORE_STEPS = "decision-answer-before-steps"
#: The timer that ends that workflow task: the shortest the server keeps (it fires at once).
ANSWER_GAP = timedelta(milliseconds=1)

__all__ = [
    "ANSWER_BEFORE_STEPS",
    "ANSWER_ON_ACCEPTANCE",
    "DECIDED_CODE",
    "DecisionDesk",
    "MultiLevelReview",
    "Outcome",
    "refuse",
]


class DecisionDesk(Generic[D]):
    """The hand-off of one staff decision at a time from its Update handler to the case's ``run``.

    ``D`` is the case's own record of a decision (``ReviewDecision`` for a chain, the claim's
    ``Decision``). Handler: ``check_free()`` then ``n = submit(d, actor)`` then
    ``await answer(n)``. Run loop: wait for ``waiting``, ``take()``, process, ``done()``."""

    def __init__(
        self,
        *,
        case_noun_zh: str,
        case_region: str,
        applicant_key: str,
        authority: Authority,
        excluded_logins: Collection[str] = (),
        area: str = "review",
    ) -> None:
        self.noun = case_noun_zh
        # The refusal codes' area (``<area>.role``...): a case whose staff act outside a review
        # chain (the benefit period's Updates) refuses under its own name.
        self.area = area
        self.case_region = case_region
        self.applicant_key = applicant_key
        self.authority = authority
        self.excluded = frozenset(excluded_logins)
        self._pending: tuple[D, StaffActor] | None = None
        self._seen = 0
        self._done = 0
        self._held = 0

    # --- checks every decision shares (validators: no state change) ---------------------------------

    @property
    def busy(self) -> bool:
        """A decision was taken and is not processed yet (its audit, the next level), or a staff
        operation that runs its own steps in its handler holds the desk (``occupied``)."""
        return self._seen > self._done or self._held > 0

    def check_free(self) -> None:
        if self.busy:
            raise refuse(f"{self.area}.busy", f"该{self.noun}正在处理另一项决定或业务，请稍后刷新再试")

    @contextmanager
    def occupied(self) -> Iterator[None]:
        """For an operation whose handler runs its own steps (the benefit period's staff
        operations: evidence, the bank's check) instead of handing them to ``run``: the desk is
        busy meanwhile, so every other decision is refused (``<area>.busy``), as while ``run``
        applies a submitted one. State only, no command: replay-safe."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1

    def check_undecided(self, *, decided: bool = False, closed: bool = False, status_zh: str = "") -> None:
        """The one refusal of a decision on a case whose decision is taken or that is closed, for
        every case type and before and after its workflow finishes: ``case.decided`` (what the API
        answers for a finished case too), with the Chinese message naming the case's state."""
        if closed:
            raise refuse(DECIDED_CODE, f"该{self.noun}已办结，不能再作决定")
        if decided:
            state = f"（{status_zh}）" if status_zh else ""
            raise refuse(DECIDED_CODE, f"该{self.noun}已作出决定{state}，不能再作决定")

    def check_target(self, cmd: DecisionTarget, level_key: str, level_label: str, round_no: int) -> None:
        if cmd.level is not None and cmd.level != level_key:
            raise refuse(
                "review.wrong_level",
                f"该{self.noun}当前处于{level_label}阶段，您的决定是针对其他审核层级作出的",
            )
        if cmd.round is not None and cmd.round != round_no:
            raise refuse(
                "review.wrong_round",
                f"该{self.noun}已进入第{round_no}轮{level_label}，您的决定针对第{cmd.round}轮，请刷新后重新审核",
            )

    def check_staff(self, actor: StaffActor, level_key: str, what_zh: str, *roles: Role) -> None:
        """Role, regional authority, own case (回避) and intake (岗位分离)."""
        if not actor.has(*roles):
            names = "或".join(r.label for r in roles)
            raise refuse(f"{self.area}.role", f"只有{names}可以进行{what_zh}")
        self.check_region(actor, level_key, what_zh)
        if actor.applicant_key and actor.applicant_key == self.applicant_key:
            raise refuse(f"{self.area}.own_case", f"不能审核与本人有关的{self.noun}（回避）")
        if actor.login in self.excluded:
            raise refuse(f"{self.area}.intake", f"受理人不能审核本人受理的{self.noun}（岗位分离）")

    def check_region(self, actor: StaffActor, level_key: str, what_zh: str) -> None:
        if actor.region_code not in self.authority(self.case_region, level_key):
            raise refuse(
                f"{self.area}.region", f"按本地区的业务授权，您所在地区无权对该{self.noun}进行{what_zh}"
            )

    # --- the hand-off ---------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The number the next submitted decision gets (1, 2, ... per case)."""
        return self._seen + 1

    def submit(self, decision: D, actor: StaffActor) -> int:
        """In the handler: the decision goes to ``run``. Called without checking again: the
        validator accepted it live, and on replay a check here could see the case at an earlier
        point than the validator did (module docstring) and refuse an accepted decision."""
        self._seen += 1
        self._pending = (decision, actor)
        return self._seen

    async def processed(self, n: int) -> None:
        await workflow.wait_condition(lambda: self._done >= n)

    async def answer(self, n: int) -> None:
        """When the handler of decision ``n`` may return. From the patch on: at once, the decision
        being in the history with the Update's acceptance (``run`` processes it after; the desk
        stays busy until then). Before it (recorded histories): once ``run`` has processed it."""
        if workflow.patched(ANSWER_ON_ACCEPTANCE):
            return
        await self.processed(n)

    @property
    def waiting(self) -> bool:
        return self._pending is not None

    @property
    def pending(self) -> tuple[D, StaffActor] | None:
        return self._pending

    async def take(self) -> tuple[D, StaffActor]:
        """In ``run``: the submitted decision, once its Update's answer has left.

        From patch ``decision-answer-before-steps`` on, ``run`` first lets the workflow task that
        accepted the Update complete (a one-millisecond timer is the only command in it), and only
        then starts the decision's steps. Without it the answer travelled in the same workflow task
        as the steps' local activities (audit, entitlement, projection, notice), so the reviewer
        waited for all of them after all: 736 ms p50 with 20 decisions in flight on a quiet
        machine (docs/benchmarks.md). The desk stays busy across the timer."""
        assert self._pending is not None
        taken, self._pending = self._pending, None
        if workflow.patched(ANSWER_BEFORE_STEPS):
            await workflow.sleep(ANSWER_GAP)
        return taken

    def done(self) -> None:
        """``run`` finished processing the decision taken last: its Update returns, the desk is free."""
        self._done += 1


class MultiLevelReview:
    def __init__(
        self,
        host: CaseWorkflowBase,
        specs: Sequence[ReviewLevelSpec],
        *,
        case_region: str,
        applicant_key: str,
        authority: Authority,
        case_noun_zh: str,
        audit_prefix: str,
        excluded_logins: Collection[str] = (),
    ) -> None:
        if not specs:
            raise ValueError("a review chain needs at least one level")
        self.host = host
        self.case_region = case_region
        self.noun = case_noun_zh
        self.audit_prefix = audit_prefix
        self.desk: DecisionDesk[ReviewDecision] = DecisionDesk(
            case_noun_zh=case_noun_zh,
            case_region=case_region,
            applicant_key=applicant_key,
            authority=authority,
            excluded_logins=excluded_logins,
        )
        self.state = ReviewChainState(
            levels=[
                ReviewLevelState(
                    key=s.key,
                    label_zh=s.label_zh,
                    role=s.role,
                    working_days=s.working_days,
                    reminder_working_days=s.reminder_working_days,
                )
                for s in specs
            ]
        )

    # --- validation (Update validators; must not change state) ------------------------------------------

    def validate(self, key: str, cmd: ReviewCommand) -> None:
        level = self.state.level(key)
        if level is None:
            raise refuse("review.unknown_level", f"{self.noun}没有“{key}”这一审核层级")
        current = self.state.open_level
        self.desk.check_undecided(closed=self.state.outcome != "pending")
        self.desk.check_free()
        if current is None or current.key != key:
            where = f"当前处于{current.label_zh}阶段" if current else "尚未进入审核阶段"
            raise refuse("review.wrong_level", f"该{self.noun}{where}，不能进行{level.label_zh}")
        self.desk.check_target(cmd, key, level.label_zh, level.passes)
        actor = cmd.actor
        self.desk.check_staff(actor, key, level.label_zh, level.role)
        other = self._acted_at(actor.login)
        if other is not None and other != key:
            other_label = (self.state.level(other) or level).label_zh
            raise refuse(
                "review.separation",
                f"您已参与本{self.noun}的{other_label}，同一人只能参与一个审核层级（岗位分离）",
            )
        if cmd.action == ReviewAction.REJECT and len(cmd.reason.strip()) < MIN_REASON:
            raise refuse("review.reason_required", "不予通过时必须写明理由（将告知申请人）")
        if cmd.action == ReviewAction.SEND_BACK:
            if self._index(key) == 0:
                raise refuse("review.cannot_send_back", f"{level.label_zh}是第一级审核，不能退回")
            if len(cmd.note.strip()) < MIN_NOTE:
                raise refuse("review.note_required", "退回时必须写明退回原因")

    def _acted_at(self, login: str) -> str | None:
        for d in self.state.decisions:
            if d.by == login:
                return d.level
        pending = self.desk.pending
        if pending is not None and pending[0].by == login:
            return pending[0].level
        return None

    def _index(self, key: str) -> int:
        return next(i for i, lv in enumerate(self.state.levels) if lv.key == key)

    # --- the Update handler -------------------------------------------------------------------------

    async def decide(self, key: str, cmd: ReviewCommand) -> ReviewDecision:
        """Hand the decision to ``run`` and return once it is processed (the next level open, or
        the case's own ``on_finished`` done). Not validated again (module docstring)."""
        level = self.state.level(key)
        assert level is not None
        decision = ReviewDecision(
            seq=self.desk.next_seq,
            level=key,
            level_label=level.label_zh,
            pass_no=level.passes,
            action=cmd.action,
            by=cmd.actor.login,
            by_name=cmd.actor.name,
            by_roles=[r.value for r in cmd.actor.roles],
            by_region=cmd.actor.region_code,
            at=workflow.now(),
            reason=cmd.reason.strip(),
            note=cmd.note.strip(),
        )
        await self.desk.answer(self.desk.submit(decision, cmd.actor))
        return decision

    # --- the chain ------------------------------------------------------------------------------------

    async def run(self, on_finished: Callable[[Outcome], Awaitable[None]]) -> Outcome:
        idx = 0
        await self._open(idx)
        while True:
            level = self.state.levels[idx]
            await self._wait_for_decision(level)
            decision, actor = await self.desk.take()
            self.state.decisions.append(decision)
            if decision.by not in level.reviewers:
                level.reviewers.append(decision.by)
            outcome: Outcome | None = None
            if decision.action == ReviewAction.APPROVE:
                level.status = "approved"
                if idx == len(self.state.levels) - 1:
                    outcome = "approved"
            elif decision.action == ReviewAction.REJECT:
                level.status = "rejected"
                outcome = "rejected"
            else:
                level.status = "sent_back"
            self._record(decision, idx)
            await self.host.audit(
                actor,
                f"{self.audit_prefix}.{decision.level}.{decision.action.value}",
                {
                    "level": decision.level,
                    "decision": decision.action.value,
                    "round": decision.pass_no,
                    "seq": decision.seq,
                    "reason": decision.reason,
                    "note": decision.note,
                },
            )
            if outcome is not None:
                self.state.current = None
                self.state.outcome = outcome
                self.state.overdue = False
                await on_finished(outcome)
                self.desk.done()
                return outcome
            idx = idx + 1 if decision.action == ReviewAction.APPROVE else idx - 1
            await self._open(idx)
            self.desk.done()

    async def _wait_for_decision(self, level: ReviewLevelState) -> None:
        """Until a decision arrives: the reminder before the level's limit, escalation after it."""
        assert level.deadline is not None
        await self.host.wait_with_deadline(
            lambda: self.desk.waiting,
            level.deadline,
            reminded=lambda: level.reminded_at is not None,
            overdue=lambda: level.overdue_at is not None,
            on_reminder=lambda: self._remind(level),
            on_overdue=lambda: self._escalate(level),
        )

    async def _open(self, idx: int) -> None:
        level = self.state.levels[idx]
        now = workflow.now()
        # The deadline first: a level is open for decisions only once its limit is known.
        level.deadline = await self.host.deadline(now, level.reminder_working_days, level.working_days)
        level.status = "open"
        level.passes += 1
        level.opened_at = now
        level.reminded_at = None
        level.overdue_at = None
        self.state.current = level.key
        self.state.overdue = False
        again = f"（第{level.passes}次）" if level.passes > 1 else ""
        self.host.record(
            "system",
            "uiflow",
            f"review.{level.key}.opened",
            f"进入{level.label_zh}{again}，办理时限{level.deadline.deadline.isoformat()}"
            f"（{level.deadline.working_days}个工作日）",
            level=level.key,
            deadline=level.deadline.deadline.isoformat(),
            calendar_version=level.deadline.calendar_version,
        )
        await self.host.project()
        await self.host.notify_staff(
            level.role.value,
            self.case_region,
            "review_assigned",
            f"{self.noun}{self.host.case_id}待{level.label_zh}，请于{level.deadline.deadline.isoformat()}前办理。",
        )

    def _record(self, d: ReviewDecision, idx: int) -> None:
        label = REVIEW_ACTION_LABELS[d.action]
        if d.action == ReviewAction.REJECT:
            text = f"{d.level_label}{label}：{d.reason}"
        elif d.action == ReviewAction.SEND_BACK:
            text = f"{d.level_label}{label}（{self.state.levels[idx - 1].label_zh}）：{d.note}"
        else:
            text = f"{d.level_label}{label}" + (f"：{d.note}" if d.note else "")
        self.host.record(
            "staff",
            d.by,
            f"review.{d.level}.{d.action.value}",
            text,
            level=d.level,
            decision=d.action.value,
            by_region=d.by_region,
            seq=d.seq,
        )

    async def _remind(self, level: ReviewLevelState) -> None:
        level.reminded_at = workflow.now()
        assert level.deadline is not None
        self.host.record(
            "system",
            "uiflow",
            f"review.{level.key}.reminder",
            f"{level.label_zh}时限提醒：办理时限为{level.deadline.deadline.isoformat()}",
        )
        await self.host.notify_staff(
            level.role.value,
            self.case_region,
            "review_reminder",
            f"{self.noun}{self.host.case_id}的{level.label_zh}将于{level.deadline.deadline.isoformat()}到期，请及时办理。",
        )

    async def _escalate(self, level: ReviewLevelState) -> None:
        level.overdue_at = workflow.now()
        self.state.overdue = True
        self.state.escalated = True
        assert level.deadline is not None
        self.host.record(
            "system",
            "uiflow",
            f"review.{level.key}.overdue",
            f"{level.label_zh}已超过办理时限（{level.deadline.deadline.isoformat()}），已上报业务主管督办",
        )
        await self.host.project()
        await self.host.notify_staff(
            "supervisor",
            self.case_region,
            "review_overdue",
            f"{self.noun}{self.host.case_id}的{level.label_zh}已超过{level.working_days}个工作日办理时限"
            f"（{level.deadline.deadline.isoformat()}），请督办。",
        )

    # --- for the case's projection ----------------------------------------------------------------------

    def deadline_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        """The open level's deadline as the ``Deadline`` search attribute (none between levels)."""
        level = self.state.open_level
        if level is not None and level.deadline is not None:
            return [sa.DEADLINE.value_set(level.deadline.deadline_at)]
        return []

    async def decide_receipt(
        self, key: str, cmd: ReviewCommand, status: Callable[[], str], stage: Callable[[], str]
    ) -> DecisionReceipt:
        """``decide``, answered with the receipt every chain case returns: status and stage as they
        stand when the Update returns, ``processing`` while ``run`` is still applying the decision."""
        d = await self.decide(key, cmd)
        return DecisionReceipt(
            case_id=self.host.case_id,
            status=status(),
            stage=stage(),
            round=d.seq,
            message_zh=f"{d.level_label}{REVIEW_ACTION_LABELS[d.action]}，已记录",
            processing=self.desk.busy,
        )

    @property
    def last_decision(self) -> ReviewDecision | None:
        return self.state.decisions[-1] if self.state.decisions else None

    def final_approver(self) -> ReviewDecision | None:
        last = self.state.levels[-1].key
        return next(
            (
                d
                for d in reversed(self.state.decisions)
                if d.level == last and d.action == ReviewAction.APPROVE
            ),
            None,
        )
