"""The review kit alone, on a host workflow that adds nothing (``tests/kit/host_workflow.py``), with
its four activities faked by name: levels in order, send-back, deadlines with reminder and
escalation (time-skipping), every refusal code, a decision refused while the one before it is still
being processed (the audit activity held), and two decisions in one workflow task.

The real activities behind the kit run in the claim and dispute tests (tests/workflow)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.case import (
    BUSINESS_TZ,
    CaseProjection,
    DeadlineInfo,
    DeadlineRequest,
    Notification,
    local_date,
)
from models.enums import Role
from models.review import ReviewAction, ReviewCommand, ReviewLevelSpec
from models.staff import StaffActor
from tests.factories import HeldAudit, time_skipping_env
from tests.kit.host_workflow import HostInput, KitHostWorkflow
from tests.waiting import WAIT_S
from workers.main import sandbox_runner

BIN = Path(sys.executable).parent
Host = WorkflowHandle[KitHostWorkflow, Any]

LEVELS = [
    ReviewLevelSpec(
        key="first", label_zh="一审", role=Role.REVIEWER, working_days=5, reminder_working_days=1
    ),
    ReviewLevelSpec(key="second", label_zh="二审", role=Role.SECOND_REVIEWER, working_days=5),
]
A = StaffActor(login="first.a", name="甲", roles=[Role.REVIEWER], region_code="150102")
A2 = StaffActor(login="first.b", name="乙", roles=[Role.REVIEWER], region_code="150100")
B = StaffActor(login="second.b", name="丙", roles=[Role.SECOND_REVIEWER], region_code="150100")
MULTI = StaffActor(
    login="multi", name="多岗", roles=[Role.REVIEWER, Role.SECOND_REVIEWER], region_code="150000"
)
FAR = StaffActor(login="far", name="远", roles=[Role.REVIEWER], region_code="150202")
INTAKE = StaffActor(login="clerk.xc", name="受理人", roles=[Role.REVIEWER], region_code="150102")
OWN = StaffActor(
    login="own",
    name="本人",
    roles=[Role.REVIEWER],
    region_code="150102",
    applicant_key="applicant-key-of-the-case",
)


def cmd(actor: StaffActor, action: ReviewAction = ReviewAction.APPROVE, **kw: Any) -> ReviewCommand:
    return ReviewCommand(actor=actor, action=action, **kw)


@dataclass
class FakeActivities:
    """The kit's four activities, by name; the audit can be held to open the race window."""

    audit: HeldAudit = field(default_factory=HeldAudit)
    notes: list[str] = field(default_factory=list)

    @activity.defn(name="project_case")
    async def project_case(self, p: CaseProjection) -> None:
        return None

    @activity.defn(name="notify")
    async def notify(self, n: Notification) -> list[str]:
        self.notes.append(n.template)
        return []

    @activity.defn(name="compute_deadline")
    async def compute_deadline(self, r: DeadlineRequest) -> DeadlineInfo:
        """Calendar days stand in for working days: the kit only needs the instants."""
        days = r.working_days or 5
        start = local_date(r.start)
        deadline = start + timedelta(days=days)
        reminder = deadline - timedelta(days=r.reminder_working_days)
        return DeadlineInfo(
            start_day=start,
            deadline=deadline,
            deadline_at=datetime.combine(deadline + timedelta(days=1), time(), BUSINESS_TZ),
            reminder_at=datetime.combine(reminder, time(9), BUSINESS_TZ) if r.reminder_working_days else None,
            working_days=days,
            calendar_version="fake",
            parameter_version="fake",
        )


@dataclass
class Kit:
    env: WorkflowEnvironment
    fakes: FakeActivities
    queue: str

    def worker(self) -> Worker:
        f = self.fakes
        return Worker(
            self.env.client,
            task_queue=self.queue,
            workflows=[KitHostWorkflow],
            activities=[f.audit.write_audit, f.project_case, f.notify, f.compute_deadline],
            workflow_runner=sandbox_runner(),
            max_cached_workflows=0,  # no sticky queue: a restarted worker gets the next task at once
        )

    async def start(self) -> Host:
        h = await self.env.client.start_workflow(
            KitHostWorkflow.run,
            HostInput(case_id=f"kit-{uuid.uuid4().hex[:8]}", levels=LEVELS),
            id=f"kit-{uuid.uuid4().hex[:8]}",
            task_queue=self.queue,
        )
        await at_level(h, "first")
        return h


