"""The claim through the API, on PostgreSQL, with the real workflow, activities and simulators:
counter intake with a document, the reviewer's inbox, rejection, re-application, approval;
refusals for bad input, duplicates, the wrong region; the signed registration callback."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlmodel import select

from api.app import create_app
from core.db import Database
from models.tables import AuditLog
from sim.testing import SimHandle, serve_app
from tests.conftest import applicant_login, login
from tests.factories import CaseEnv, sim_person
from tests.waiting import polls

PDF = b"%PDF-1.4\n% termination agreement\n"


def claim_body(person: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "id_number": person["id_number"],
        "name": person["name"],
        "phone": person["phone"],
        "bank_account": person["account_no"],
        "bank_name": person["bank_name"],
        "region_code": "150102",
        "employer_credit_code": person["last_employer"],
        "separation_date": person["stop_date"],
    }
    body.update(over)
    return body


async def wait_for(
    api: httpx.AsyncClient, headers: dict[str, str], case_id: str, status: str
) -> dict[str, Any]:
    for _ in polls():
        r = await api.get(f"/api/v1/claims/{case_id}", headers=headers)
        if r.status_code == 200 and r.json()["status"] == status:
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id} never reached {status}: {r.status_code} {r.text[:300]}")


async def test_counter_claim_reject_reapply_approve_through_the_api(
    case_api: httpx.AsyncClient, sim: SimHandle, pg_db: Database
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    clerk = await login(case_api, "clerk.xc")
    r = await case_api.post(
        "/api/v1/documents",
        data={"kind": "termination_agreement"},
        files={"file": ("协议.pdf", PDF, "application/pdf")},
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    r = await case_api.post(
        "/api/v1/claims",
        json=claim_body(person, documents=[{"id": doc["id"], "kind": doc["kind"], "sha256": doc["sha256"]}]),
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    case_id = created["case_id"]
    assert created["channel"] == "counter"
    assert person["id_number"] not in case_id and case_id.startswith("claim-150102-")

    dup = await case_api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "claim.open_exists"

    reviewer = await login(case_api, "reviewer.xc")
    detail = await wait_for(case_api, reviewer, case_id, "under_review")
    report = detail["state"]["rounds"][0]["report"]
    assert report["eligibility"]["eligible"] is False
    assert report["eligibility"]["suggested_reject_reason"] == "voluntary_separation"
    # The read model is written by the workflow right after its state changes: poll briefly.
    mine: list[dict[str, Any]] = []
    for _ in polls():
        inbox = (await case_api.get("/api/v1/cases/inbox", headers=reviewer)).json()
        mine = [i for i in inbox["items"] if i["case_id"] == case_id]
        if mine:
            break
        await asyncio.sleep(0.05)
    assert (
        mine and mine[0]["working_days_left"] is not None and mine[0]["applicant_id_masked"].count("*") == 8
    )

    # Another city's reviewer neither sees nor decides it.
    other = await login(case_api, "reviewer.dh")
    listed = (await case_api.get("/api/v1/cases", headers=other)).json()
    assert case_id not in [i["case_id"] for i in listed["items"]]
    r = await case_api.post(f"/api/v1/claims/{case_id}/approve", json={}, headers=other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "case.not_found"

    # The clerk who took it in is refused by the route's declared policy (not a reviewer).
    r = await case_api.post(f"/api/v1/claims/{case_id}/approve", json={}, headers=clerk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role"

    reasons = (await case_api.get("/api/v1/claims/reject-reasons", headers=reviewer)).json()
    remedy = next(x["default_remedy"] for x in reasons if x["code"] == "voluntary_separation")
    r = await case_api.post(
        f"/api/v1/claims/{case_id}/reject",
        json={"reason_code": "voluntary_separation", "remedy": remedy},
        headers=reviewer,
    )
    assert r.status_code == 200, r.text
    await wait_for(case_api, reviewer, case_id, "rejected")

    # The applicant re-applies online, signed in through the real-name identity provider: without
    # a sign-in, or signed in as someone else, or naming another ID number, it is refused.
    r = await case_api.post(f"/api/v1/claims/{case_id}/reapply", json={"id_number": person["id_number"]})
    assert r.status_code == 401
    stranger = await applicant_login(case_api, sim.base_url, "11010519491231002X")
    r = await case_api.post(f"/api/v1/claims/{case_id}/reapply", json={}, headers=stranger)
    assert r.status_code == 404
    applicant = await applicant_login(case_api, sim.base_url, person["id_number"])
    r = await case_api.post(
        f"/api/v1/claims/{case_id}/reapply", json={"id_number": "11010519491231002X"}, headers=applicant
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.applicant"
    sim.state.pop.persons[person["id_number"]].stop_reason_code = "contract_expired"
    r = await case_api.post(
        f"/api/v1/claims/{case_id}/reapply",
        json={"id_number": person["id_number"], "note": "停保原因已更正"},
        headers=applicant,
    )
    assert r.status_code == 200, r.text
    detail = await wait_for(case_api, reviewer, case_id, "under_review")
    assert len(detail["state"]["rounds"]) == 2
    r = await case_api.post(f"/api/v1/claims/{case_id}/approve", json={"note": "复核通过"}, headers=reviewer)
    assert r.status_code == 200 and r.json()["processing"], r.text  # answered on acceptance
    await wait_for(case_api, reviewer, case_id, "approved")

    # Masked by default; the full view is audited.
    masked = (await case_api.get(f"/api/v1/claims/{case_id}/applicant", headers=reviewer)).json()
    assert masked["masked"] and person["id_number"] != masked["id_number"]
    full = (await case_api.get(f"/api/v1/claims/{case_id}/applicant?full=true", headers=reviewer)).json()
    assert full["id_number"] == person["id_number"]
    async with pg_db.session() as s:
        actions = [
            e.action for e in (await s.exec(select(AuditLog).where(AuditLog.case_id == case_id))).all()
        ]
    assert {"claim.submitted", "claim.reject", "claim.approve", "personal_data.viewed"} <= set(actions)

    # The reviewer downloads the document; another region may not.
    r = await case_api.get(f"/api/v1/documents/{doc['id']}", headers=reviewer)
    assert r.status_code == 200 and r.content == PDF
    assert (await case_api.get(f"/api/v1/documents/{doc['id']}", headers=other)).status_code == 404


async def test_bad_input_is_refused_field_by_field(case_api: httpx.AsyncClient, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    bad_id = person["id_number"][:17] + ("0" if person["id_number"][17] != "0" else "1")
    applicant = await applicant_login(case_api, sim.base_url, person["id_number"])
    r = await case_api.post(
        "/api/v1/claims",
        headers=applicant,
        json=claim_body(
            person,
            id_number=bad_id,
            employer_credit_code="91150100012345678A",
            region_code="150100",
            phone="12345",
            separation_date="2025-02-30",
            bank_account="abc",
        ),
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "request.invalid"
    fields = err["fields"]
    assert fields["id_number"] == "身份证号码校验位不正确，请核对"
    assert "校验位" in fields["employer_credit_code"]
    assert fields["region_code"] == "申领地应为旗县区一级的行政区划"
    assert "11位" in fields["phone"]
    assert "日期" in fields["separation_date"]
    assert "银行账号" in fields["bank_account"]
    r = await case_api.post(
        "/api/v1/claims", content=b"{not json", headers={"content-type": "application/json", **applicant}
    )
    assert r.status_code == 422 and "Traceback" not in r.text


async def test_registration_callback_reaches_the_waiting_claim(pg_case_env: CaseEnv, sim: SimHandle) -> None:
    app = create_app(pg_case_env.settings, db=pg_case_env.db, temporal=pg_case_env.env.client)
    async with (
        serve_app(app) as base,
        httpx.AsyncClient(base_url=base) as api,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        await admin.put("/admin/config", json={"callback_url": f"{base}/api/v1/callbacks/gov"})
        try:
            person = await sim_person(sim.base_url, sim.token, scenario="unregistered", registered=False)
            applicant = await applicant_login(api, sim.base_url, person["id_number"])
            r = await api.post("/api/v1/claims", json=claim_body(person), headers=applicant)  # online
            assert r.status_code == 201 and r.json()["channel"] == "online"
            case_id = r.json()["case_id"]
            reviewer = await login(api, "reviewer.xc")
            await wait_for(api, reviewer, case_id, "awaiting_registration")
            r = await admin.post(f"/admin/registration/{person['id_number']}/register-online")
            assert r.status_code == 200, r.text
            assert r.json()["callback"]["delivered"] is True, r.json()
            detail = await wait_for(api, reviewer, case_id, "under_review")
            assert detail["state"]["registration"]["via"] == "callback"
            forged = await api.post(
                "/api/v1/callbacks/gov",
                content=b'{"event":"registration.confirmed"}',
                headers={"X-Sim-Signature": "00"},
            )
            assert forged.status_code == 401
        finally:
            await admin.put("/admin/config", json={"callback_url": None})


async def test_the_clerk_states_a_missing_retirement_category_through_the_api(
    case_api: httpx.AsyncClient, sim: SimHandle
) -> None:
    """Issue 14: neither the application nor the contribution record holds the category; the claim
    waits for the clerk (a reviewer's route call is refused by the route, a bad body with 422)."""
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, sex="male", retirement_category="none"
    )
    clerk = await login(case_api, "clerk.xc")
    r = await case_api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    for _ in polls():
        d = (await case_api.get(f"/api/v1/claims/{case_id}", headers=clerk)).json()
        if d["state"]["stage"] == "awaiting_category":
            break
        await asyncio.sleep(0.05)
    assert d["state"]["stage"] == "awaiting_category", d["state"]["stage"]
    path = f"/api/v1/claims/{case_id}/retirement-category"
    reviewer = await login(case_api, "reviewer.xc")
    body = {"category": "male", "note": "人事档案载明"}
    assert (await case_api.post(path, json=body, headers=reviewer)).status_code == 403
    bad = await case_api.post(path, json={"category": "unknown", "note": "x"}, headers=clerk)
    assert bad.status_code == 422 and "category" in bad.json()["error"]["fields"]
    r = await case_api.post(path, json=body, headers=clerk)
    assert r.status_code == 200, r.text
    s = await wait_for(case_api, clerk, case_id, "under_review")
    assert s["state"]["rounds"][0]["report"]["retirement"]["category"] == "male"
    again = await case_api.post(path, json=body, headers=clerk)
    assert again.status_code == 409  # review.stage: stated once
