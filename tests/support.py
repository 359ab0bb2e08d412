"""Helpers shared by the workflow, integration and API tests."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.claim import ClaimApplication, ClaimInput, ClaimTimings
from models.enums import Channel, Role
from models.staff import StaffActor

REVIEWER = StaffActor(login="reviewer.xc", name="李审核", roles=[Role.REVIEWER], region_code="150102")
LEAGUE_REVIEWER = StaffActor(
    login="reviewer.hhht", name="赵审核", roles=[Role.REVIEWER], region_code="150100"
)
OTHER_REGION_REVIEWER = StaffActor(
    login="reviewer.dh", name="郑审核", roles=[Role.REVIEWER], region_code="150202"
)
CLERK = StaffActor(login="clerk.xc", name="王窗口", roles=[Role.INTAKE_CLERK], region_code="150102")
OPS = StaffActor(login="ops.nmg", name="陈运维", roles=[Role.OPS_ENGINEER], region_code="150000")


@dataclass
class CaseEnv:
    env: WorkflowEnvironment
    task_queue: str
    settings: Settings
    db: Database


async def sim_person(base_url: str, token: str, **overrides: Any) -> dict[str, Any]:
    """An exact person in the simulated government systems (POST /admin/persons)."""
    overrides.setdefault("insured_region", "150102")
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        r = await c.post("/admin/persons", json=overrides)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def application_for(person: dict[str, Any], region: str = "150102") -> ClaimApplication:
    return ClaimApplication(
        id_number=person["id_number"],
        name=person["name"],
        phone=person["phone"],
        bank_account=person["account_no"],
        bank_name=person["bank_name"],
        region_code=region,
        employer_credit_code=person["last_employer"],
        separation_date=date.fromisoformat(person["stop_date"]),
    )


def claim_input(
    settings: Settings,
    person: dict[str, Any],
    *,
    channel: Channel = Channel.COUNTER,
    submitted_by: str = "clerk.xc",
    received_at: datetime | None = None,
    timings: ClaimTimings | None = None,
) -> ClaimInput:
    app = application_for(person)
    key = applicant_key(settings, app.id_number)
    return ClaimInput(
        case_id=f"claim-{app.region_code}-{key}-{uuid.uuid4().hex[:4]}",
        applicant_key=key,
        application=app,
        channel=channel,
        received_at=received_at or datetime.now(UTC),
        submitted_by="applicant" if channel == Channel.ONLINE else submitted_by,
        submitted_by_region=None if channel == Channel.ONLINE else "150102",
        timings=timings or ClaimTimings(),
    )


async def history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len((await handle.fetch_history()).events)


async def settled_history_length(handle: WorkflowHandle[Any, Any], limit: float = 10.0) -> int:
    """The history length once the workflow is idle (no activity pending, length stable)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    last, stable = -1, 0
    while loop.time() < end:
        n = await history_length(handle)
        desc = await handle.describe()
        pending = len(desc.raw_description.pending_activities)
        stable = stable + 1 if (n == last and pending == 0) else 0
        if stable >= 3:
            return n
        last = n
        await asyncio.sleep(0.1)
    raise AssertionError("workflow did not settle")


WORKFLOW_TASK_EVENTS = {
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
}


async def events_since(handle: WorkflowHandle[Any, Any], n: int) -> list[str]:
    """Event type names after the first ``n`` events."""
    from temporalio.api.enums.v1 import EventType

    return [EventType.Name(e.event_type) for e in (await handle.fetch_history()).events[n:]]


async def assert_untouched(handle: WorkflowHandle[Any, Any], before: int) -> None:
    """A refused Update left no decision in history. The dev server leaves no event at all; the
    time-skipping test server records the (empty) workflow task that ran the validator, so only
    that bookkeeping is allowed: no update accepted, no command, no state change."""
    extra = await events_since(handle, before)
    assert set(extra) <= WORKFLOW_TASK_EVENTS, extra
