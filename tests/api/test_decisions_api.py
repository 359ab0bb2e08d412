"""Staff decisions through the API's one Update path (api/temporal_ops.py), on PostgreSQL with the
real claim workflow, activities and simulators: a retried decision with the client's
idempotency key returns its first receipt and is applied once; another key on the decided case
answers 409 with what was decided, never 404; bad keys are refused."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from models.enums import Channel
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body, wait_for
from tests.conftest import login
from tests.factories import CaseEnv, dispute_input, sim_person, start_dispute
from tests.waiting import polls


async def _claim_under_review(api: httpx.AsyncClient, sim: SimHandle) -> tuple[str, dict[str, str]]:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    clerk = await login(api, "clerk.xc")
    r = await api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert r.status_code == 201, r.text
    case_id: str = r.json()["case_id"]
    reviewer = await login(api, "reviewer.xc")
    await wait_for(api, reviewer, case_id, "under_review")
    return case_id, reviewer


async def _update_events(ce: CaseEnv, case_id: str) -> list[Any]:
    history = await ce.env.client.get_workflow_handle(case_id).fetch_history()
    return [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


async def test_retried_decision_returns_the_first_receipt_and_applies_once(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    case_id, reviewer = await _claim_under_review(case_api, sim)
    url = f"/api/v1/claims/{case_id}/request-documents"
    body = {"documents": ["解除劳动合同证明"], "note": "请补交"}
    key = {**reviewer, "Idempotency-Key": "6f1c2f0e-req-docs-1"}

    # The case stays open after this decision: the retry is deduplicated by the server.
    first = await case_api.post(url, json=body, headers=key)
    assert first.status_code == 200, first.text
    again = await case_api.post(url, json=body, headers=key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    accepted = await _update_events(pg_case_env, case_id)
    assert len(accepted) == 1
    assert accepted[0].workflow_execution_update_accepted_event_attributes.protocol_instance_id
    meta = accepted[0].workflow_execution_update_accepted_event_attributes.accepted_request.meta
    assert meta.update_id == f"{case_id}/request_documents/6f1c2f0e-req-docs-1"


async def test_retry_after_the_deciding_update_finished_the_case(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    case_id, reviewer = await _claim_under_review(case_api, sim)
    url = f"/api/v1/claims/{case_id}/approve"
    key = {**reviewer, "Idempotency-Key": "approve-once"}
    first = await case_api.post(url, json={"note": "符合条件"}, headers=key)
    assert first.status_code == 200, first.text
    # Answered on acceptance (issue 19): the receipt says the approval is being applied.
    assert first.json()["processing"] is True and first.json()["status"] == "under_review"
    handle = pg_case_env.env.client.get_workflow_handle(case_id)
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    # The approval finished the case; its retry still gets the first receipt, from the history.
    again = await case_api.post(url, json={"note": "符合条件"}, headers=key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert len(await _update_events(pg_case_env, case_id)) == 1

    # Another key is another decision: 409 saying what was decided (Temporal says NOT_FOUND).
    other = await case_api.post(url, json={}, headers={**reviewer, "Idempotency-Key": "approve-twice"})
    assert other.status_code == 409, other.text
    err = other.json()["error"]
    assert err["code"] == "case.decided" and "已核准" in err["message"]
    no_key = await case_api.post(
        f"/api/v1/claims/{case_id}/reject", json={"reason_code": "other", "remedy": "-"}, headers=reviewer
    )
    assert no_key.status_code == 409 and no_key.json()["error"]["code"] == "case.decided"


async def test_idempotency_key_is_ascii_and_bounded(case_api: httpx.AsyncClient, sim: SimHandle) -> None:
    case_id, _ = await _claim_under_review(case_api, sim)
    reviewer = await login(case_api, "reviewer.xc")
    url = f"/api/v1/claims/{case_id}/approve"
    for bad in ("键".encode(), b"x" * 129, b"has space"):
        r = await case_api.post(url, json={}, headers={**reviewer, "Idempotency-Key": bad})  # type: ignore[dict-item]
        assert r.status_code == 422, (bad, r.text)
        assert "幂等键" in r.json()["error"]["fields"]["Idempotency-Key"]


async def test_wrong_role_is_403_with_the_same_code_on_claim_and_dispute(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    """One table for every case type: a clerk approving a claim and a second-level reviewer
    deciding a dispute's first level are the same refusal (before: 409 on the claim, 403 on
    the dispute)."""
    case_id, _ = await _claim_under_review(case_api, sim)
    claim = await case_api.post(
        f"/api/v1/claims/{case_id}/approve", json={}, headers=await login(case_api, "clerk.xc")
    )

    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    inp = await dispute_input(pg_case_env, person, channel=Channel.COUNTER)
    dispute_id = f"dispute-150102-{inp.applicant_key}-{random.randint(1, 999_999)}"
    await start_dispute(pg_case_env, inp.model_copy(update={"case_id": dispute_id}))
    viewer = await login(case_api, "reviewer.xc")
    for _ in polls():
        r = await case_api.get(f"/api/v1/disputes/{dispute_id}", headers=viewer)
        if r.status_code == 200 and any(lv["status"] == "open" for lv in r.json()["review"]["levels"]):
            break
        await asyncio.sleep(0.05)
    clerk = await login(case_api, "clerk.xc")
    by_clerk = await case_api.post(
        f"/api/v1/disputes/{dispute_id}/reviews/initial/approve", json={"note": "同意"}, headers=clerk
    )
    # The same refusal on both types, from the route's declared policy before either workflow is asked.
    assert (claim.status_code, by_clerk.status_code) == (403, 403), (claim.text, by_clerk.text)
    assert claim.json()["error"]["code"] == by_clerk.json()["error"]["code"] == "auth.role"
    # A reviewer the route admits but the level does not: the workflow's refusal, through the one
    # table in api/temporal_ops.py, is a 403 as well.
    second = await login(case_api, "second.hhht")
    dispute = await case_api.post(
        f"/api/v1/disputes/{dispute_id}/reviews/initial/approve", json={"note": "同意"}, headers=second
    )
    assert dispute.status_code == 403 and dispute.json()["error"]["code"] == "review.role", dispute.text
