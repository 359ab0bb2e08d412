"""The stop-reason dispute on the time-skipping server, with the real activities against the
simulators and the case database: three review levels, refusals that never touch history, the
record system refusing the change and the operations ticket, and the person's rejected claim
re-checked and paid after the change."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models.claim import DocumentRef
from models.dispute import (
    DisputeState,
    DisputeStatus,
    DisputeTimings,
    ReviewAction,
    ReviewCommand,
    TicketOutcome,
    dispute_review_levels,
    missing_documents,
)
from models.enums import Channel, Role
from models.staff import StaffActor
from models.tables import CaseRecord, Document
from sim.testing import SimHandle
from tests.factories import (
    FINAL,
    LEAGUE_REVIEWER,
    OTHER_REGION_REVIEWER,
    REVIEWER,
    SECOND,
    CaseEnv,
    DisputeHandle,
    assert_untouched,
    audit_actions,
    claim_paid_after_change,
    dispute_input,
    messages,
    rejected_claim,
    settled_history_length,
    sim_person,
    start_dispute,
)
from tests.waiting import WAIT_S
from workflows.stop_reason_dispute import StopReasonDisputeWorkflow

REGION_ALL_ROUNDER = StaffActor(
    login="multi.nmg",
    name="多岗人员",
    roles=[Role.REVIEWER, Role.SECOND_REVIEWER, Role.FINAL_REVIEWER],
    region_code="150000",
)
BAOTOU_SECOND = StaffActor(
    login="second.bt", name="包头复审", roles=[Role.SECOND_REVIEWER], region_code="150200"
)


# --- helpers ---------------------------------------------------------------------------------------


async def dstate(h: DisputeHandle) -> DisputeState:
    return await h.query(StopReasonDisputeWorkflow.state_query)


async def wait_dispute(
    h: DisputeHandle, *, stage: str | None = None, status: DisputeStatus | None = None
) -> DisputeState:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        s = await dstate(h)
        if (stage is None or s.stage == stage) and (status is None or s.status == status):
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"dispute at {s.status}/{s.stage}; timeline: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


def cmd(actor: StaffActor, action: ReviewAction = ReviewAction.APPROVE, **kw: str) -> ReviewCommand:
    return ReviewCommand(actor=actor, action=action, **kw)


async def approve_all(h: DisputeHandle) -> None:
    await wait_dispute(h, stage="initial_review")
    await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER))
    await decide(h, StopReasonDisputeWorkflow.second_review, cmd(SECOND))
    r = await decide(h, StopReasonDisputeWorkflow.final_review, cmd(FINAL))
    assert r.status in ("applying_change", "awaiting_ticket", "changed")


async def decide(h: DisputeHandle, update: Any, command: ReviewCommand) -> DisputeState:
    """One decision, and the dispute once it has applied it: a decision's Update answers on
    acceptance (issue 19), and the next decision is refused ``review.busy`` until then."""
    await h.execute_update(update, command)
    end = asyncio.get_running_loop().time() + WAIT_S
    while await h.query("decision_processing", result_type=bool):
        assert asyncio.get_running_loop().time() < end, "decision still being applied"
        await asyncio.sleep(0.05)
    return await dstate(h)


async def refused(h: DisputeHandle, update: Any, command: ReviewCommand) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, command)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


# --- tests -----------------------------------------------------------------------------------------


async def test_employer_dispute_approved_at_three_levels_then_claim_paid(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="voluntary_resignation", registered=True, record_locked=False
    )
    claim = await rejected_claim(claim_env, person)
    inp = await dispute_input(claim_env, person, channel=Channel.EMPLOYER_WEBSITE)
    h = await start_dispute(claim_env, inp)

    s = await wait_dispute(h, stage="initial_review")
    assert s.current_reason is not None and s.current_reason.code == "voluntary_resignation"
    assert s.requested_reason.label == "用人单位解除劳动合同" and s.requested_reason.involuntary
    assert person["id_number"] not in s.model_dump_json()
    initial = s.review.level("initial")
    assert initial is not None and initial.deadline is not None and initial.deadline.working_days == 5

    r = await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER, note="材料齐全"))
    assert r.stage == "second_review"
    r = await decide(h, StopReasonDisputeWorkflow.second_review, cmd(SECOND))
    assert r.stage == "final_review"
    r = await decide(h, StopReasonDisputeWorkflow.final_review, cmd(FINAL))
    # The decision applied, the change to the stop reason follows at once: read a moment later the
    # dispute may already have made it (fc2, a quiet machine). Its end state is checked below.
    assert r.status in ("applying_change", "changed")

    s = await wait_dispute(h, status=DisputeStatus.CHANGED)
    assert s.change is not None and s.change.via == "front_end" and s.change.changed_by == "final.nmg"
    assert s.change.old is not None and s.change.old.code == "voluntary_resignation"
    assert s.change.new.code == "employer_dismissal"
    assert s.claim_id == claim.id and s.claim_action == "signalled" and s.ticket is None
    assert [(d.level, d.by, d.action) for d in s.review.decisions] == [
        ("initial", "reviewer.xc", "approve"),
        ("second", "second.hhht", "approve"),
        ("final", "final.nmg", "approve"),
    ]
    assert sim.state.pop.persons[person["id_number"]].stop_reason_code == "employer_dismissal"

    await claim_paid_after_change(claim_env, claim, h.id)
    result = await h.result()
    assert result.status == DisputeStatus.CHANGED and result.claim_id == claim.id

    # The record: read model, audit log, and the applicant told.
    async with claim_env.db.session() as sess:
        row = await sess.get(CaseRecord, h.id)
        assert row is not None and row.case_type == "stop_reason_dispute" and row.status == "changed"
        assert [rv["by"] for rv in row.summary["reviews"]] == ["reviewer.xc", "second.hhht", "final.nmg"]
        assert {d["sha256"] for d in row.summary["documents"]} == {
            d.sha256 for d in inp.application.documents
        }
        assert row.summary["change"]["new"] == "employer_dismissal" and row.closed_at is not None
        assert person["id_number"] not in str(row.model_dump())
        docs = (await sess.exec(select(Document).where(Document.case_id == h.id))).all()
        assert len(docs) == 2
    actions = await audit_actions(claim_env.db, h.id)
    assert actions[0] == ("dispute.received", person["last_employer"])
    assert ("dispute.review.initial.approve", "reviewer.xc") in actions
    assert ("dispute.review.second.approve", "second.hhht") in actions
    assert ("dispute.review.final.approve", "final.nmg") in actions
    assert ("dispute.reason_changed", "uiflow") in actions and ("dispute.claim_resumed", "uiflow") in actions
    templates = [m["template"] for m in await messages(sim, h.id, wait_for="dispute_changed")]
    assert "dispute_received" in templates and "dispute_changed" in templates
    assert "review_assigned" in templates  # each level's reviewers were told


async def test_counter_dispute_rejected_at_second_review(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await start_dispute(claim_env, await dispute_input(claim_env, person, channel=Channel.COUNTER))
    await wait_dispute(h, stage="initial_review")
    # The clerk who took the dispute in may not review it, even holding the role.
    clerk_reviewer = StaffActor(
        login="clerk.xc", name="王窗口", roles=[Role.INTAKE_CLERK, Role.REVIEWER], region_code="150102"
    )
    cause = await refused(h, StopReasonDisputeWorkflow.initial_review, cmd(clerk_reviewer))
    assert cause.type == "review.intake"
    await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER))
    cause = await refused(
        h, StopReasonDisputeWorkflow.second_review, cmd(SECOND, ReviewAction.REJECT, reason=" ")
    )
    assert cause.type == "review.reason_required"
    reason = "仲裁裁决书认定系劳动者本人提出解除，原停保原因无误"
    r = await decide(
        h, StopReasonDisputeWorkflow.second_review, cmd(SECOND, ReviewAction.REJECT, reason=reason)
    )
    assert r.status == "rejected"
    result = await h.result()
    assert result.status == DisputeStatus.REJECTED and result.change is None
    s = await dstate(h)
    assert s.review.outcome == "rejected" and s.review.level("final").passes == 0  # type: ignore[union-attr]
    assert sim.state.pop.persons[person["id_number"]].stop_reason_code == "voluntary_resignation"
    sms = [m for m in await messages(sim, h.id, "dispute_rejected") if m["template"] == "dispute_rejected"]
    assert len(sms) == 1 and reason in sms[0]["text_zh"] and "复审" in sms[0]["text_zh"]
    assert ("dispute.review.second.reject", "second.hhht") in await audit_actions(claim_env.db, h.id)
    with pytest.raises(RPCError):  # the dispute has ended: no level is left to decide
        await h.execute_update(StopReasonDisputeWorkflow.final_review, cmd(FINAL))


async def test_send_back_and_level_escalation(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    timings = DisputeTimings(levels=dispute_review_levels(initial_days=3, second_days=2, final_days=4))
    h = await start_dispute(
        claim_env, await dispute_input(claim_env, person, channel=Channel.COUNTER, timings=timings)
    )
    await wait_dispute(h, stage="initial_review")
    cause = await refused(
        h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER, ReviewAction.SEND_BACK, note="退回")
    )
    assert cause.type == "review.cannot_send_back"
    await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER))
    s = await wait_dispute(h, stage="second_review")
    second = s.review.level("second")
    assert second is not None and second.deadline is not None and second.deadline.working_days == 2

    # Nobody decides: the reminder, then the escalation at the end of the second level's limit.
    now = await claim_env.env.get_current_time()
    await claim_env.env.sleep(second.deadline.deadline_at - now + timedelta(hours=1))
    s = await dstate(h)
    second = s.review.level("second")
    assert second is not None and second.reminded_at is not None and second.overdue_at is not None
    assert s.review.overdue and s.review.escalated
    templates = [m["template"] for m in await messages(sim, h.id, "review_overdue")]
    assert "review_reminder" in templates and "review_overdue" in templates

    cause = await refused(h, StopReasonDisputeWorkflow.second_review, cmd(SECOND, ReviewAction.SEND_BACK))
    assert cause.type == "review.note_required"
    r = await decide(
        h,
        StopReasonDisputeWorkflow.second_review,
        cmd(SECOND, ReviewAction.SEND_BACK, note="请核实仲裁裁决书是否已生效"),
    )
    assert r.stage == "initial_review"
    s = await dstate(h)
    initial = s.review.level("initial")
    assert initial is not None and initial.passes == 2 and initial.status == "open"
    assert not s.review.overdue and s.review.escalated  # the new pass has a fresh limit
    # The initial reviewer may act again at the same level; a different initial reviewer too.
    await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER, note="已核实生效"))
    await decide(h, StopReasonDisputeWorkflow.second_review, cmd(SECOND))
    await decide(h, StopReasonDisputeWorkflow.final_review, cmd(FINAL))
    result = await h.result()
    assert result.status == DisputeStatus.CHANGED and result.claim_id is None
    s = await dstate(h)
    assert [(d.level, d.action.value, d.pass_no) for d in s.review.decisions] == [
        ("initial", "approve", 1),
        ("second", "send_back", 1),
        ("initial", "approve", 2),
        ("second", "approve", 2),
        ("final", "approve", 1),
    ]
    assert s.claim_action == "apply_now"
    assert "dispute_changed" in [m["template"] for m in await messages(sim, h.id, "dispute_changed")]


async def test_same_reviewer_at_two_levels_or_on_own_case_is_refused(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    inp = await dispute_input(claim_env, person, channel=Channel.EMPLOYER_WEBSITE)
    h = await start_dispute(claim_env, inp)
    await wait_dispute(h, stage="initial_review")
    await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REGION_ALL_ROUNDER))
    await wait_dispute(h, stage="second_review")
    before = await settled_history_length(h)
    cause = await refused(h, StopReasonDisputeWorkflow.second_review, cmd(REGION_ALL_ROUNDER))
    assert cause.type == "review.separation" and "同一人只能参与一个审核层级" in cause.message
    own = StaffActor(
        login="second.self",
        name="本人",
        roles=[Role.SECOND_REVIEWER],
        region_code="150100",
        applicant_key=inp.applicant_key,
    )
    cause = await refused(h, StopReasonDisputeWorkflow.second_review, cmd(own))
    assert cause.type == "review.own_case" and "回避" in cause.message
    await assert_untouched(h, before)
    await decide(h, StopReasonDisputeWorkflow.second_review, cmd(SECOND))
    cause = await refused(h, StopReasonDisputeWorkflow.final_review, cmd(REGION_ALL_ROUNDER))
    assert cause.type == "review.separation"
    await h.terminate("test done")


async def test_reviewer_without_regional_authority_wrong_role_or_level_is_refused(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await start_dispute(
        claim_env, await dispute_input(claim_env, person, channel=Channel.EMPLOYER_WEBSITE)
    )
    await wait_dispute(h, stage="initial_review")
    before = await settled_history_length(h)
    # Another banner's reviewer.
    cause = await refused(h, StopReasonDisputeWorkflow.initial_review, cmd(OTHER_REGION_REVIEWER))
    assert cause.type == "review.region" and "无权" in cause.message
    # The league sees the case, but initial review is delegated to the banner (and the region).
    cause = await refused(h, StopReasonDisputeWorkflow.initial_review, cmd(LEAGUE_REVIEWER))
    assert cause.type == "review.region"
    cause = await refused(h, StopReasonDisputeWorkflow.initial_review, cmd(SECOND))
    assert cause.type == "review.role" and "审核员" in cause.message
    cause = await refused(h, StopReasonDisputeWorkflow.second_review, cmd(SECOND))
    assert cause.type == "review.wrong_level" and "初审" in cause.message
    await assert_untouched(h, before)
    await decide(h, StopReasonDisputeWorkflow.initial_review, cmd(REVIEWER))
    await wait_dispute(h, stage="second_review")
    cause = await refused(h, StopReasonDisputeWorkflow.second_review, cmd(BAOTOU_SECOND))
    assert cause.type == "review.region"
    await h.terminate("test done")


async def test_record_locked_ticket_resolved_then_claim_paid(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="voluntary_resignation", registered=True, record_locked=True
    )
    claim = await rejected_claim(claim_env, person)
    timings = DisputeTimings(ticket_recheck_hours=6)
    h = await start_dispute(
        claim_env, await dispute_input(claim_env, person, channel=Channel.COUNTER, timings=timings)
    )
    await approve_all(h)

    s = await wait_dispute(h, status=DisputeStatus.AWAITING_TICKET)
    assert s.ticket is not None and s.ticket.status == "open"
    ticket = sim.state.tickets[s.ticket.ticket_id]
    assert ticket.case_ref == h.id and ticket.requested_stop_reason == "employer_dismissal"
    assert ticket.category == "stop_reason_change" and ticket.submitted_by == "final.nmg"
    assert "stop_reason.change_refused" in [e.what for e in s.timeline]

    # An outcome for some other ticket is ignored; half a day of re-checks finds the ticket open.
    await h.signal(
        StopReasonDisputeWorkflow.ticket_resolved, TicketOutcome(ticket_id="JB-OTHER", status="resolved")
    )
    await claim_env.env.sleep(timedelta(hours=13))
    s = await dstate(h)
    assert s.status == DisputeStatus.AWAITING_TICKET and s.ticket is not None and s.ticket.rechecks == 2

    # The engineer changes it in the back end; the callback is lost (no URL), the re-check sees it.
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.post(
            f"/admin/demand-platform/tickets/{ticket.ticket_id}/resolve",
            json={"engineer": "周运维", "resolution": "已在后台将停保原因改为用人单位解除劳动合同"},
        )
        assert r.status_code == 200, r.text
    await claim_env.env.sleep(timedelta(hours=7))
    s = await wait_dispute(h, status=DisputeStatus.CHANGED)
    assert s.ticket is not None and s.ticket.status == "resolved" and s.ticket.via == "recheck"
    assert s.change is not None and s.change.via == "ops_ticket" and s.change.changed_by == "周运维"
    assert s.change.ticket_id == ticket.ticket_id and s.change.new.code == "employer_dismissal"
    assert s.claim_id == claim.id

    await claim_paid_after_change(claim_env, claim, h.id)
    actions = [a for a, _ in await audit_actions(claim_env.db, h.id)]
    for a in (
        "dispute.change_refused",
        "dispute.ticket_opened",
        "dispute.ticket_closed",
        "dispute.reason_changed",
    ):
        assert a in actions
    async with claim_env.db.session() as sess:
        row = await sess.get(CaseRecord, h.id)
        assert row is not None and row.summary["ticket"]["id"] == ticket.ticket_id
        assert row.summary["change"] == {
            "via": "ops_ticket",
            "old": "voluntary_resignation",
            "new": "employer_dismissal",
            "by": "周运维",
        }


def test_required_documents_differ_by_channel() -> None:
    def ref(kind: str) -> DocumentRef:
        return DocumentRef(id=kind, kind=kind, sha256="0" * 64)

    employer = missing_documents(Channel.EMPLOYER_WEBSITE, [ref("termination_agreement")])
    assert [m.key for m in employer] == ["reason_change_statement"]
    assert (
        missing_documents(Channel.EMPLOYER_WEBSITE, [])
        and len(missing_documents(Channel.EMPLOYER_WEBSITE, [])) == 2
    )
    for kind in ("termination_certificate", "arbitration_award", "mediation_award", "court_document"):
        assert missing_documents(Channel.COUNTER, [ref(kind)]) == []
    assert [m.key for m in missing_documents(Channel.COUNTER, [ref("reason_change_statement")])] == ["basis"]
