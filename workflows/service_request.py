"""A consultation, complaint, suggestion or request for online guidance (畅通申诉渠道, notice item 8)
as one durable workflow per request, on the case kit.

Lifecycle: received (counter, phone, the 12333 hotline's work order, online, or the 办不成事
window) → linked to the case it names → answered at once when the receiver could (the answer is
recorded and the request closes) → otherwise assigned by region and topic with a first-contact
limit in hours and a resolution limit in working days (``policy/params/service_request.yaml``),
each with a reminder and, past it, an escalation to the supervisor (``wait_with_deadline``); a
办不成事 request goes to a supervisor at once → staff contact and answer the person (a notice;
for a hotline order also the reply to the hotline) → the person's satisfaction, from the
hotline's return-visit callback (Signal) or a follow-up call staff record: not satisfied reopens
the request once, escalated to the supervisor → closed, and a hotline order gets its closing
report back.

Staff act through three Updates (``contact``, ``answer``, ``follow_up``) handed to ``run`` by the
kit's ``DecisionDesk`` (busy, role, region, own case); a refused action never touches history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.service_request import (
        HotlineClose,
        HotlineReply,
        LimitsQuery,
        LinkRequest,
        ServiceRequestActivities,
    )
    from models import search_attributes as sa
    from models.case import CaseProjection, DeadlineInfo, DecisionReceipt, local_date
    from models.enums import Role
    from models.service_request import (
        CASE_TYPE,
        CHANNEL_LABELS,
        KIND_LABELS,
        SATISFACTION_LABELS,
        STATUS_LABELS,
        TOPIC_LABELS,
        TOPIC_ROLES,
        ActionKind,
        FeedbackEvent,
        RequestAction,
        RequestActionRecord,
        RequestStage,
        RequestStatus,
        Satisfaction,
        ServiceChannel,
        ServiceRequestInput,
        ServiceRequestResult,
        ServiceRequestState,
        mask_name,
    )
    from models.staff import StaffActor
    from workflows.base import UnblockableCase, refuse, region_path
    from workflows.review_levels import DecisionDesk

NOUN = "诉求"
HANDLER_ROLES = (Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR)
MIN_ANSWER = 4
#: Where staff may act: the request's region and the regions above it.
_DESK_KEY = "handle"

Pending = tuple[ActionKind, RequestAction]


def _authority(case_region: str, _level: str) -> frozenset[str]:
    return frozenset(region_path(case_region))


def received_state(inp: ServiceRequestInput) -> ServiceRequestState:
    """A request as it stands when received: the workflow's first state, and what the intake
    route writes as the request's first read-model row before it answers."""
    return ServiceRequestState(
        case_id=inp.case_id,
        kind=inp.kind,
        channel=inp.channel,
        status=RequestStatus.OPEN,
        stage=RequestStage.RECEIVED,
        region_code=inp.region_code,
        topic=inp.topic,
        content=inp.content,
        requester_masked=mask_name(inp.requester.name),
        linked_case_id=inp.linked_case_id,
        problem=inp.problem,
        hotline_order_id=inp.hotline_order_id,
        received_at=inp.received_at,
    )


def request_projection(
    inp: ServiceRequestInput, s: ServiceRequestState, closed_at: datetime | None
) -> CaseProjection:
    """The request's read-model row (pure: the workflow passes its clock's time of closing)."""
    summary: dict[str, Any] = {
        "status_label": STATUS_LABELS[s.status],
        "stage_label": s.stage.label_zh,
        "kind": s.kind.value,
        "kind_label": KIND_LABELS[s.kind],
        "channel_label": CHANNEL_LABELS[s.channel],
        "topic": s.topic,
        "linked_case_id": s.linked_case_id,
        "hotline_order_id": s.hotline_order_id,
        "answered_at_once": s.answered_at_once,
        "within_limit": s.within_limit,
        "satisfaction": s.satisfaction.value if s.satisfaction else None,
        "reopened": s.reopened,
        "problem": s.problem,
        "first_contact_due": s.first_contact_due.isoformat() if s.first_contact_due else None,
        "reported_to_hotline": s.reported_to_hotline,
    }
    return CaseProjection(
        case_id=s.case_id,
        case_type=CASE_TYPE,
        status=s.status.value,
        stage=s.stage.value,
        region_code=s.region_code,
        applicant_key=inp.requester.applicant_key,
        applicant_name=s.requester_masked,
        channel=s.channel.value,
        received_at=s.received_at,
        deadline=s.resolution_due,
        overdue=s.overdue,
        escalated=s.escalated,
        assigned_to=None,
        rounds=s.reopened,
        summary=summary,
        decided_at=s.answered_at,
        closed_at=closed_at,
        version=0,
    )


