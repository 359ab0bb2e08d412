"""Consultations and complaints on the time-skipping server, with the real activities against the
simulators (notifier, the 12333 hotline's work-order system) and the case database: answered on
the spot, a hotline order answered within its limit and reported back, an overdue complaint
escalated, a not-satisfied reply reopened and escalated, and a 办不成事 request reaching a
supervisor at once, linked to its case."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.service_request import (
    FeedbackEvent,
    RequestAction,
    Requester,
    RequestKind,
    RequestStatus,
    Satisfaction,
    ServiceChannel,
)
from models.staff import StaffActor
from models.tables import ServiceRequestLink
from sim.testing import SimHandle
from tests.factories import (
    CLERK,
    OTHER_REGION_REVIEWER,
    REVIEWER,
    SUPERVISOR,
    CaseEnv,
    RequestHandle,
    applied,
    assert_untouched,
    audit_actions,
    hotline_order,
    messages,
    request_input,
    settled_history_length,
    start_request,
    wait_request,
)
from tests.waiting import polls
from workflows.service_request import ServiceRequestWorkflow


async def refused(h: RequestHandle, update: Any, command: RequestAction) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, command)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def hotline_replies(sim: SimHandle, order_id: str) -> list[dict[str, Any]]:
    """The replies the simulated hotline recorded (sent just after the answer's Update returns)."""
    for _ in polls():
        replies: list[dict[str, Any]] = sim.state.hotline_orders[order_id]["replies"]
        if replies:
            return replies
        await asyncio.sleep(0.05)
    return []


def act(actor: StaffActor, note: str = "", satisfaction: Satisfaction | None = None) -> RequestAction:
    return RequestAction(actor=actor, note=note, satisfaction=satisfaction)


async def on_the_spot(claim_env: CaseEnv, sim: SimHandle) -> RequestHandle:
    now = await claim_env.env.get_current_time()
    answer = "携带身份证到参保地经办机构窗口或通过网上办事大厅申领。"
    inp = request_input(received_at=now, answer_on_spot=answer)
    h = await start_request(claim_env, inp)
    result = await h.result()
    assert result.status == RequestStatus.CLOSED and result.answered_at_once and result.within_limit
    s = await h.query(ServiceRequestWorkflow.state_query)
    assert s.answer == answer and s.limits is None  # no assignment, no time limits
    assert [e.what for e in s.timeline] == ["request.received", "request.answered_at_once", "request.closed"]
    msgs = await messages(sim, h.id, wait_for="request_answered")
    assert any(answer in m["text_zh"] for m in msgs)
    assert ("request.answered_at_once", CLERK.login) in await audit_actions(claim_env.db, h.id)
    return h


async def test_consultation_answered_on_the_spot(claim_env: CaseEnv, sim: SimHandle) -> None:
    await on_the_spot(claim_env, sim)


async def hotline_within_limit(claim_env: CaseEnv, sim: SimHandle) -> RequestHandle:
    order = (await hotline_order(sim, kind="consultation"))["order"]
    now = await claim_env.env.get_current_time()
    inp = request_input(
        channel=ServiceChannel.HOTLINE,
        received_at=now,
        hotline_order_id=order["order_id"],
        ref=order["order_id"],
        requester=Requester(),  # anonymous caller: the hotline relays the reply
    )
    h = await start_request(claim_env, inp)
    s = await wait_request(h, "assigned")
    assert s.limits is not None and s.limits.first_contact_hours == 4
    assert s.first_contact_due == now + timedelta(hours=4)
    # The reviewer of another district cannot take it; ours answers within the hours.
    before = await settled_history_length(h)
    err = await refused(h, ServiceRequestWorkflow.answer, act(OTHER_REGION_REVIEWER, "答复内容示例"))
    assert err.type == "review.region"
    await assert_untouched(h, before)
    await claim_env.env.sleep(timedelta(hours=2))
    receipt = await h.execute_update(
        ServiceRequestWorkflow.answer, act(REVIEWER, "失业保险金每月15日前发放到社会保障卡银行账户。")
    )
    assert receipt.processing  # answered on acceptance
    s = await wait_request(h, "awaiting_feedback")
    assert s.status == "answered"
    replies = await hotline_replies(sim, order["order_id"])
    assert [r["case_ref"] for r in replies] == [h.id]
    # The hotline's return visit arrives (the API signals it from the signed callback).
    await h.signal(
        ServiceRequestWorkflow.feedback_reported,
        FeedbackEvent(order_id=order["order_id"], satisfaction=Satisfaction.SATISFIED),
    )
    result = await h.result()
    assert result.within_limit is True and result.satisfaction == Satisfaction.SATISFIED
    report = sim.state.hotline_orders[order["order_id"]]["closing_report"]
    assert report is not None and report["satisfaction"] == "satisfied" and report["within_limit"] is True
    assert sim.state.hotline_orders[order["order_id"]]["status"] == "closed"
    return h


async def test_hotline_order_answered_within_limit_and_reported_back(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    await hotline_within_limit(claim_env, sim)


async def overdue_escalated(claim_env: CaseEnv, sim: SimHandle) -> RequestHandle:
    now = await claim_env.env.get_current_time()
    inp = request_input(
        kind=RequestKind.COMPLAINT,
        received_at=now,
        topic="service",
        content="窗口工作人员推诿，材料被退回三次",
    )
    h = await start_request(claim_env, inp)
    s = await wait_request(h, "assigned")
    # A complaint about staff conduct is assigned to the supervisor of the region (by topic).
    assert s.assigned_role == "supervisor"
    assigned = await messages(sim, h.id, wait_for="request_assigned")
    assert [m["recipient"] for m in assigned if m["template"] == "request_assigned"] == [
        "staff:supervisor.hhht"
    ]
    await claim_env.env.sleep(timedelta(hours=25))  # first contact due after 24 hours
    s = await h.query(ServiceRequestWorkflow.state_query)
    whats = [e.what for e in s.timeline]
    assert "request.reminder" in whats and "request.overdue" in whats
    assert s.overdue and s.escalated
    msgs = await messages(sim, h.id, wait_for="request_overdue")
    assert any(m["recipient"] == "staff:supervisor.hhht" for m in msgs if m["template"] == "request_overdue")
    await h.execute_update(ServiceRequestWorkflow.contact, act(SUPERVISOR, "已电话联系诉求人"))
    await applied(h)
    await h.execute_update(ServiceRequestWorkflow.answer, act(SUPERVISOR, "已约谈窗口人员，材料当场受理。"))
    await applied(h)
    await h.execute_update(
        ServiceRequestWorkflow.follow_up, act(SUPERVISOR, satisfaction=Satisfaction.BASICALLY)
    )
    result = await h.result()
    assert result.escalated and result.satisfaction == Satisfaction.BASICALLY and result.within_limit
    return h


async def test_overdue_complaint_escalated(claim_env: CaseEnv, sim: SimHandle) -> None:
    await overdue_escalated(claim_env, sim)


async def not_satisfied_reopened(claim_env: CaseEnv, sim: SimHandle) -> RequestHandle:
    now = await claim_env.env.get_current_time()
    inp = request_input(
        kind=RequestKind.COMPLAINT, received_at=now, content="待遇发放晚了两个月", linked_case_id="claim-x1"
    )
    h = await start_request(claim_env, inp)
    await wait_request(h, "assigned")
    await h.execute_update(ServiceRequestWorkflow.contact, act(REVIEWER))
    await applied(h)
    await h.execute_update(ServiceRequestWorkflow.answer, act(REVIEWER, "已核实，系银行退票，已重新发放。"))
    await applied(h)
    r = await h.execute_update(
        ServiceRequestWorkflow.follow_up, act(REVIEWER, "回访电话", Satisfaction.NOT_SATISFIED)
    )
    assert r.processing
    s = await wait_request(h, "reopened")
    assert s.reopened == 1 and s.escalated and s.status == RequestStatus.OPEN
    await messages(sim, h.id, wait_for="request_reopened")
    # Reopened, the request is the supervisor's.
    err = await refused(h, ServiceRequestWorkflow.answer, act(REVIEWER, "再次答复内容"))
    assert err.type == "review.role"
    await h.execute_update(
        ServiceRequestWorkflow.answer, act(SUPERVISOR, "主管督办：已补发两个月待遇并致歉。")
    )
    await applied(h)
    # Not satisfied again: reopened once only, the request closes with the rating recorded.
    await h.execute_update(
        ServiceRequestWorkflow.follow_up, act(SUPERVISOR, satisfaction=Satisfaction.NOT_SATISFIED)
    )
    result = await h.result()
    assert result.reopened == 1 and result.satisfaction == Satisfaction.NOT_SATISFIED and result.escalated
    whats = [e.what for e in (await h.query(ServiceRequestWorkflow.state_query)).timeline]
    assert whats.count("request.answered") == 2 and whats.count("request.reopened") == 1
    return h


async def test_not_satisfied_reopened_once_and_escalated(claim_env: CaseEnv, sim: SimHandle) -> None:
    await not_satisfied_reopened(claim_env, sim)


async def unresolved_window(claim_env: CaseEnv, sim: SimHandle) -> RequestHandle:
    now = await claim_env.env.get_current_time()
    claim_id = "claim-150102-" + "ab" * 8 + "-1"
    inp = request_input(
        kind=RequestKind.COMPLAINT,
        channel=ServiceChannel.UNRESOLVED_WINDOW,
        received_at=now,
        content="申领被窗口以材料不全为由退回",
        problem="窗口要求提供解除劳动合同证明原件，单位已注销无法开具",
        linked_case_id=claim_id,
    )
    h = await start_request(claim_env, inp)
    s = await wait_request(h, "supervisor")
    assert s.escalated and s.assigned_role == "supervisor" and s.linked_case_id == claim_id
    msgs = await messages(sim, h.id, wait_for="request_unresolved")
    sent = [m for m in msgs if m["template"] == "request_unresolved"]
    assert sent and sent[0]["recipient"] == "staff:supervisor.hhht" and claim_id in sent[0]["text_zh"]
    async with claim_env.db.session() as db:
        links = (
            await db.exec(select(ServiceRequestLink).where(ServiceRequestLink.case_id == claim_id))
        ).all()
    assert [lk.request_id for lk in links] == [h.id]
    # Only a supervisor acts on a 办不成事 request.
    err = await refused(h, ServiceRequestWorkflow.contact, act(REVIEWER))
    assert err.type == "review.role"
    await h.execute_update(
        ServiceRequestWorkflow.answer, act(SUPERVISOR, "已协调窗口以单位注销证明替代，当日受理。")
    )
    await applied(h)
    await h.execute_update(
        ServiceRequestWorkflow.follow_up, act(SUPERVISOR, satisfaction=Satisfaction.SATISFIED)
    )
    result = await h.result()
    assert result.status == RequestStatus.CLOSED and result.within_limit
    return h


async def test_unresolved_window_reaches_supervisor_at_once_linked_to_case(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    await unresolved_window(claim_env, sim)


async def test_staff_action_refusals_leave_no_history(claim_env: CaseEnv) -> None:
    now = await claim_env.env.get_current_time()
    h = await start_request(claim_env, request_input(kind=RequestKind.SUGGESTION, received_at=now))
    await wait_request(h, "assigned")
    before = await settled_history_length(h)
    assert (
        await refused(h, ServiceRequestWorkflow.answer, act(REVIEWER, "短"))
    ).type == "service.note_required"
    assert (await refused(h, ServiceRequestWorkflow.follow_up, act(REVIEWER))).type == "service.stage"
    await assert_untouched(h, before)
    await h.execute_update(ServiceRequestWorkflow.answer, act(REVIEWER, "感谢建议，已转业务科研究。"))
    await applied(h)
    assert (await refused(h, ServiceRequestWorkflow.follow_up, act(REVIEWER))).type == "service.invalid"
    await claim_env.env.sleep(timedelta(hours=73))  # no return visit within the follow-up limit
    result = await h.result()
    assert result.status == RequestStatus.CLOSED and result.satisfaction is None
