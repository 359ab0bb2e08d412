"""Race-proof decisions on the real case workflows (issue 12 item 4), made deterministic: the audit
activity is held (a fake ``write_audit`` that waits on an event; every other activity is the real
one, against the simulators), so a second Update is sent exactly in the gap between a decision
being taken and being processed. It is refused (``review.busy``); the first Update's receipt is back
meanwhile (answered on acceptance); once processed, a decision made for the level or round before is
refused too (``review.wrong_level`` / ``review.wrong_round``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.gov import GovClients, close_all
from activities.registry import build_activities
from core.db import Database
from core.settings import Settings
from core.temporal_client import make_data_converter
from models.claim import ApproveCommand, ClaimState, ClaimStatus, ReapplyEvent, RejectCommand, RejectReason
from models.enums import Channel
from models.review import ReviewAction, ReviewCommand
from sim.testing import SimHandle
from tests.factories import (
    LEAGUE_REVIEWER,
    REVIEWER,
    SECOND,
    CaseEnv,
    HeldAudit,
    applied,
    claim_input,
    dispute_input,
    sim_person,
    start_dispute,
    time_skipping_env,
)
from tests.waiting import WAIT_S
from workers import registry
from workers.main import sandbox_runner
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow
from workflows.stop_reason_dispute import StopReasonDisputeWorkflow


@dataclass
class HeldEnv:
    case: CaseEnv
    audit: HeldAudit


@pytest_asyncio.fixture
async def held(wf_settings: Settings, sqlite_db: Database) -> AsyncIterator[HeldEnv]:
    env = await time_skipping_env(make_data_converter(wf_settings))
    queue = f"races-{uuid.uuid4().hex[:8]}"
    settings = wf_settings.model_copy(update={"task_queue": queue})
    audit = HeldAudit()
    real = [
        a
        for a in build_activities(settings, sqlite_db, GovClients.from_settings(settings))
        if a.__temporal_activity_definition.name != "write_audit"  # type: ignore[attr-defined]
    ]
    worker = Worker(
        env.client,
        task_queue=queue,
        workflows=registry.workflows(),
        activities=[*real, audit.write_audit],
        workflow_runner=sandbox_runner(),
    )
    try:
        async with worker:
            yield HeldEnv(CaseEnv(env=env, task_queue=queue, settings=settings, db=sqlite_db), audit)
    finally:
        await close_all()
        await env.shutdown()


async def code_of(h: WorkflowHandle[Any, Any], update: Any, arg: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, arg)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    return str(cause.type)


async def claim_at(h: WorkflowHandle[Any, Any], status: ClaimStatus, rounds: int) -> ClaimState:
    end = asyncio.get_running_loop().time() + WAIT_S
    while True:
        s: ClaimState = await h.query(BenefitClaimWorkflow.state_query)
        if s.status == status and len(s.rounds) == rounds:
            return s
        assert asyncio.get_running_loop().time() < end, f"claim at {s.status}, round {len(s.rounds)}"
        await asyncio.sleep(0.05)


async def test_claim_decision_in_the_gap_is_busy_and_a_stale_round_is_refused(
    held: HeldEnv, sim: SimHandle
) -> None:
    ce, audit = held.case, held.audit
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    inp = claim_input(ce.settings, person, channel=Channel.COUNTER)
    h = await ce.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", "150102", "checking"),
    )
    await claim_at(h, ClaimStatus.UNDER_REVIEW, 1)
    reject = RejectCommand(
        actor=REVIEWER,
        reason_code=RejectReason.VOLUNTARY_SEPARATION,
        remedy="可由原单位申请变更停保原因",
        round=1,
    )
    audit.open_gap()
    taken = await h.start_update(
        BenefitClaimWorkflow.reject, reject, wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await audit.entered.wait()
    # Answered on acceptance: the receipt is back while the rejection is still being applied.
    receipt = await taken.result()
    assert receipt.processing and receipt.status == "under_review"
    # In the gap: the reviewer's second click and a colleague's approval are refused.
    assert await code_of(h, BenefitClaimWorkflow.reject, reject) == "review.busy"
    late = ApproveCommand(actor=LEAGUE_REVIEWER, note="核实无误", round=1)
    assert await code_of(h, BenefitClaimWorkflow.approve, late) == "review.busy"
    audit.close_gap()
    await applied(h)
    await claim_at(h, ClaimStatus.REJECTED, 1)
    # Round 2 (a re-application): a decision made for round 1 is refused, one for round 2 taken.
    sim.state.pop.persons[person["id_number"]].stop_reason_code = "contract_expired"
    await h.execute_update(BenefitClaimWorkflow.reapply, ReapplyEvent(by="applicant"))
    await claim_at(h, ClaimStatus.UNDER_REVIEW, 2)
    assert await code_of(h, BenefitClaimWorkflow.approve, late) == "review.wrong_round"
    await h.execute_update(BenefitClaimWorkflow.approve, late.model_copy(update={"round": 2}))
    assert (await h.result()).status == ClaimStatus.APPROVED
    assert audit.actions == ["claim.reject", "claim.approve"]


async def test_dispute_decision_in_the_gap_never_becomes_the_next_levels(
    held: HeldEnv, sim: SimHandle
) -> None:
    ce, audit = held.case, held.audit
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await start_dispute(ce, await dispute_input(ce, person, channel=Channel.EMPLOYER_WEBSITE))
    end = asyncio.get_running_loop().time() + WAIT_S
    while (await h.query(StopReasonDisputeWorkflow.state_query)).stage != "initial_review":
        assert asyncio.get_running_loop().time() < end
        await asyncio.sleep(0.05)
    first = ReviewCommand(actor=REVIEWER, action=ReviewAction.APPROVE, level="initial", round=1)
    audit.open_gap()
    taken = await h.start_update(
        StopReasonDisputeWorkflow.initial_review, first, wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await audit.entered.wait()
    assert (await taken.result()).processing  # answered on acceptance
    assert await code_of(h, StopReasonDisputeWorkflow.initial_review, first) == "review.busy"
    other = first.model_copy(update={"actor": LEAGUE_REVIEWER})
    assert await code_of(h, StopReasonDisputeWorkflow.initial_review, other) == "review.busy"
    audit.close_gap()
    await applied(h)
    assert (await h.query(StopReasonDisputeWorkflow.state_query)).stage == "second_review"
    # Processed: the first level's decision is late, whatever it is sent to.
    assert await code_of(h, StopReasonDisputeWorkflow.initial_review, other) == "review.wrong_level"
    stale = ReviewCommand(actor=SECOND, action=ReviewAction.APPROVE, level="initial")
    assert await code_of(h, StopReasonDisputeWorkflow.second_review, stale) == "review.wrong_level"
    assert (
        await code_of(
            h, StopReasonDisputeWorkflow.second_review, stale.model_copy(update={"level": None, "round": 2})
        )
        == "review.wrong_round"
    )
    s = await h.query(StopReasonDisputeWorkflow.state_query)
    assert [(d.level, d.by) for d in s.review.decisions] == [("initial", REVIEWER.login)]
    assert [a for a in audit.actions if a.startswith("dispute.review.")] == ["dispute.review.initial.approve"]
    await h.terminate("test done")
