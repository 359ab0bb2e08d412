"""The benefit-claim lifecycle on the time-skipping server, with the real activities talking to
the simulators over HTTP and to the case database. Ten working days pass in a fraction of a
second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from core.db import Database
from core.settings import Settings
from models import search_attributes as sa
from models.case import UnblockCommand
from models.claim import (
    ApproveCommand,
    ClaimInput,
    ClaimState,
    ClaimStatus,
    ReapplyEvent,
    RecheckCommand,
    RegistrationEvent,
    RejectCommand,
    RejectReason,
    RequestDocumentsCommand,
)
from models.enums import Channel, Role
from models.rules import RetirementCategory
from models.staff import StaffActor
from models.tables import CaseRecord
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.conftest import case_env
from tests.factories import (
    CLERK,
    LEAGUE_REVIEWER,
    OPS,
    OTHER_REGION_REVIEWER,
    REVIEWER,
    CaseEnv,
    applied,
    assert_sent_to_district_staff,
    assert_untouched,
    at_review,
    audit_actions,
    claim_input,
    settled_history_length,
    sim_person,
)
from tests.waiting import WAIT_S, polls
from tests.workflow.conftest import domain_amount
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow

TZ = ZoneInfo("Asia/Shanghai")
Y = FUTURE_YEAR  # a year still ahead of the test clock, laid out like 2027 (tests/clock.py)


async def start(ce: CaseEnv, inp: ClaimInput) -> WorkflowHandle[BenefitClaimWorkflow, Any]:
    return await ce.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", inp.application.region_code, "checking"),
        execution_timeout=timedelta(days=400),
    )


async def state(h: WorkflowHandle[BenefitClaimWorkflow, Any]) -> ClaimState:
    return await h.query(BenefitClaimWorkflow.state_query)


async def wait_status(
    h: WorkflowHandle[BenefitClaimWorkflow, Any], status: ClaimStatus, limit: float = WAIT_S
) -> ClaimState:
    return await wait_until(h, lambda s: s.status == status, limit, f"wanted {status}")


async def wait_until(
    h: WorkflowHandle[BenefitClaimWorkflow, Any],
    ok: Callable[[ClaimState], bool],
    limit: float = WAIT_S,
    what: str = "condition",
) -> ClaimState:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        s = await state(h)
        if ok(s):
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"status stayed {s.status} ({what}); timeline: {[e.what for e in s.timeline]}"
            )
        await asyncio.sleep(0.05)


async def messages(sim: SimHandle, case_id: str, *, wait_for: str | None = None) -> list[dict[str, Any]]:
    """Messages the simulated notifier received for a case; with ``wait_for``, poll briefly until
    a message of that template has arrived (notifications are sent right after a state change)."""
    for _ in polls():
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            r = await c.get("/admin/notifier/messages", params={"case_ref": case_id})
            r.raise_for_status()
            body = r.json()
        msgs: list[dict[str, Any]] = body["messages"] if isinstance(body, dict) else body
        if wait_for is None or any(m["template"] == wait_for for m in msgs):
            return msgs
        await asyncio.sleep(0.05)
    return msgs


@pytest_asyncio.fixture
async def claim_env(wf_settings: Settings, case_db: Database) -> AsyncIterator[CaseEnv]:
    """``tests/conftest.py``'s claim environment, on SQLite and on PostgreSQL (this module)."""
    async with case_env(wf_settings, case_db) as ce:
        yield ce


async def sleep_until(ce: CaseEnv, when: datetime) -> None:
    now = await ce.env.get_current_time()
    assert when > now, f"test clock already past {when}"
    await ce.env.sleep(when - now)