@pytest_asyncio.fixture
async def kit() -> AsyncIterator[Kit]:
    env = await time_skipping_env(pydantic_data_converter)
    try:
        yield Kit(env=env, fakes=FakeActivities(), queue=f"kit-{uuid.uuid4().hex[:8]}")
    finally:
        await env.shutdown()


async def at_level(h: Host, key: str | None, passes: int | None = None) -> None:
    end = asyncio.get_running_loop().time() + WAIT_S
    while True:
        c = await h.query(KitHostWorkflow.chain)
        lv = c.open_level
        if c.current == key and (passes is None or (lv is not None and lv.passes == passes)):
            return
        assert asyncio.get_running_loop().time() < end, f"chain at {c.current}, wanted {key}"
        await asyncio.sleep(0.05)


async def settled(h: Host) -> None:
    """Until the decision the chain accepted last is applied: its Update answers on acceptance
    (issue 19), the next decision is refused ``review.busy`` until then."""
    end = asyncio.get_running_loop().time() + WAIT_S
    while await h.query("decision_processing", result_type=bool):
        assert asyncio.get_running_loop().time() < end, "decision still being applied"
        await asyncio.sleep(0.05)


async def refused(h: Host, update: Callable[..., Awaitable[Any]], command: ReviewCommand) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, command)  # type: ignore[arg-type]
    cause = err.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable and cause.message
    return str(cause.type)


# --- tests -----------------------------------------------------------------------------------------


async def test_levels_in_order_with_a_send_back_and_every_decision_audited(kit: Kit) -> None:
    async with kit.worker():
        h = await kit.start()
        d = await h.execute_update(KitHostWorkflow.first, cmd(A, note="无误"))
        assert (d.level, d.pass_no, d.seq) == ("first", 1, 1)
        await settled(h)
        await h.execute_update(
            KitHostWorkflow.second, cmd(B, ReviewAction.SEND_BACK, note="补充说明", level="second", round=1)
        )
        await at_level(h, "first", passes=2)
        await settled(h)
        await h.execute_update(KitHostWorkflow.first, cmd(A, level="first", round=2))
        await settled(h)
        await h.execute_update(KitHostWorkflow.second, cmd(B))
        await settled(h)
        await h.signal(KitHostWorkflow.close)
        assert await h.result() == "approved"
        c = await h.query(KitHostWorkflow.chain)
    assert [(x.level, x.action.value, x.pass_no) for x in c.decisions] == [
        ("first", "approve", 1),
        ("second", "send_back", 1),
        ("first", "approve", 2),
        ("second", "approve", 2),  # the second level's second opening
    ]
    assert kit.fakes.audit.actions == [
        "kit.first.approve",
        "kit.second.send_back",
        "kit.first.approve",
        "kit.second.approve",
    ]
    assert kit.fakes.notes.count("review_assigned") == 4


async def test_reject_ends_the_chain(kit: Kit) -> None:
    async with kit.worker():
        h = await kit.start()
        await h.execute_update(KitHostWorkflow.first, cmd(A, ReviewAction.REJECT, reason="不符合条件"))
        await settled(h)
        assert await refused(h, KitHostWorkflow.first, cmd(A2)) == "case.decided"
        await h.signal(KitHostWorkflow.close)
        assert await h.result() == "rejected"


async def test_reminder_then_escalation_when_a_level_runs_past_its_limit(kit: Kit) -> None:
    async with kit.worker():
        h = await kit.start()
        await kit.env.sleep(timedelta(days=4, hours=12))  # past the reminder (day 4, 09:00), before the limit
        c = await h.query(KitHostWorkflow.chain)
        assert c.levels[0].reminded_at is not None and not c.overdue
        await kit.env.sleep(timedelta(days=3))  # past the end of the deadline day
        c = await h.query(KitHostWorkflow.chain)
        assert c.overdue and c.escalated and c.levels[0].overdue_at is not None
        assert kit.fakes.notes == ["review_assigned", "review_reminder", "review_overdue"]
        # A late decision is still taken; the next level has its own fresh limit.
        await h.execute_update(KitHostWorkflow.first, cmd(A))
        await settled(h)
        c = await h.query(KitHostWorkflow.chain)
        assert c.current == "second" and not c.overdue and c.escalated
        await h.terminate("test done")


