"""A claim on the real Temporal dev server: the API on PostgreSQL, the worker's real activities,
the simulators over HTTP. From POST /api/v1/claims to approval; visibility finds the case by
search attribute; a refused decision leaves no event at all in the history."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClients
from api.app import create_app
from core.db import Database
from core.settings import Settings
from models.tables import CaseRecord
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body, wait_for
from tests.conftest import login
from tests.factories import history_length, settled_history_length, sim_person
from tests.waiting import polls
from workers.main import build_worker
from workflows.benefit_claim import BenefitClaimWorkflow


@pytest_asyncio.fixture
async def dev_api(
    local_env: WorkflowEnvironment, wf_settings: Settings, pg_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    queue = f"dev-{uuid.uuid4().hex[:8]}"
    settings = wf_settings.model_copy(update={"task_queue": queue})
    worker = build_worker(
        local_env.client, settings, pg_db, task_queue=queue, gov=GovClients.from_settings(settings)
    )
    app = create_app(settings, db=pg_db, temporal=local_env.client)
    async with worker, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api:
        yield api


async def test_claim_from_intake_to_approval_on_the_dev_server(
    dev_api: httpx.AsyncClient, local_env: WorkflowEnvironment, sim: SimHandle, pg_db: Database
) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, cumulative_months=130
    )
    clerk = await login(dev_api, "clerk.xc")
    r = await dev_api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    reviewer = await login(dev_api, "reviewer.xc")
    detail = await wait_for(dev_api, reviewer, case_id, "under_review")
    assert detail["state"]["rounds"][0]["report"]["eligibility"]["max_months"] == 24

    handle = local_env.client.get_workflow_handle_for(BenefitClaimWorkflow.run, case_id)
    before = await settled_history_length(handle)
    other = await login(dev_api, "reviewer.hhht")  # in scope (league) but let a clerk try first
    r = await dev_api.post(f"/api/v1/claims/{case_id}/approve", json={}, headers=clerk)
    # Refused by the route's declared policy (a clerk does not approve), before any workflow call.
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role", r.text
    assert await history_length(handle) == before  # the real server records nothing for a refusal

    found: list[Any] = []
    for _ in polls():
        found = [
            w.id
            async for w in local_env.client.list_workflows(
                f"CaseType = 'benefit_claim' AND RegionCode = '150102' AND CaseStatus = 'under_review' "
                f"AND WorkflowId = '{case_id}'"
            )
        ]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [case_id]
    found_by_path = [
        w.id
        async for w in local_env.client.list_workflows(f"RegionPath = '150100' AND WorkflowId = '{case_id}'")
    ]
    assert found_by_path == [case_id]  # a league's query finds its districts' cases

    r = await dev_api.post(f"/api/v1/claims/{case_id}/approve", json={"note": "符合条件"}, headers=other)
    assert r.status_code == 200 and r.json()["processing"], r.text  # answered on acceptance
    result = await handle.result()
    assert result.entitlement is not None and result.entitlement.max_months == 24
    async with pg_db.session() as s:
        row = await s.get(CaseRecord, case_id)
        assert row is not None and row.status == "approved" and row.summary["max_months"] == 24