async def test_counter_claim_approved_with_entitlement(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(
        sim.base_url,
        sim.token,
        scenario="eligible",
        cumulative_months=70,
        last_consecutive_months=40,
        registered=True,
    )
    h = await start(claim_env, claim_input(claim_env.settings, person))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and report.eligibility.eligible
    assert report.eligibility.max_months == 18  # 5 ≤ T < 10 years: 18 months (社保法 Art. 46)
    assert not report.risk_hits

    receipt = await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert receipt.processing  # answered on acceptance; run applies the approval after
    result = await h.result()
    assert result.status == ClaimStatus.APPROVED and result.entitlement is not None
    ent = result.entitlement
    assert ent.max_months == 18 and len(ent.schedule) == 18
    for m in ent.schedule:  # the figures domain.md publishes, not recomputed with the function under test
        assert m.amount == domain_amount(m.month_index, m.pay_month, overlay=False), (m.pay_month, m.amount)
    assert ent.schedule[12].rate < ent.schedule[11].rate  # month 13 on: the lower rate
    assert (await state(h)).period_id == "period-" + h.id.removeprefix("claim-")  # payments hand over
    async with claim_env.db.session() as sess:
        row = await sess.get(CaseRecord, h.id)
        assert row is not None and row.status == "approved" and row.closed_at is not None
        assert row.applicant_id_masked.startswith(person["id_number"][:6]) and person["id_number"] not in str(
            row.model_dump()
        )
    sms = [m for m in await messages(sim, h.id) if m["template"] == "claim_approved"]
    assert len(sms) == 1 and "18个月" in sms[0]["text_zh"]


async def test_deadline_on_make_up_saturday_reminder_and_escalation(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    """Received Monday Y-02-01 (Y: tests/clock.py), before 春节 (synthetic table, Feb 6–14): the 10th
    working day is the make-up Saturday Y-02-20. Reminder two working days before at 09:00, escalation at
    the end of the deadline day, both Asia/Shanghai."""
    await sleep_until(claim_env, datetime(Y, 2, 1, 10, 0, tzinfo=TZ))
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    h = await start(
        claim_env, claim_input(claim_env.settings, person, received_at=await claim_env.env.get_current_time())
    )
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    dl = s.rounds[0].deadline
    assert dl is not None
    assert dl.start_day == date(Y, 2, 1)
    assert dl.deadline == date(Y, 2, 20) and dl.deadline.weekday() == 5
    assert dl.reminder_at == datetime(Y, 2, 18, 9, 0, tzinfo=TZ)
    assert dl.deadline_at == datetime(Y, 2, 21, 0, 0, tzinfo=TZ)

    await sleep_until(claim_env, datetime(Y, 2, 18, 8, 0, tzinfo=TZ))
    s = await state(h)
    assert s.rounds[0].reminded_at is None and not s.overdue
    await sleep_until(claim_env, datetime(Y, 2, 19, 12, 0, tzinfo=TZ))
    s = await state(h)
    reminded = s.rounds[0].reminded_at
    assert reminded is not None and abs(reminded - dl.reminder_at) < timedelta(minutes=1)
    assert not s.overdue
    await sleep_until(claim_env, datetime(Y, 2, 20, 23, 0, tzinfo=TZ))  # the Saturday is still in time
    assert not (await state(h)).overdue
    await sleep_until(claim_env, datetime(Y, 2, 21, 1, 0, tzinfo=TZ))
    s = await state(h)
    overdue_at = s.rounds[0].overdue_at
    assert s.overdue and s.escalated and overdue_at is not None
    assert abs(overdue_at - dl.deadline_at) < timedelta(minutes=1)
    msgs = await messages(sim, h.id, wait_for="review_overdue")
    reminders = [m for m in msgs if m["template"] == "review_reminder"]
    escalations = [m for m in msgs if m["template"] == "review_overdue"]
    await assert_sent_to_district_staff(
        claim_env.db,
        [m["recipient"] for m in reminders],
        role="reviewer",
        region="150102",
        includes="reviewer.xc",
    )
    assert [m["recipient"] for m in escalations] == [
        "staff:supervisor.hhht"
    ]  # nearest supervisor up the tree
    async with claim_env.db.session() as sess:
        row = await sess.get(CaseRecord, h.id)
        assert row is not None and row.overdue and row.escalated
    desc = await h.describe()
    assert desc.typed_search_attributes.get(sa.OVERDUE) is True
    # A late decision is still taken and recorded.
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED


async def test_rejection_then_reapplication_reviewed_again_and_approved(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await start(claim_env, claim_input(claim_env.settings, person))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and not report.eligibility.eligible
    assert report.eligibility.suggested_reject_reason == RejectReason.VOLUNTARY_SEPARATION
    first_deadline = s.rounds[0].deadline
    assert first_deadline is not None

    remedy = "如停保原因登记有误，可由原单位申请变更停保原因，或本人到窗口申请。"
    await h.execute_update(
        BenefitClaimWorkflow.reject,
        RejectCommand(actor=REVIEWER, reason_code=RejectReason.VOLUNTARY_SEPARATION, remedy=remedy),
    )
    s = await wait_status(h, ClaimStatus.REJECTED)
    sms = [
        m for m in await messages(sim, h.id, wait_for="claim_rejected") if m["template"] == "claim_rejected"
    ]
    assert len(sms) == 1 and "停保原因为个人原因" in sms[0]["text_zh"] and remedy in sms[0]["text_zh"]

    # Two weeks later the record was corrected and the person applies again with the agreement.
    await claim_env.env.sleep(timedelta(days=14))
    sim.state.pop.persons[person["id_number"]].stop_reason_code = "contract_expired"
    await h.execute_update(
        BenefitClaimWorkflow.reapply, ReapplyEvent(by="applicant", note="补充解除劳动合同协议")
    )
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert len(s.rounds) == 2 and s.rounds[1].trigger == "reapplication"
    second = s.rounds[1]
    assert second.report is not None and second.report.eligibility.eligible
    assert second.deadline is not None and second.deadline.deadline > first_deadline.deadline
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    result = await h.result()
    assert result.status == ClaimStatus.APPROVED and result.rounds == 2
    s = await state(h)
    assert s.rounds[0].decision is not None and s.rounds[0].decision.kind == "reject"
    assert s.rounds[1].decision is not None and s.rounds[1].decision.kind == "approve"


async def test_unregistered_online_applicant_registers_on_day_3(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="unregistered", registered=False)
    inp = claim_input(claim_env.settings, person, channel=Channel.ONLINE)
    h = await start(claim_env, inp)
    s = await wait_status(h, ClaimStatus.AWAITING_REGISTRATION)
    assert [m["template"] for m in await messages(sim, h.id, wait_for="register_needed")] == [
        "claim_received",  # the 受理回执 (docs/notices.md)
        "register_needed",
    ]
    t0 = await claim_env.env.get_current_time()
    await claim_env.env.sleep(timedelta(days=2, hours=3))  # two daily re-checks find nothing
    assert (await state(h)).status == ClaimStatus.AWAITING_REGISTRATION
    # A callback the platform does not back (forged, or early) is not believed: the registration is
    # re-read from the platform, which has none yet.
    forged_on = date.today() - timedelta(days=365)
    await h.signal(
        BenefitClaimWorkflow.registration_confirmed,
        RegistrationEvent(registration_no="DJ-FORGED", registered_on=forged_on),
    )
    await wait_until(h, lambda s: "registration.callback_unconfirmed" in [e.what for e in s.timeline])
    assert (await state(h)).status == ClaimStatus.AWAITING_REGISTRATION
    # The person registers; the callback's own date is still not what counts (money starts from the
    # platform's date).
    p = sim.state.pop.persons[person["id_number"]]
    p.registered, p.registered_on, p.registration_no = True, date.today(), "DJ-TEST-3"
    await h.signal(
        BenefitClaimWorkflow.registration_confirmed,
        RegistrationEvent(registration_no="DJ-FORGED", registered_on=forged_on),
    )
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert s.registration is not None and s.registration.via == "callback"
    assert s.registration.registered_on == date.today() and s.registration.registration_no == "DJ-TEST-3"
    dl = s.rounds[0].deadline
    assert dl is not None
    # The review clock started on day 3, not on the day of the application.
    assert dl.start_day == (t0 + timedelta(days=2, hours=3)).astimezone(TZ).date()
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED


async def test_registration_found_by_daily_recheck(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="unregistered", registered=False)
    h = await start(claim_env, claim_input(claim_env.settings, person, channel=Channel.ONLINE))
    await wait_status(h, ClaimStatus.AWAITING_REGISTRATION)
    p = sim.state.pop.persons[person["id_number"]]
    p.registered, p.registered_on, p.registration_no = True, date.today(), "DJ-RECHECK"
    await claim_env.env.sleep(timedelta(hours=25))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert s.registration is not None and s.registration.via == "recheck"
    await h.terminate("test done")


async def test_never_registered_closes_after_the_limit(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="unregistered", registered=False)
    h = await start(claim_env, claim_input(claim_env.settings, person, channel=Channel.ONLINE))
    result = await h.result()  # time skips through 30 daily re-checks
    assert result.status == ClaimStatus.CLOSED and result.close_reason == "registration_timeout"
    assert "registration_timeout" in [m["template"] for m in await messages(sim, h.id)]


async def test_counter_clerk_registers_person_on_the_spot(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="unregistered", registered=False)
    h = await start(claim_env, claim_input(claim_env.settings, person, channel=Channel.COUNTER))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert s.registration is not None and s.registration.via == "counter" and s.registration.registration_no
    assert "registration.counter" in [e.what for e in s.timeline]
    assert sim.state.pop.persons[person["id_number"]].registered
    await h.terminate("test done")


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        (CLERK, "review.role"),
        (OTHER_REGION_REVIEWER, "review.region"),
        (
            StaffActor(
                login="clerk.xc", name="x", roles=[Role.REVIEWER, Role.INTAKE_CLERK], region_code="150102"
            ),
            "review.intake",
        ),
    ],
)
async def test_wrong_role_region_or_duty_refused_without_touching_history(
    claim_env: CaseEnv, sim: SimHandle, actor: StaffActor, code: str
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    h = await start(claim_env, claim_input(claim_env.settings, person, submitted_by="clerk.xc"))
    await wait_status(h, ClaimStatus.UNDER_REVIEW)
    before = await settled_history_length(h)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=actor))
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == code
    await assert_untouched(h, before)
    # A league reviewer above the district may decide.
    assert (await state(h)).status == ClaimStatus.UNDER_REVIEW
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=LEAGUE_REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED


async def test_decisions_on_a_closed_or_not_yet_reviewable_claim_are_refused(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="unregistered", registered=False)
    h = await start(claim_env, claim_input(claim_env.settings, person, channel=Channel.ONLINE))
    await wait_status(h, ClaimStatus.AWAITING_REGISTRATION)
    before = await settled_history_length(h)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert "待失业登记" in str(err.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await h.execute_update(
            BenefitClaimWorkflow.reject,
            RejectCommand(actor=REVIEWER, reason_code=RejectReason.OTHER, remedy="请重新申请。"),
        )
    await assert_untouched(h, before)
    await h.terminate("closing for the test")
    with pytest.raises(RPCError):
        await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))


async def test_reject_needs_a_remedy_and_ineligible_approval_needs_a_note(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="short_contributions", registered=True, cumulative_months=8
    )
    h = await start(claim_env, claim_input(claim_env.settings, person))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert s.rounds[0].report is not None and not s.rounds[0].report.eligibility.eligible
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            BenefitClaimWorkflow.reject,
            RejectCommand(actor=REVIEWER, reason_code=RejectReason.CONTRIBUTION_SHORT, remedy=" "),
        )
    assert "处置方式" in str(err.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert "核实说明" in str(err.value.cause)
    await h.execute_update(
        BenefitClaimWorkflow.reject,
        RejectCommand(
            actor=REVIEWER, reason_code=RejectReason.CONTRIBUTION_SHORT, remedy="请携带缴费凭证到窗口核实。"
        ),
    )
    result = await h.result()  # nobody re-applies: the window closes the case
    assert result.status == ClaimStatus.CLOSED and result.close_reason == "reapply_window_expired"


async def test_request_documents_restarts_the_clock(claim_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    h = await start(claim_env, claim_input(claim_env.settings, person))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    first = s.rounds[0].deadline
    assert first is not None
    r = await h.execute_update(
        BenefitClaimWorkflow.request_documents,
        RequestDocumentsCommand(actor=REVIEWER, documents=["解除劳动合同证明"]),
    )
    assert r.processing
    await wait_status(h, ClaimStatus.AWAITING_DOCUMENTS)
    assert "documents_requested" in [
        m["template"] for m in await messages(sim, h.id, wait_for="documents_requested")
    ]
    await claim_env.env.sleep(timedelta(days=9))
    await h.execute_update(BenefitClaimWorkflow.supply_documents, ReapplyEvent(by="applicant"))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    again = s.rounds[0].deadline
    assert again is not None and again.start_day > first.start_day and again.deadline > first.deadline
    assert len(s.rounds) == 1 and len(s.rounds[0].document_requests) == 1
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED


async def test_permanent_failure_blocks_the_case_until_ops_unblock(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.put(
            "/admin/faults/contributions", json={"refuse_rate": 1.0, "refuse_code": "service.suspended"}
        )
        assert r.status_code == 200, r.text
    try:
        h = await start(claim_env, claim_input(claim_env.settings, person))
        for _ in polls():
            s = await state(h)
            if s.blocked:
                break
            await asyncio.sleep(0.05)
        assert s.blocked is not None and "fetch_contributions" in s.blocked
        assert "case_blocked" in [m["template"] for m in await messages(sim, h.id, wait_for="case_blocked")]
        with pytest.raises(WorkflowUpdateFailedError):
            await h.execute_update(
                BenefitClaimWorkflow.unblock_case, UnblockCommand(actor=REVIEWER, note="x")
            )
    finally:
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            await c.delete("/admin/faults")
    await h.execute_update(
        BenefitClaimWorkflow.unblock_case, UnblockCommand(actor=OPS, note="缴费系统已恢复")
    )
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert s.blocked is None and "case.unblocked" in [e.what for e in s.timeline]
    await h.terminate("test done")


async def _fault(sim: SimHandle, system: str | None, **body: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await (c.put(f"/admin/faults/{system}", json=body) if system else c.delete("/admin/faults"))
        assert r.status_code == 200, r.text


async def test_reviewer_rechecks_after_a_system_briefly_said_not_found(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    """Issue 22 §2: "not found" is not taken as a fact for good. The contribution system briefly has
    no record; the checks say ineligible; the reviewer asks for a recheck (audited through the kit)
    once the data is back, and the same round goes on with the fresh report."""
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    await _fault(sim, "contributions", refuse_rate=1.0, refuse_status=404, refuse_code="person.not_found")
    inp = claim_input(claim_env.settings, person)
    # The record (which holds the category) is "not found": the clerk stated it at intake, so the
    # claim does not wait for it (issue 14: never guessed from sex).
    inp.application.retirement_category = RetirementCategory(person["retirement_category"])
    try:
        h = await start(claim_env, inp)
        s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    finally:
        await _fault(sim, None)
    report = s.rounds[0].report
    assert report is not None and not report.eligibility.eligible and report.not_found == ["缴费记录"]
    assert not s.blocked
    deadline = s.rounds[0].deadline
    # A recheck needs a reason, and only a reviewer of the case may ask for it.
    assert (
        await refusal(h, BenefitClaimWorkflow.recheck, RecheckCommand(actor=REVIEWER))
        == "review.note_required"
    )
    assert (
        await refusal(h, BenefitClaimWorkflow.recheck, RecheckCommand(actor=CLERK, note="缴费系统已恢复"))
        == "review.role"
    )
    receipt = await h.execute_update(
        BenefitClaimWorkflow.recheck, RecheckCommand(actor=REVIEWER, note="缴费系统已恢复", round=1)
    )
    assert receipt.status == "under_review" and receipt.round == 1
    await applied(h)
    s = await at_review(claim_env, h)  # the fresh report may meet a risk rule (shared database)
    rnd = s.rounds[0]
    assert len(s.rounds) == 1 and rnd.deadline == deadline and [d.kind for d in rnd.rechecks] == ["recheck"]
    assert rnd.report is not None and rnd.report.eligibility.eligible and rnd.report.not_found == []
    # Nothing "not found" any more: a second recheck is refused.
    assert (
        await refusal(h, BenefitClaimWorkflow.recheck, RecheckCommand(actor=REVIEWER, note="再查"))
        == "review.stage"
    )
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED
    assert "claim.recheck" in [action for action, _ in await audit_actions(claim_env.db, h.id)]


async def test_counter_registration_not_found_is_a_stage_for_the_clerk_not_a_block(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=False)
    await _fault(sim, "registration", refuse_rate=1.0, refuse_status=404, refuse_code="person.not_found")
    try:
        h = await start(claim_env, claim_input(claim_env.settings, person, channel=Channel.COUNTER))
        s = await wait_until(h, lambda s: s.stage == "registration_not_found")
    finally:
        await _fault(sim, None)
    assert s.status == ClaimStatus.AWAITING_REGISTRATION and s.blocked is None
    assert "registration.counter_not_found" in [e.what for e in s.timeline]
    assert "registration_not_found" in [
        m["template"] for m in await messages(sim, h.id, wait_for="registration_not_found")
    ]
    # The clerk registers the person on the platform; the daily re-check finds it.
    p = sim.state.pop.persons[person["id_number"]]
    p.registered, p.registered_on, p.registration_no = True, date.today(), "DJ-CLERK"
    await claim_env.env.sleep(timedelta(hours=25))
    s = await wait_status(h, ClaimStatus.UNDER_REVIEW)
    assert s.registration is not None and s.registration.registration_no == "DJ-CLERK"
    await h.terminate("test done")


async def refusal(h: WorkflowHandle[BenefitClaimWorkflow, Any], update: Any, arg: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, arg)
    assert isinstance(err.value.cause, ApplicationError)
    return str(err.value.cause.type)


async def test_a_reviewer_cannot_decide_their_own_claim(claim_env: CaseEnv, sim: SimHandle) -> None:
    """Issue 12 item 3 on the claim: the kit's own-case check (回避) holds for claims too."""
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = claim_input(claim_env.settings, person)
    h = await start(claim_env, inp)
    await wait_status(h, ClaimStatus.UNDER_REVIEW)
    herself = REVIEWER.model_copy(update={"applicant_key": inp.applicant_key})
    assert await refusal(h, BenefitClaimWorkflow.approve, ApproveCommand(actor=herself)) == "review.own_case"
    await h.terminate("test done")