async def test_every_refusal_code(kit: Kit) -> None:
    async with kit.worker():
        h = await kit.start()
        first, second = KitHostWorkflow.first, KitHostWorkflow.second
        seen = {
            await refused(h, KitHostWorkflow.nowhere, cmd(A)),
            await refused(h, second, cmd(B)),  # review.wrong_level: the chain is at the first level
            await refused(h, first, cmd(A, level="second")),  # made for another level
            await refused(h, first, cmd(A, round=2)),  # made for another round
            await refused(h, first, cmd(B)),  # review.role
            await refused(h, first, cmd(FAR)),  # review.region
            await refused(h, first, cmd(OWN)),  # review.own_case
            await refused(h, first, cmd(INTAKE)),  # review.intake
            await refused(h, first, cmd(A, ReviewAction.REJECT, reason="不")),  # review.reason_required
            await refused(h, first, cmd(A, ReviewAction.SEND_BACK, note="退回")),  # cannot_send_back
        }
        await h.execute_update(first, cmd(MULTI))
        await settled(h)
        seen |= {
            await refused(h, second, cmd(MULTI)),  # review.separation
            await refused(h, second, cmd(B, ReviewAction.SEND_BACK)),  # review.note_required
        }
        kit.fakes.audit.open_gap()
        pending = await h.start_update(second, cmd(B), wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        await kit.fakes.audit.entered.wait()
        seen.add(await refused(h, second, cmd(B)))  # review.busy
        kit.fakes.audit.close_gap()
        await pending.result()
        await settled(h)
        seen.add(await refused(h, second, cmd(B)))  # case.decided (the desk, closed)
        await h.signal(KitHostWorkflow.close)
        assert await h.result() == "approved"
    assert seen == {
        "review.unknown_level",
        "review.wrong_level",
        "review.wrong_round",
        "review.role",
        "review.region",
        "review.own_case",
        "review.intake",
        "review.reason_required",
        "review.cannot_send_back",
        "review.separation",
        "review.note_required",
        "review.busy",
        "case.decided",
    }


async def test_a_decision_sent_while_the_one_before_is_processed_never_lands_on_the_next_level(
    kit: Kit,
) -> None:
    """Issue 12 item 4: the audit of the first-level decision is held; the same person's second
    click, and a first-level decision by someone else, arrive in that gap. Before the fix the
    second was taken as the *next* level's decision (one person at two levels)."""
    async with kit.worker():
        h = await kit.start()
        kit.fakes.audit.open_gap()
        taken = await h.start_update(
            KitHostWorkflow.first, cmd(MULTI), wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await kit.fakes.audit.entered.wait()
        assert await refused(h, KitHostWorkflow.first, cmd(MULTI)) == "review.busy"
        assert await refused(h, KitHostWorkflow.first, cmd(A)) == "review.busy"
        kit.fakes.audit.close_gap()
        assert (await taken.result()).level == "first"
        await at_level(h, "second")
        await settled(h)
        # Now late: a first-level decision is refused for the level, whatever it names.
        assert await refused(h, KitHostWorkflow.first, cmd(A)) == "review.wrong_level"
        assert await refused(h, KitHostWorkflow.second, cmd(B, level="first")) == "review.wrong_level"
        c = await h.query(KitHostWorkflow.chain)
        assert [(x.level, x.by) for x in c.decisions] == [("first", "multi")]
        assert c.levels[1].status == "open" and c.levels[1].reviewers == []
        await h.terminate("test done")


async def test_two_decisions_in_one_workflow_task_only_one_is_taken(kit: Kit) -> None:
    async with kit.worker():
        h = await kit.start()
    # No worker: both Updates wait at the server and reach the workflow in the same task.
    both = [
        asyncio.create_task(h.execute_update(KitHostWorkflow.first, cmd(A, note="甲"))),
        asyncio.create_task(h.execute_update(KitHostWorkflow.first, cmd(A2, note="乙"))),
    ]
    await asyncio.sleep(1.0)
    async with kit.worker():
        done = await asyncio.gather(*both, return_exceptions=True)
        ok = [d for d in done if not isinstance(d, BaseException)]
        failed = [d for d in done if isinstance(d, WorkflowUpdateFailedError)]
        assert len(ok) == 1 and len(failed) == 1, done
        cause = failed[0].cause
        assert isinstance(cause, ApplicationError) and cause.type == "review.busy"
        await at_level(h, "second")
        c = await h.query(KitHostWorkflow.chain)
        assert len(c.decisions) == 1 and kit.fakes.audit.actions == ["kit.first.approve"]
        await h.terminate("test done")
