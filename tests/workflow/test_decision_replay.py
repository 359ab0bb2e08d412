"""A decision accepted while the case is still writing its read model replays, wherever the SDK
places it on replay (issue 22: the drill's one TMPRL1100).

The drill saw, once, after a worker kill: ``[TMPRL1100] Nondeterminism error: Update machine does
not handle this event: … UpsertWorkflowSearchAttributes``. The approval had been accepted while
the claim's "under review" projection was in flight: a workflow task that accepted the Update and
issued no command. Replayed cold, the core handed the Update to the activation before, the one
that opens the review (activity result, then upsert and projection); the SDK runs Update jobs
before the other jobs of an activation, so the handler ran while the claim still read "checking",
and its second check of the stage refused what the validator had accepted. Validators are not run
on replay; the handlers no longer check again (``workflows/review_levels.py``, module docstring).

Since decisions answer on acceptance (issue 19, patch ``decision-answer-on-acceptance``) the task
that accepts a decision also completes its Update: no acceptance task is commandless any more, so
the placement the drill's replay met cannot arise for a new decision. The tests force the same gap
(no timing: the real ``project_case`` sits behind a gate for the "under review" projection, the
decision is sent into that gap and accepted, then the gate opens) and check both: the accepting
task completes the Update, and the recorded history replays. The handlers' missing second check
still matters for the decisions recorded before the patch, which wait for ``run`` to apply them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.gov import GovClients, close_all
from activities.registry import build_activities
from core.db import Database
from core.replay import make_replayer
from core.settings import Settings
from core.temporal_client import make_data_converter
from models.case import CaseProjection
from models.claim import ApproveCommand, ClaimStatus
from models.enums import Channel
from models.review import ReviewAction, ReviewCommand
from sim.testing import SimHandle
from tests.factories import REVIEWER, CaseEnv, applied, claim_input, dispute_input, sim_person, start_dispute
from workers import registry
from workers.main import sandbox_runner
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow
from workflows.registry import ALL_WORKFLOWS
from workflows.stop_reason_dispute import StopReasonDisputeWorkflow

ET = EventType


@dataclass
class HeldProjection:
    """``project_case`` (by name) in front of the real one: the first projection of ``status``
    waits at the gate, so a decision can be sent while it is in flight."""

    real: Any
    status: str = "under_review"
    stage: str | None = None
    armed: bool = True
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="project_case")
    async def project_case(self, p: CaseProjection) -> None:
        if self.armed and (p.stage == self.stage if self.stage else p.status == self.status):
            self.armed = False
            self.entered.set()
            await self.release.wait()
        await self.real(p)


@dataclass
class HeldEnv:
    env: WorkflowEnvironment
    queue: str
    settings: Settings
    gate: HeldProjection
    db: Database


@pytest_asyncio.fixture
async def held(
    local_env: WorkflowEnvironment, wf_settings: Settings, sqlite_db: Database
) -> AsyncIterator[HeldEnv]:
    """The real dev server (its update protocol is what the drill ran) and a worker with the real
    activities, ``project_case`` behind the gate."""
    queue = f"decision-replay-{uuid.uuid4().hex[:8]}"
    settings = wf_settings.model_copy(update={"task_queue": queue})
    acts = build_activities(settings, sqlite_db, GovClients.from_settings(settings))
    real = next(a for a in acts if a.__temporal_activity_definition.name == "project_case")  # type: ignore[attr-defined]
    gate = HeldProjection(real=real)
    worker = Worker(
        local_env.client,
        task_queue=queue,
        workflows=registry.workflows(),
        activities=[*(a for a in acts if a is not real), gate.project_case],
        workflow_runner=sandbox_runner(),
    )
    try:
        async with worker:
            yield HeldEnv(local_env, queue, settings, gate, sqlite_db)
    finally:
        await close_all()


def completed_by_the_accepting_task(history: WorkflowHistory) -> bool:
    """Whether every Update of ``history`` completed in the workflow task that accepted it (its
    UpdateCompleted before the next task is scheduled): no task accepted a decision and issued
    nothing, the shape whose replay met TMPRL1100 in the drill."""
    events = list(history.events)
    for i, e in enumerate(events):
        if e.event_type != ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        rest = events[i + 1 :]
        end = next(
            (n for n, x in enumerate(rest) if x.event_type == ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
            len(rest),
        )
        if not any(x.event_type == ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED for x in rest[:end]):
            return False
    return True


async def test_an_approval_accepted_while_the_review_is_projected_replays_wherever_it_lands(
    held: HeldEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = claim_input(held.settings, person, channel=Channel.COUNTER)
    h = await held.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=held.queue,
        search_attributes=initial_search_attributes("benefit_claim", "150102", "checking"),
    )
    await asyncio.wait_for(held.gate.entered.wait(), 60)
    # The case says "under review" (the drill reads it so) while its projection is still in flight.
    assert (await h.query(BenefitClaimWorkflow.state_query)).status == ClaimStatus.UNDER_REVIEW
    approval = await h.start_update(
        BenefitClaimWorkflow.approve,
        ApproveCommand(actor=REVIEWER, note="核实无误", round=1),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    held.gate.release.set()
    assert (await approval.result()).processing  # answered on acceptance, applied after (issue 19)
    assert (await h.result()).status == ClaimStatus.APPROVED

    history = await h.fetch_history()
    assert completed_by_the_accepting_task(history)
    replayer = make_replayer(ALL_WORKFLOWS, make_data_converter(held.settings), sandbox_runner())
    await replayer.replay_workflow(history)


async def test_a_review_kit_decision_accepted_while_its_level_is_projected_replays_wherever_it_lands(
    held: HeldEnv, sim: SimHandle
) -> None:
    """The same shape on the review kit (a stop-reason dispute's first level): the level is open,
    its projection in flight, the decision accepted in between."""
    held.gate.stage = "initial_review"
    ce = CaseEnv(env=held.env, task_queue=held.queue, settings=held.settings, db=held.db)
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await start_dispute(ce, await dispute_input(ce, person, channel=Channel.EMPLOYER_WEBSITE))
    await asyncio.wait_for(held.gate.entered.wait(), 60)
    decision = await h.start_update(
        StopReasonDisputeWorkflow.initial_review,
        ReviewCommand(actor=REVIEWER, action=ReviewAction.APPROVE, level="initial", round=1),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    held.gate.release.set()
    assert (await decision.result()).processing  # answered on acceptance, applied after (issue 19)
    await applied(h)
    assert (await h.query(StopReasonDisputeWorkflow.state_query)).stage == "second_review"

    history = await h.fetch_history()
    await h.terminate("test done")
    replayer = make_replayer(ALL_WORKFLOWS, make_data_converter(held.settings), sandbox_runner())
    assert completed_by_the_accepting_task(history)
    await replayer.replay_workflow(history)