@workflow.defn
class ServiceRequestWorkflow(UnblockableCase):
    @workflow.init
    def __init__(self, inp: ServiceRequestInput) -> None:
        self._init_base()
        self.inp = inp
        self.case_id = inp.case_id
        self.region_code = inp.region_code
        self.desk: DecisionDesk[Pending] = DecisionDesk(
            case_noun_zh=NOUN,
            case_region=inp.region_code,
            applicant_key=inp.requester.applicant_key,
            authority=_authority,
        )
        self.state = received_state(inp)
        self._marks: set[str] = set()
        self._feedback: FeedbackEvent | None = None
        self._resolution: DeadlineInfo | None = None
        #: An answer given before any contact: it is both, processed by ``_resolve``.
        self._held: tuple[ActionKind, RequestAction, StaffActor] | None = None
        self._follow_up_taken = False

    # --- run -----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ServiceRequestInput) -> ServiceRequestResult:
        self.state.timeline = self.timeline
        await self._receive()
        if inp.answer_on_spot.strip() and inp.channel not in (
            ServiceChannel.HOTLINE,
            ServiceChannel.UNRESOLVED_WINDOW,
        ):
            await self._answered_at_once(inp.answer_on_spot.strip())
        else:
            await self._assign()
            await self._first_contact()
            while True:
                await self._resolve()
                satisfaction = await self._await_feedback()
                if satisfaction != Satisfaction.NOT_SATISFIED or self.state.reopened >= 1:
                    break
                await self._reopen()
                self._release_follow_up()
            await self._close()
        await workflow.wait_condition(workflow.all_handlers_finished)
        s = self.state
        return ServiceRequestResult(
            case_id=self.case_id,
            status=s.status,
            answered_at_once=s.answered_at_once,
            within_limit=s.within_limit,
            satisfaction=s.satisfaction,
            reopened=s.reopened,
            escalated=s.escalated,
        )

    # --- intake ----------------------------------------------------------------------------------------

    async def _receive(self) -> None:
        inp, by = self.inp, self.inp.submitted_by
        kind, channel = KIND_LABELS[inp.kind], CHANNEL_LABELS[inp.channel]
        self.record(
            "applicant" if inp.channel == ServiceChannel.ONLINE else "staff",
            by.login,
            "request.received",
            f"受理{kind}（{channel}，{TOPIC_LABELS.get(inp.topic, inp.topic)}）"
            + (f"，热线工单{inp.hotline_order_id}" if inp.hotline_order_id else "")
            + (f"，涉及案件{inp.linked_case_id}" if inp.linked_case_id else ""),
            kind=inp.kind.value,
            channel=inp.channel.value,
            topic=inp.topic,
            linked_case_id=inp.linked_case_id,
        )
        await self.audit(
            by,
            "request.received",
            {
                "kind": inp.kind.value,
                "channel": inp.channel.value,
                "topic": inp.topic,
                "linked_case_id": inp.linked_case_id,
                "hotline_order_id": inp.hotline_order_id,
            },
        )
        if inp.linked_case_id:
            await self.act(
                ServiceRequestActivities.link_request,
                LinkRequest(
                    request_id=self.case_id,
                    case_id=inp.linked_case_id,
                    kind=inp.kind.value,
                    channel=inp.channel.value,
                    at=workflow.now(),
                ),
            )
        await self.project()

    async def _answered_at_once(self, answer: str) -> None:
        by = self.inp.submitted_by
        now = workflow.now()
        s = self.state
        s.answered_at_once = True
        s.contacted_at = s.answered_at = now
        s.answer = answer
        s.within_limit = True
        s.actions.append(RequestActionRecord(kind="answer", by=by.login, at=now, note=answer))
        self.record("staff", by.login, "request.answered_at_once", f"当场答复：{answer}", answer=answer)
        await self.audit(by, "request.answered_at_once", {"answer": answer})
        await self._tell_requester("request_answered", f"您的{KIND_LABELS[s.kind]}已当场答复：{answer}")
        s.status = RequestStatus.CLOSED
        s.stage = RequestStage.CLOSED
        self.record("system", "uiflow", "request.closed", f"{NOUN}已当场答复办结")
        await self.project()

    async def _assign(self) -> None:
        s, inp = self.state, self.inp
        limits = await self.act(
            ServiceRequestActivities.request_limits, LimitsQuery(kind=inp.kind, received_at=inp.received_at)
        )
        s.limits = limits
        s.first_contact_due = inp.received_at + timedelta(hours=limits.first_contact_hours)
        self._resolution = await self.deadline(
            inp.received_at, limits.reminder_working_days, limits.resolution_working_days
        )
        s.resolution_due = self._resolution.deadline
        topic = TOPIC_LABELS.get(inp.topic, inp.topic)
        if inp.channel == ServiceChannel.UNRESOLVED_WINDOW:
            s.stage = RequestStage.SUPERVISOR
            s.assigned_role = Role.SUPERVISOR.value
            s.escalated = True
            self.record(
                "system",
                "uiflow",
                "request.to_supervisor",
                f"办不成事窗口受理，已即时转业务主管督办：{inp.problem or inp.content}"
                + (f"（涉及案件{inp.linked_case_id}）" if inp.linked_case_id else ""),
                linked_case_id=inp.linked_case_id,
            )
            await self.project()
            await self.notify_staff(
                Role.SUPERVISOR.value,
                self.region_code,
                "request_unresolved",
                f"办不成事{NOUN}{self.case_id}"
                + (f"（涉及案件{inp.linked_case_id}）" if inp.linked_case_id else "")
                + f"：{inp.problem or inp.content}，请即时督办。",
            )
            return
        s.stage = RequestStage.ASSIGNED
        s.assigned_role = TOPIC_ROLES.get(inp.topic, Role.REVIEWER).value
        self.record(
            "system",
            "uiflow",
            "request.assigned",
            f"按地区和事项（{topic}）分派{Role(s.assigned_role).label}承办，首次联系时限{s.first_contact_due.isoformat()}"
            f"（{limits.first_contact_hours}小时），办结时限{s.resolution_due.isoformat()}"
            f"（{limits.resolution_working_days}个工作日）",
            topic=inp.topic,
            first_contact_due=s.first_contact_due.isoformat(),
            resolution_due=s.resolution_due.isoformat(),
            parameter_version=limits.parameter_version,
        )
        await self.project()
        await self.notify_staff(
            s.assigned_role,
            self.region_code,
            "request_assigned",
            f"{KIND_LABELS[inp.kind]}{self.case_id}（{topic}）待办理，"
            f"请于{s.first_contact_due.isoformat()}前联系诉求人，{s.resolution_due.isoformat()}前办结。",
        )

    # --- first contact and resolution ---------------------------------------------------------------

    def _first_contact_deadline(self) -> DeadlineInfo:
        s = self.state
        assert s.limits is not None and s.first_contact_due is not None and self._resolution is not None
        due = s.first_contact_due
        reminder = due - timedelta(hours=s.limits.reminder_hours)
        return DeadlineInfo(
            start_day=local_date(s.received_at),
            deadline=local_date(due),
            deadline_at=due,
            reminder_at=reminder if reminder > s.received_at else None,
            working_days=0,
            calendar_version=self._resolution.calendar_version,
            parameter_version=s.limits.parameter_version,
        )

    async def _first_contact(self) -> None:
        await self._wait("first", self._first_contact_deadline(), "首次联系")
        kind, action, actor = await self._take()
        now = workflow.now()
        self.state.contacted_at = now
        if kind == "answer":
            # Answering is contacting: the answer is processed by ``_resolve``.
            self._held = (kind, action, actor)
            return
        if self.state.stage == RequestStage.ASSIGNED:
            self.state.stage = RequestStage.IN_PROGRESS
        self.record("staff", actor.login, "request.contacted", f"已联系诉求人：{action.note or '已电话联系'}")
        await self.audit(actor, "request.contacted", {"note": action.note})
        await self.project()
        self.desk.done()

    async def _resolve(self) -> None:
        held = self._held
        if held is None:
            assert self._resolution is not None
            await self._wait(f"resolution{self.state.reopened}", self._resolution, "办结")
            kind, action, actor = await self._take()
        else:
            kind, action, actor = held
            self._held = None
        assert kind == "answer"
        s = self.state
        now = workflow.now()
        assert self._resolution is not None
        s.answer = action.note.strip()
        s.answered_at = now
        s.contacted_at = s.contacted_at or now
        if not s.reopened:
            s.within_limit = now <= self._resolution.deadline_at
        s.status = RequestStatus.ANSWERED
        s.stage = RequestStage.AWAITING_FEEDBACK
        s.overdue = False
        self.record(
            "staff",
            actor.login,
            "request.answered",
            f"已答复诉求人{'（复办）' if s.reopened else ''}：{s.answer}",
            within_limit=s.within_limit,
        )
        await self.audit(actor, "request.answered", {"answer": s.answer, "reopened": s.reopened})
        await self.project()
        self.desk.done()
        await self._tell_requester(
            "request_answered", f"您反映的{KIND_LABELS[s.kind]}事项答复如下：{s.answer}"
        )
        if s.hotline_order_id:
            await self.act(
                ServiceRequestActivities.hotline_reply,
                HotlineReply(order_id=s.hotline_order_id, case_id=self.case_id, answer_zh=s.answer),
            )
            self.record("system", "uiflow", "hotline.replied", f"已向12333热线回复工单{s.hotline_order_id}")

    async def _await_feedback(self) -> Satisfaction | None:
        s = self.state
        assert s.limits is not None
        self._feedback = None
        try:
            await workflow.wait_condition(
                lambda: self.desk.waiting or self._feedback is not None,
                timeout=timedelta(hours=s.limits.follow_up_hours),
            )
        except TimeoutError:
            self.record("system", "uiflow", "request.no_feedback", "回访期限内未取得诉求人评价，按未评价办结")
            return None
        if self._feedback is not None:
            fb = self._feedback
            s.satisfaction = fb.satisfaction
            s.actions.append(
                RequestActionRecord(
                    kind="follow_up",
                    by="hotline-12333",
                    at=workflow.now(),
                    note=fb.comment,
                    satisfaction=fb.satisfaction,
                )
            )
            self.record(
                "external",
                "hotline-12333",
                "request.feedback",
                f"12333热线回访：{SATISFACTION_LABELS[fb.satisfaction]}"
                + (f"（{fb.comment}）" if fb.comment else ""),
                satisfaction=fb.satisfaction.value,
            )
        else:
            _, action, actor = await self._take()
            assert action.satisfaction is not None
            s.satisfaction = action.satisfaction
            self.record(
                "staff",
                actor.login,
                "request.feedback",
                f"回访记录：{SATISFACTION_LABELS[action.satisfaction]}"
                + (f"（{action.note}）" if action.note else ""),
                satisfaction=action.satisfaction.value,
            )
            await self.audit(actor, "request.follow_up", {"satisfaction": action.satisfaction.value})
            self._follow_up_taken = True  # released once the request is reopened or closed
        await self.project()
        return s.satisfaction

    async def _reopen(self) -> None:
        s = self.state
        assert s.limits is not None
        s.reopened += 1
        s.escalated = True
        s.status = RequestStatus.OPEN
        s.stage = RequestStage.REOPENED
        s.satisfaction = None
        self._resolution = await self.deadline(
            workflow.now(), s.limits.reminder_working_days, s.limits.resolution_working_days
        )
        s.resolution_due = self._resolution.deadline
        self.record(
            "system",
            "uiflow",
            "request.reopened",
            f"诉求人不满意，{NOUN}已复办并上报业务主管督办，办结时限{s.resolution_due.isoformat()}",
        )
        await self.project()
        await self.notify_staff(
            Role.SUPERVISOR.value,
            self.region_code,
            "request_reopened",
            f"{NOUN}{self.case_id}答复后诉求人不满意，已复办，请督办并于{s.resolution_due.isoformat()}前重新答复。",
        )

    async def _close(self) -> None:
        s = self.state
        s.status = RequestStatus.CLOSED
        s.stage = RequestStage.CLOSED
        label = SATISFACTION_LABELS[s.satisfaction] if s.satisfaction else "未评价"
        self.record("system", "uiflow", "request.closed", f"{NOUN}已办结（评价：{label}）")
        await self.project()
        self._release_follow_up()
        await self.audit(
            _system_actor(),
            "request.closed",
            {
                "satisfaction": s.satisfaction.value if s.satisfaction else None,
                "within_limit": s.within_limit,
            },
        )
        if s.hotline_order_id:
            await self.act(
                ServiceRequestActivities.hotline_close,
                HotlineClose(
                    order_id=s.hotline_order_id,
                    case_id=self.case_id,
                    result_zh=s.answer,
                    satisfaction=s.satisfaction.value if s.satisfaction else None,
                    within_limit=s.within_limit,
                ),
            )
            s.reported_to_hotline = True
            self.record(
                "system", "uiflow", "hotline.closed", f"已向12333热线报送工单{s.hotline_order_id}办结情况"
            )
        await self.project()

    def _release_follow_up(self) -> None:
        """The follow-up's Update returns once its consequence (reopened, closed) is in the state."""
        if self._follow_up_taken:
            self._follow_up_taken = False
            self.desk.done()

    # --- deadlines -------------------------------------------------------------------------------------

    async def _wait(self, key: str, deadline: DeadlineInfo, what_zh: str) -> None:
        await self.wait_with_deadline(
            lambda: self.desk.waiting,
            deadline,
            reminded=lambda: f"{key}.reminded" in self._marks,
            overdue=lambda: f"{key}.overdue" in self._marks,
            on_reminder=lambda: self._remind(key, deadline, what_zh),
            on_overdue=lambda: self._escalate(key, deadline, what_zh),
        )

    async def _remind(self, key: str, deadline: DeadlineInfo, what_zh: str) -> None:
        self._marks.add(f"{key}.reminded")
        at = deadline.deadline_at.isoformat()
        self.record("system", "uiflow", "request.reminder", f"{what_zh}时限提醒：{at}前办理")
        await self.notify_staff(
            self.state.assigned_role or Role.REVIEWER.value,
            self.region_code,
            "request_reminder",
            f"{NOUN}{self.case_id}的{what_zh}时限将于{at}到期，请及时办理。",
        )

    async def _escalate(self, key: str, deadline: DeadlineInfo, what_zh: str) -> None:
        self._marks.add(f"{key}.overdue")
        s = self.state
        s.overdue = True
        s.escalated = True
        at = deadline.deadline_at.isoformat()
        self.record("system", "uiflow", "request.overdue", f"已超过{what_zh}时限（{at}），已上报业务主管督办")
        await self.project()
        await self.notify_staff(
            Role.SUPERVISOR.value,
            self.region_code,
            "request_overdue",
            f"{KIND_LABELS[s.kind]}{self.case_id}已超过{what_zh}时限（{at}），请督办。",
        )

    # --- staff actions (Updates through the kit's desk) ------------------------------------------------

    async def _take(self) -> tuple[ActionKind, RequestAction, StaffActor]:
        (kind, action), actor = await self.desk.take()
        self.state.actions.append(
            RequestActionRecord(
                kind=kind,
                by=actor.login,
                at=workflow.now(),
                note=action.note,
                satisfaction=action.satisfaction,
            )
        )
        return kind, action, actor

    def _validate(self, kind: ActionKind, cmd: RequestAction) -> None:
        s = self.state
        self.desk.check_undecided(closed=s.stage == RequestStage.CLOSED)
        self.desk.check_free()
        allowed: dict[ActionKind, tuple[RequestStage, ...]] = {
            "contact": (RequestStage.ASSIGNED, RequestStage.SUPERVISOR),
            "answer": (
                RequestStage.ASSIGNED,
                RequestStage.IN_PROGRESS,
                RequestStage.SUPERVISOR,
                RequestStage.REOPENED,
            ),
            "follow_up": (RequestStage.AWAITING_FEEDBACK,),
        }
        if s.stage not in allowed[kind] or (kind == "contact" and s.contacted_at is not None):
            raise refuse("service.stage", f"该{NOUN}当前为“{s.stage.label_zh}”，不能进行此项操作")
        # A 办不成事 request (and one reopened after a not-satisfied reply) is the supervisor's.
        roles = (
            (Role.SUPERVISOR,)
            if s.stage == RequestStage.SUPERVISOR or s.stage == RequestStage.REOPENED
            else HANDLER_ROLES
        )
        self.desk.check_staff(cmd.actor, _DESK_KEY, "诉求办理", *roles)
        if kind == "answer" and len(cmd.note.strip()) < MIN_ANSWER:
            raise refuse("service.note_required", "答复诉求人时必须写明答复内容")
        if kind == "follow_up" and cmd.satisfaction is None:
            raise refuse("service.invalid", "回访记录必须选择满意度")

    async def _submit(self, kind: ActionKind, cmd: RequestAction) -> DecisionReceipt:
        # Validated by the validator only (``DecisionDesk.submit``: a second check here broke replay).
        n = self.desk.submit((kind, cmd), cmd.actor)
        await self.desk.answer(n)
        return DecisionReceipt(
            case_id=self.case_id,
            status=self.state.status.value,
            stage=self.state.stage.value,
            round=n,
            message_zh="已记录",
            processing=self.desk.busy,
        )

    def processing(self) -> bool:
        return self.desk.busy

    @workflow.update
    async def contact(self, cmd: RequestAction) -> DecisionReceipt:
        return await self._submit("contact", cmd)

    @contact.validator
    def _validate_contact(self, cmd: RequestAction) -> None:
        self._validate("contact", cmd)

    @workflow.update
    async def answer(self, cmd: RequestAction) -> DecisionReceipt:
        return await self._submit("answer", cmd)

    @answer.validator
    def _validate_answer(self, cmd: RequestAction) -> None:
        self._validate("answer", cmd)

    @workflow.update
    async def follow_up(self, cmd: RequestAction) -> DecisionReceipt:
        return await self._submit("follow_up", cmd)

    @follow_up.validator
    def _validate_follow_up(self, cmd: RequestAction) -> None:
        self._validate("follow_up", cmd)

    @workflow.signal
    def feedback_reported(self, ev: FeedbackEvent) -> None:
        """From the API's verified hotline callback; feedback for another order, or outside the
        follow-up stage, is ignored."""
        s = self.state
        if s.hotline_order_id == ev.order_id and s.stage == RequestStage.AWAITING_FEEDBACK:
            self._feedback = ev

    @workflow.query
    def state_query(self) -> ServiceRequestState:
        return self.state.model_copy(update={"blocked": self.blocked})

    # --- notices and projection ------------------------------------------------------------------------

    async def _tell_requester(self, template: str, text_zh: str) -> None:
        r = self.inp.requester
        if not r.phone:
            return  # anonymous hotline caller: the hotline relays the reply
        await self.notify_person(r.phone, r.name, template, text_zh)

    def projection(self) -> CaseProjection:
        closed = self.state.status == RequestStatus.CLOSED
        return request_projection(self.inp, self.state, workflow.now() if closed else None)

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        if self._resolution is not None and self.state.status == RequestStatus.OPEN:
            return [sa.DEADLINE.value_set(self._resolution.deadline_at)]
        return []


def _system_actor() -> StaffActor:
    return StaffActor(login="uiflow", name="系统", roles=[], region_code="150000")


WORKFLOWS = [ServiceRequestWorkflow]
