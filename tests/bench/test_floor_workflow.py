"""The engine floor announces "waiting for a decision" in the state it waits in: a driver that
looks for the waiting status after the floor blocked must still find it (the bench smoke suite
hung when a later upsert in the waiting task overwrote the announcement)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cli.bench.floor_workflow import (
    CASE_STATUS,
    WAITING,
    BenchFloorChild,
    BenchFloorWorkflow,
    FloorPlan,
    FloorStep,
    announce_step,
    bench_noop,
)
from tests.waiting import WAIT_S, polls
from workers.main import sandbox_runner

#: The shape the probe claim had in a passing run: its waiting task upserts twice as well.
WAIT_STEP_UPSERTS = FloorPlan(
    steps=[
        FloorStep(activities=2, upserts=3),
        FloorStep(activities=6, upserts=2),
        FloorStep(upserts=2, wait_for_update=True),
        FloorStep(upserts=3, children=1),
        FloorStep(activities=1),
    ]
)


def test_the_announcement_is_the_last_upsert_up_to_the_wait() -> None:
    assert announce_step(WAIT_STEP_UPSERTS) == 2
    earlier = FloorPlan(steps=[FloorStep(upserts=1), FloorStep(activities=1, wait_for_update=True)])
    assert announce_step(earlier) == 0
    none = FloorPlan(steps=[FloorStep(activities=2, wait_for_update=True), FloorStep(upserts=1)])
    assert announce_step(none) == -1
    assert announce_step(FloorPlan(steps=[FloorStep(upserts=2)])) == -1


@pytest.mark.devserver
@pytest.mark.parametrize(
    "plan",
    [
        WAIT_STEP_UPSERTS,
        FloorPlan(steps=[FloorStep(activities=2, wait_for_update=True), FloorStep(upserts=1)]),
    ],
    ids=["waiting-task-upserts", "no-upsert-before-the-wait"],
)
async def test_the_floor_waits_saying_it_waits(local_env: WorkflowEnvironment, plan: FloorPlan) -> None:
    client = local_env.client
    queue = f"floor-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BenchFloorWorkflow, BenchFloorChild],
        activities=[bench_noop],
        workflow_runner=sandbox_runner(),
    ):
        handle = await client.start_workflow(
            BenchFloorWorkflow.run, plan, id=f"floor-{uuid.uuid4().hex}", task_queue=queue
        )

        async def blocked() -> bool:
            events = [e.event_type async for e in handle.fetch_history_events()]
            return EventType.EVENT_TYPE_TIMER_STARTED in events

        for _ in polls():
            if await blocked():
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the floor never reached its wait")
        # Blocked on its decision: what it says now is what any later poll of visibility sees.
        desc = await handle.describe()
        assert desc.typed_search_attributes.get(CASE_STATUS) == WAITING
        await handle.execute_update(BenchFloorWorkflow.decide, "test")
        done = await asyncio.wait_for(handle.result(), timeout=WAIT_S)
        assert done == sum(s.activities for s in plan.steps)
