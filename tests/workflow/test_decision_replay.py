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

Forced here, no timing: the real ``project_case`` sits behind a gate for the "under review"
projection, the approval is sent into that gap and accepted, then the gate opens. The recorded
history replays as is, and with the acceptance moved into the task before (the placement the
drill's replay met), which failed with the same error before the fix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from google.protobuf.message import Message
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
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
from tests.factories import REVIEWER, CaseEnv, claim_input, dispute_input, sim_person, start_dispute
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


def _renumber(msg: Message, ids: dict[int, int]) -> None:
    """Every ``…event_id`` field of ``msg`` (nested included) through ``ids``."""
    for fd, value in msg.ListFields():
        if isinstance(value, Message):
            _renumber(value, ids)
        elif hasattr(value, "values"):  # a map field
            for v in value.values():
                if isinstance(v, Message):
                    _renumber(v, ids)
        elif isinstance(value, str | bytes | float | bool):
            continue
        elif isinstance(value, int):
            if fd.name.endswith("event_id") and value in ids:
                setattr(msg, fd.name, ids[value])
        else:  # a repeated field
            for v in value:
                if isinstance(v, Message):
                    _renumber(v, ids)


def accepted_in_the_task_before(history: WorkflowHistory) -> WorkflowHistory:
    """The same run with the Update's acceptance moved out of the commandless task that accepted
    it into the workflow task before, ahead of that task's commands (the upsert and the
    projection), as the replay after the drill's worker kill placed it."""
    events = list(history.events)
    at = next(
        i for i, e in enumerate(events) if e.event_type == ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )
    own_task = events[at - 3 : at]
    assert [e.event_type for e in own_task] == [
        ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        ET.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    ], "the approval was accepted by a task with commands of its own: the gap was missed"
    before = max(i for i in range(at - 3) if events[i].event_type == ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    dropped = {e.event_id for e in own_task}
    moved = [
        *events[: before + 1],
        events[at],
        *(e for i, e in enumerate(events) if i > before and i != at and e.event_id not in dropped),
    ]
    ids = {e.event_id: n for n, e in enumerate(moved, start=1)}
    out: list[HistoryEvent] = []
    for e in moved:
        c = HistoryEvent()
        c.CopyFrom(e)
        _renumber(c, ids)
        c.event_id = ids[e.event_id]
        out.append(c)
    attrs = out[before + 1].workflow_execution_update_accepted_event_attributes
    attrs.accepted_request_sequencing_event_id = out[before - 2].event_id  # that task's schedule
    return WorkflowHistory(history.workflow_id, out)


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
    assert (await approval.result()).status == "approved"
    assert (await h.result()).status == ClaimStatus.APPROVED

    history = await h.fetch_history()
    replayer = make_replayer(ALL_WORKFLOWS, make_data_converter(held.settings), sandbox_runner())
    await replayer.replay_workflow(history)
    moved = accepted_in_the_task_before(history)
    kinds = [e.event_type for e in moved.events]
    at = kinds.index(ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    assert kinds[at - 1 : at + 3] == [
        ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        ET.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,  # the review opened: "under review"
        ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,  # its projection
    ]
    await replayer.replay_workflow(moved)


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
    assert (await decision.result()).stage == "second_review"

    history = await h.fetch_history()
    await h.terminate("test done")
    replayer = make_replayer(ALL_WORKFLOWS, make_data_converter(held.settings), sandbox_runner())
    await replayer.replay_workflow(history)
    await replayer.replay_workflow(accepted_in_the_task_before(history))
