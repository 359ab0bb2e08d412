"""The engine floor: a workflow with the shape of a claim's happy path and nothing else.

The plan (how many activities in each workflow task, where search attributes are upserted, where
the workflow waits with a timer for the staff Update) is read from a real claim's history by
:mod:`cli.bench.history_shape`, so the floor follows the claim when the claim changes. Activities
do nothing; the payloads are a few bytes. The ratio claims/floor measured in the same run is then
what uiflow itself costs on top of Temporal on this machine."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
WAITING = "bench-waiting"
LONG_WAIT = timedelta(days=30)
# The claim's answer-gap timer (`workflows.review_levels.ANSWER_GAP`): it ends the deciding task.
GAP = timedelta(milliseconds=1)


class FloorStep(BaseModel):
    """The commands of one workflow task of the claim: upserts, activities scheduled together,
    and whether the workflow then waits (with a timer) for the Update."""

    activities: int = 0
    upserts: int = 0
    children: int = 0
    timers: int = 0  # timers that end the task at once (the claim's answer before its steps)
    wait_for_update: bool = False


class FloorPlan(BaseModel):
    steps: list[FloorStep] = Field(default_factory=list)


@activity.defn(name="bench_noop")
async def bench_noop(n: int) -> int:
    return n


def announce_step(plan: FloorPlan) -> int:
    """The step whose last upsert says "ready for a decision" (``WAITING``), as the claim's
    projection says under_review: the last step that upserts up to and including the first wait.
    Including it matters: when the waiting step upserts too (the claim projects in the task that
    starts its review timer), an announcement one step earlier was overwritten before the wait,
    and a driver that polled after that never saw it and waited for ever (the bench smoke suite's
    intermittent hang). -1: nothing upserts up to the wait, which then announces by itself."""
    waits = [i for i, s in enumerate(plan.steps) if s.wait_for_update]
    if not waits:
        return -1
    return max((i for i in range(waits[0] + 1) if plan.steps[i].upserts), default=-1)


@workflow.defn(name="BenchFloorChild")
class BenchFloorChild:
    """Stands for a child case the claim starts (the benefit period): started, then done."""

    @workflow.run
    async def run(self, n: int) -> int:
        return n


@workflow.defn(name="BenchFloorWorkflow")
class BenchFloorWorkflow:
    def __init__(self) -> None:
        self.ready = False
        self.decided = False
        self.finished = False

    @workflow.run
    async def run(self, plan: FloorPlan) -> int:
        done = 0
        announce = announce_step(plan)
        for i, step in enumerate(plan.steps):
            for u in range(step.upserts):
                value = WAITING if (i == announce and u == step.upserts - 1) else f"bench-{i}"
                workflow.upsert_search_attributes([CASE_STATUS.value_set(value)])
            if i == announce or (announce < 0 and step.wait_for_update):
                if announce < 0:
                    # No upsert before the wait (the lean claim starts its review timer beside the
                    # checks, in its first task): announce here, or the driver, which looks for
                    # the waiting status, never decides and the floor waits out LONG_WAIT.
                    workflow.upsert_search_attributes([CASE_STATUS.value_set(WAITING)])
                self.ready = True
            for _ in range(step.timers):
                await workflow.sleep(GAP)
            for c in range(step.children):
                await workflow.start_child_workflow(
                    BenchFloorChild.run,
                    c,
                    id=f"{workflow.info().workflow_id}-child-{i}-{c}",
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
            if step.wait_for_update:
                try:
                    await workflow.wait_condition(lambda: self.decided, timeout=LONG_WAIT)
                except TimeoutError:
                    return -1
            if step.activities:
                results = await asyncio.gather(
                    *(
                        workflow.execute_activity(bench_noop, k, start_to_close_timeout=timedelta(seconds=60))
                        for k in range(step.activities)
                    )
                )
                done += len(results)
        self.finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return done

    @workflow.update
    async def decide(self, note: str) -> str:
        # Answered on acceptance, as the claim's decision is (``DecisionDesk.answer``).
        self.decided = True
        return "decided"

    @decide.validator
    def _validate_decide(self, note: str) -> None:
        if not self.ready:
            raise ValueError("not ready for a decision")
        if self.decided:
            raise ValueError("already decided")
