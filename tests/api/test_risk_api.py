"""Risk control through the API (issue 16), on PostgreSQL with the real workflows, activities and
simulators: a flagged claim is refused approval (409 review.stage) until the inspector's finding;
the finding refers it to a verification case that appears in the inspector's inbox; the inspector
proposes, the supervisor approves, and the rule's monthly report counts the outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body, wait_for
from tests.conftest import login
from tests.factories import CaseEnv, sim_person, store_documents
from tests.waiting import polls


def docs_json(refs: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in refs]


async def test_flagged_claim_referred_then_cleared_by_inspector_and_supervisor(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="short_consecutive", last_consecutive_months=2, registered=True
    )
    clerk = await login(case_api, "clerk.xc")
    r = await case_api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    reviewer = await login(case_api, "reviewer.xc")
    await wait_for(case_api, reviewer, case_id, "risk_verification")

    r = await case_api.post(f"/api/v1/claims/{case_id}/approve", json={"note": "核实无误"}, headers=reviewer)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.stage", r.text

    inspector = await login(case_api, "inspector.nmg")
    evidence = docs_json(await store_documents(pg_case_env.db, "interview_record"))
    r = await case_api.post(
        f"/api/v1/claims/{case_id}/risk-finding",
        json={
            "outcome": "confirmed",
            "action": "refer",
            "finding": "疑似中介代办挂靠参保",
            "evidence": evidence,
        },
        headers=reviewer,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role", r.text  # declared policy
    r = await case_api.post(
        f"/api/v1/claims/{case_id}/risk-finding",
        json={
            "outcome": "confirmed",
            "action": "refer",
            "finding": "疑似中介代办挂靠参保",
            "evidence": evidence,
        },
        headers=inspector,
    )
    assert r.status_code == 200 and r.json()["processing"], r.text  # answered on acceptance
    await wait_for(case_api, inspector, case_id, "rejected")

    items: list[dict[str, Any]] = []
    for _ in polls():
        r = await case_api.get("/api/v1/risk/verifications", headers=inspector)
        assert r.status_code == 200, r.text
        items = [i for i in r.json() if i["stage"] == "verification"]
        if items:
            break
        await asyncio.sleep(0.05)
    [item] = items
    vid = item["case_id"]
    assert item["rules"] == ["risk.short_contribution"]
    r = await case_api.get(f"/api/v1/risk/verifications/{vid}", headers=inspector)
    assert r.status_code == 200 and r.json()["source_claim_id"] == case_id

    evidence = docs_json(
        await store_documents(pg_case_env.db, "employment_check")
    )  # a document is one case's
    r = await case_api.post(
        f"/api/v1/risk/verifications/{vid}/proposal",
        json={"outcome": "cleared", "finding": "经核实为正常短期用工，无中介介入", "evidence": evidence},
        headers=inspector,
    )
    assert r.status_code == 200, r.text
    r = await case_api.post(f"/api/v1/risk/verifications/{vid}/approval/approve", headers=inspector)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role"
    supervisor = await login(case_api, "supervisor.hhht")
    r = await case_api.post(f"/api/v1/risk/verifications/{vid}/approval/approve", headers=supervisor)
    assert r.status_code == 200, r.text

    for _ in polls():
        r = await case_api.get("/api/v1/risk/rules/report", headers=supervisor)
        rows = [x for x in r.json() if x["rule"] == "risk.short_contribution" and x["cleared"]]
        if rows:
            break
        await asyncio.sleep(0.05)
    assert rows and rows[0]["label"] == "连续缴费不足3个月申领失业保险金"
    r = await case_api.get("/api/v1/risk/rules/watch", headers=inspector)
    assert r.status_code == 403
    r = await case_api.get("/api/v1/risk/rules/watch", headers=supervisor)
    assert r.status_code == 200 and any(w["concern"] == "never_hit" for w in r.json())
