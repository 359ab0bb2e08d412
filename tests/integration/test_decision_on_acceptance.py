"""A decision answers on acceptance (issue 19) and stays exact: the reviewer's Update returns its
receipt while the claim is still applying the approval, a second decision meanwhile is refused and
never reaches the history, and the accepted one is applied exactly once although the worker that
accepted it is SIGKILLed mid-way (a real ``uiflow worker`` process on the real dev server, the
simulators over HTTP, PostgreSQL).

What makes the kill land mid-way, deterministically: the notifier (the approval's last step, the
SMS to the applicant) answers 503 until the first worker is dead, so the claim cannot finish on it;
the desk stays busy, and the claim says so (``decision_processing``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from core.db import Database
from core.settings import Settings
from models.claim import ApproveCommand, ClaimStatus
from models.enums import Channel
from models.tables import CaseRecord
from sim.state import FaultConfig
from sim.testing import SimHandle
from tests.factories import (
    LEAGUE_REVIEWER,
    REVIEWER,
    CaseEnv,
    at_review,
    audit_actions,
    claim_input,
    sim_person,
)
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow

BIN = Path(sys.executable).parent


def _worker_env(settings: Settings, address: str) -> dict[str, str]:
    """The test's settings as the ``UIFLOW_*`` environment of a worker process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UIFLOW_")}
    for name, value in settings.model_dump().items():
        if value is None or isinstance(value, (dict, list, tuple, set)):
            continue
        env[f"UIFLOW_{name.upper()}"] = str(value)
    env.update(
        {
            "UIFLOW_TEMPORAL_ADDRESS": address,
            "UIFLOW_TEMPORAL_NAMESPACE": "default",
            "UIFLOW_WORKER_METRICS_PORT": "0",
            "UIFLOW_WORKER_SHUTDOWN_GRACE_SECONDS": "2",
        }
    )
    return env


class WorkerProcess:
    """``uiflow worker`` as its own process, started and killed by the test."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([str(BIN / "uiflow"), "worker"], env=self.env, stdout=out, stderr=out)

    async def ready(self, limit_s: float = 180) -> None:
        """Until the process says it polls (its start-up imports take seconds on a busy machine;
        the claim's bounded waits start only once a worker can run it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while b"worker started on task queue" not in self.log.read_bytes():
            assert self.proc is not None and self.proc.poll() is None, "the worker process exited"
            assert loop.time() < deadline, "the worker process did not start polling"
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


@pytest_asyncio.fixture
async def worker_env(
    local_env: WorkflowEnvironment, wf_settings: Settings, pg_url: str, pg_db: Database, tmp_path: Path
) -> AsyncIterator[tuple[CaseEnv, WorkerProcess]]:
    queue = f"accept-{uuid.uuid4().hex[:8]}"
    settings = wf_settings.model_copy(update={"task_queue": queue, "database_url": pg_url})
    worker = WorkerProcess(
        _worker_env(settings, local_env.client.service_client.config.target_host), tmp_path / "worker.log"
    )
    worker.start()
    await worker.ready()
    try:
        yield CaseEnv(env=local_env, task_queue=queue, settings=settings, db=pg_db), worker
    finally:
        worker.stop()


async def _events(h: WorkflowHandle[Any, Any]) -> list[Any]:
    return [e async for e in h.fetch_history_events()]


def _steps(events: list[Any]) -> list[str]:
    """The activities a history ran: scheduled ones, and local ones (a marker each, whose data
    names the activity type; the lean claim runs its own-database steps locally)."""
    names = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    for e in events:
        if e.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
            continue
        attrs = e.marker_recorded_event_attributes
        if attrs.marker_name == "core_local_activity":
            names.append(json.loads(attrs.details["data"].payloads[0].data)["activity_type"])
    return names


async def test_an_accepted_decision_answers_at_once_and_is_applied_once_across_a_worker_kill(
    worker_env: tuple[CaseEnv, WorkerProcess], sim: SimHandle
) -> None:
    ce, worker = worker_env
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, cumulative_months=130
    )
    inp = claim_input(ce.settings, person, channel=Channel.COUNTER)
    h = await ce.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", "150102", "checking"),
    )
    await at_review(ce, h)

    sim.state.faults["notifier"] = FaultConfig(error_rate=1.0)
    try:
        receipt = await h.execute_update(
            BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER, round=1)
        )
        # Answered on acceptance: the approval is recorded, not yet applied.
        assert receipt.processing and receipt.status == ClaimStatus.UNDER_REVIEW.value
        assert await h.query("decision_processing", result_type=bool)

        # A colleague's decision while the first is applied: refused, and absent from the history.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await h.execute_update(
                BenefitClaimWorkflow.approve,
                ApproveCommand(actor=LEAGUE_REVIEWER, note="核实无误", round=1),
                id="second-approval",
            )
        assert isinstance(refused.value.cause, ApplicationError)
        # Busy while the approval is being applied, or decided once it has been (the lean claim
        # approves within a workflow task or two): refused either way, never in the history.
        assert refused.value.cause.type in ("review.busy", "case.decided")

        # The worker that accepted the approval dies before the claim could finish it.
        worker.kill()
        assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        sim.state.faults.pop("notifier", None)

    worker.start()
    result = await asyncio.wait_for(h.result(), timeout=180)
    assert result.status == ClaimStatus.APPROVED

    events = await _events(h)
    accepted = [
        e.workflow_execution_update_accepted_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert [a.accepted_request.input.name for a in accepted] == ["approve"]
    assert all(a.protocol_instance_id != "second-approval" for a in accepted)
    assert _steps(events).count("compute_entitlement") == 1
    children = [
        e for e in events if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    assert len(children) == 1
    assert [a for a, _ in await audit_actions(ce.db, inp.case_id) if a == "claim.approve"] == [
        "claim.approve"
    ]
    async with ce.db.session() as s:
        row = (await s.exec(select(CaseRecord).where(CaseRecord.case_id == inp.case_id))).one()
    assert row.status == ClaimStatus.APPROVED.value
    assert not await h.query("decision_processing", result_type=bool)
