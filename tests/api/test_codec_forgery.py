"""A plaintext Update sent by a raw client without the codec (anyone who reaches the Temporal
frontend without the key) with a forged actor is refused by the worker's codec: nothing is
accepted, the claim stays where it was, and a sealed decision still goes through afterwards."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from sim.testing import SimHandle
from tests.api.test_claims_api import wait_for
from tests.api.test_decisions_api import _claim_under_review
from tests.factories import CaseEnv


async def test_plaintext_update_with_forged_actor_is_refused(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    case_id, reviewer = await _claim_under_review(case_api, sim)
    sealed = pg_case_env.env.client
    raw = Client(sealed.service_client, namespace=sealed.namespace)  # default converter: no codec
    forged = {
        "actor": {"login": "reviewer.xc", "name": "李审核", "roles": ["reviewer"], "region_code": "150102"},
        "note": "forged",
    }
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await asyncio.wait_for(
            raw.get_workflow_handle(case_id).execute_update("approve", forged, id="forged-1"), timeout=30
        )
    # Rejected by the worker before any validator ran (its failure is sealed: this raw client
    # reads only "Encoded failure"); never accepted, and the workflow task did not fail.
    assert isinstance(refused.value.cause, ApplicationError)
    events = (await sealed.get_workflow_handle(case_id).fetch_history()).events
    kinds = {EventType.Name(e.event_type) for e in events}
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED" not in kinds
    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" not in kinds
    r = await case_api.get(f"/api/v1/claims/{case_id}", headers=reviewer)
    assert r.status_code == 200 and r.json()["status"] == "under_review"
    r = await case_api.post(f"/api/v1/claims/{case_id}/approve", json={"note": "ok"}, headers=reviewer)
    assert r.status_code == 200 and r.json()["processing"], r.text  # answered on acceptance
    await wait_for(case_api, reviewer, case_id, "approved")
