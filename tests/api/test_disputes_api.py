"""The stop-reason dispute through the HTTP API, end to end: PostgreSQL, a Temporal server and a
worker with the real activities, the simulators over HTTP, and the demand platform's signed
callback delivered to the app over a real socket."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClients, close_all
from activities.gov.callbacks import SIGNATURE_HEADER, signed_headers
from api.app import create_app
from core.applicant import applicant_key
from core.db import Database
from core.seed_employers import seed_demo_employers
from core.settings import Settings
from core.temporal_client import make_data_converter
from models import search_attributes as sa
from models.tables import CaseRecord, EmployerAccount
from sim.testing import SimHandle, serve_app
from tests.conftest import BIN, login
from tests.factories import (
    CaseEnv,
    applied,
    audit_actions,
    claim_paid_after_change,
    rejected_claim,
    sim_person,
)
from tests.waiting import polls
from workers.main import build_worker

pytestmark = pytest.mark.postgres

EMPLOYER_PASSWORD = "employer-demo-pass"
SEARCH_KEYS = cast(list[SearchAttributeKey[Any]], sa.ALL)


@dataclass
class ApiEnv:
    client: httpx.AsyncClient
    case: CaseEnv
    base_url: str  # the same app on a real socket, for the simulator's callbacks


@pytest_asyncio.fixture
async def dispute_api(wf_settings: Settings, pg_db: Database) -> AsyncIterator[ApiEnv]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=make_data_converter(wf_settings),
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in SEARCH_KEYS},
        )
    )
    queue = f"disputes-{uuid.uuid4().hex[:8]}"
    settings = wf_settings.model_copy(update={"task_queue": queue})
    worker = build_worker(
        env.client, settings, pg_db, task_queue=queue, gov=GovClients.from_settings(settings)
    )
    app = create_app(settings, db=pg_db, temporal=env.client)
    async with (
        worker,
        app.router.lifespan_context(app),
        serve_app(app) as base_url,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield ApiEnv(
            client=client,
            case=CaseEnv(env=env, task_queue=queue, settings=settings, db=pg_db),
            base_url=base_url,
        )
    await close_all()
    await env.shutdown()


async def employer_token(api: httpx.AsyncClient, credit_code: str) -> dict[str, str]:
    r = await api.post(
        "/api/v1/disputes/employer-login", json={"credit_code": credit_code, "password": EMPLOYER_PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Logins:
    """Staff tokens through the real sign-in, once per login (argon2 is slow on purpose)."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api
        self.tokens: dict[str, dict[str, str]] = {}

    async def __call__(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            self.tokens[who] = await login(self.api, who)
        return self.tokens[who]


async def poll(
    api: httpx.AsyncClient, dispute_id: str, headers: dict[str, str], **want: str
) -> dict[str, Any]:
    for _ in polls():
        r = await api.get(f"/api/v1/disputes/{dispute_id}", headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if all(body[k] == v for k, v in want.items()):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"dispute stayed {body['status']}/{body['stage']}, wanted {want}")


async def upload(api: httpx.AsyncClient, kind: str) -> dict[str, Any]:
    """Through the documents route, as the website and the counter console do."""
    data = b"%PDF-1.4 " + kind.encode() + uuid.uuid4().bytes
    clerk = await login(api, "clerk.xc")  # uploads need a principal (a clerk, employer or applicant)
    r = await api.post(
        "/api/v1/documents",
        data={"kind": kind},
        files={"file": (f"{kind}.pdf", data, "application/pdf")},
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return {k: out[k] for k in ("id", "kind", "sha256", "filename")}


async def test_dispute_whole_path_over_the_api(dispute_api: ApiEnv, sim: SimHandle, pg_db: Database) -> None:
    api, ce = dispute_api.client, dispute_api.case
    staff = Logins(api)
    person = await sim_person(
        sim.base_url, sim.token, scenario="voluntary_resignation", registered=True, record_locked=True
    )
    employer = person["last_employer"]
    async with pg_db.session() as s:
        await seed_demo_employers(s, [employer], password=EMPLOYER_PASSWORD, regions={employer: "150102"})
        assert (await s.get(EmployerAccount, employer)) is not None
    claim = await rejected_claim(ce, person)  # the claims API is the lead's; the workflow is the same

    # --- the employer signs in with its credit code -------------------------------------------------
    r = await api.post("/api/v1/disputes/employer-login", json={"credit_code": employer, "password": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.bad_credentials"
    emp = await employer_token(api, employer)

    # --- intake: refused with the list of what is missing, then accepted -------------------------------
    agreement = [await upload(api, "termination_agreement")]
    statement = [await upload(api, "reason_change_statement")]
    body: dict[str, Any] = {
        "id_number": person["id_number"],
        "name": person["name"],
        "phone": person["phone"],
        "requested_reason_code": "employer_dismissal",
        "statement": "协商解除系单位提出，原登记为个人辞职有误，申请更正",
        "documents": agreement,
    }
    r = await api.post("/api/v1/disputes/employer-applications", json=body, headers=emp)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "dispute.documents_missing" and "情况说明" in err["message"]
    assert list(err["fields"]) == ["documents.reason_change_statement"]

    bad_id = {
        **body,
        "id_number": person["id_number"][:17] + ("0" if person["id_number"][17] != "0" else "1"),
    }
    r = await api.post("/api/v1/disputes/employer-applications", json=bad_id, headers=emp)
    assert r.status_code == 422 and "id_number" in r.json()["error"]["fields"]

    tampered = {**statement[0], "sha256": "f" * 64}
    r = await api.post(
        "/api/v1/disputes/employer-applications",
        json={**body, "documents": [*agreement, tampered]},
        headers=emp,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "dispute.document_invalid"

    clerk = await staff("clerk.xc")
    r = await api.post(
        "/api/v1/disputes/employer-applications",
        json={**body, "documents": agreement + statement},
        headers=clerk,
    )
    assert r.status_code == 403  # staff cannot file as an employer

    r = await api.post(
        "/api/v1/disputes/employer-applications",
        json={**body, "documents": agreement + statement},
        headers=emp,
    )
    assert r.status_code == 201, r.text
    dispute_id = r.json()["dispute_id"]
    key = applicant_key(ce.settings, person["id_number"])
    assert re.fullmatch(rf"dispute-150102-{key}-\d+", dispute_id) and person["id_number"] not in dispute_id

    # A second application for the same person while this one is open is refused.
    counter_docs = [await upload(api, "arbitration_award")]
    r = await api.post(
        "/api/v1/disputes/counter-applications",
        json={
            **body,
            "region_code": "150102",
            "employer_credit_code": employer,
            "documents": counter_docs,
        },
        headers=clerk,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "dispute.exists"

    # --- detail: masked for staff, without staff identities for the employer --------------------------
    rx = await staff("reviewer.xc")
    d = await poll(api, dispute_id, rx, stage="initial_review")
    assert d["applicant_id_masked"].startswith(person["id_number"][:6]) and "*" in d["applicant_id_masked"]
    assert d["current_reason"]["code"] == "voluntary_resignation" and d["channel"] == "employer_website"
    r = await api.get(f"/api/v1/disputes/{dispute_id}", headers=rx)
    assert person["id_number"] not in r.text and person["phone"] not in r.text
    r = await api.get(f"/api/v1/disputes/{dispute_id}", headers=emp)
    assert r.status_code == 200 and r.json()["timeline"] == []
    r = await api.get(f"/api/v1/disputes/{dispute_id}", headers=await staff("reviewer.dh"))
    assert r.status_code == 404  # outside the caller's scope the dispute does not exist

    # --- decisions: refusals carry the validator's code and Chinese message ---------------------------------
    url = f"/api/v1/disputes/{dispute_id}/reviews"
    r = await api.post(f"{url}/initial/approve", headers=emp)
    assert r.status_code == 403
    r = await api.post(f"{url}/initial/approve", headers=await staff("reviewer.dh"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "case.not_found"
    second = await staff("second.hhht")
    r = await api.post(f"{url}/initial/approve", json={"note": "同意"}, headers=second)
    assert r.status_code == 403 and r.json()["error"]["code"] == "review.role", r.text
    r = await api.post(f"{url}/second/approve", headers=second)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.wrong_level"
    assert "初审" in r.json()["error"]["message"]
    r = await api.post(f"{url}/initial/reject", json={"reason": ""}, headers=rx)
    assert r.status_code == 422 and r.json()["error"]["code"] == "review.reason_required"

    r = await api.post(
        f"{url}/initial/approve", json={"note": "材料齐全，协议载明由单位提出解除"}, headers=rx
    )
    assert r.status_code == 200, r.text
    # Answered on acceptance (issue 19): the next level opens once the dispute has applied it.
    assert r.json()["receipt"]["round"] == 1 and r.json()["receipt"]["processing"]
    handle = ce.env.client.get_workflow_handle(dispute_id)
    await applied(handle)
    assert (await poll(api, dispute_id, rx, stage="second_review"))["stage"] == "second_review"
    r = await api.post(f"{url}/second/send-back", json={"note": "请核对协议签署日期"}, headers=second)
    assert r.status_code == 200
    await applied(handle)
    await poll(api, dispute_id, rx, stage="initial_review")
    r = await api.post(f"{url}/initial/approve", json={"note": "已核对"}, headers=rx)
    assert r.status_code == 200
    # Back to back, as a second reviewer with the page already open would: the dispute may still
    # be applying the first approval (busy); the API waits for it, so the second is taken.
    r = await api.post(f"{url}/second/approve", headers=second)
    assert r.status_code == 200, r.text
    await applied(handle)
    await poll(api, dispute_id, rx, stage="final_review")
    r = await api.post(f"{url}/final/approve", headers=await staff("final.nmg"))
    assert r.status_code == 200, r.text

    # --- the record is locked: a ticket; the engineer resolves it; the signed callback arrives ------------
    d = await poll(api, dispute_id, rx, status="awaiting_ticket")
    ticket_id = d["ticket"]["ticket_id"]
    assert sim.state.tickets[ticket_id].case_ref == dispute_id

    cb = "/api/v1/disputes/callbacks/ticket"
    forged = json.dumps(
        {
            "event": "ticket.resolved",
            "ticket_id": ticket_id,
            "status": "resolved",
            "case_ref": dispute_id,
            "resolved_at": "2026-01-01T00:00:00+08:00",
        }
    ).encode()
    r = await api.post(cb, content=forged, headers={SIGNATURE_HEADER: "0" * 64})
    assert r.status_code == 401 and r.json()["error"]["code"] == "callback.signature"
    nope = b'{"event":"nope"}'
    r = await api.post(cb, content=nope, headers=_signed("demand_platform", cb, nope))
    assert r.status_code == 422

    async with httpx.AsyncClient(base_url=sim.base_url + "/admin") as admin:
        r = await admin.put("/config", json={"callback_url": dispute_api.base_url + cb})
        assert r.status_code == 200
        try:
            r = await admin.post(
                f"/demand-platform/tickets/{ticket_id}/resolve",
                json={"engineer": "周运维", "resolution": "已在后台变更停保原因"},
            )
        finally:
            await admin.put("/config", json={"callback_url": ""})
    assert r.status_code == 200 and r.json()["callback"]["delivered"], r.text

    d = await poll(api, dispute_id, rx, status="changed")
    assert d["ticket"]["status"] == "resolved" and d["ticket"]["via"] == "callback"
    assert d["change"]["via"] == "ops_ticket" and d["change"]["changed_by"] == "周运维"
    assert d["claim_id"] == claim.id and d["claim_action"] == "signalled"
    assert [(x["level"], x["action"], x["by"]) for x in d["review"]["decisions"]] == [
        ("initial", "approve", "reviewer.xc"),
        ("second", "send_back", "second.hhht"),
        ("initial", "approve", "reviewer.xc"),
        ("second", "approve", "second.hhht"),
        ("final", "approve", "final.nmg"),
    ]
    assert sim.state.pop.persons[person["id_number"]].stop_reason_code == "employer_dismissal"

    # A repeated callback after the dispute ended is acknowledged and ignored, here and at the
    # general government callback, which hands ticket outcomes to this router.
    await ce.env.client.get_workflow_handle(dispute_id).result()
    event = sim.state.callbacks[-1]["event"]
    raw = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    r = await api.post(cb, content=raw, headers=_signed("demand_platform", cb, raw))
    assert r.status_code == 200 and r.json()["accepted"] is False
    gov_cb = "/api/v1/callbacks/gov"
    r = await api.post(gov_cb, content=raw, headers=_signed("demand_platform", gov_cb, raw))
    assert r.status_code == 200 and r.json()["delivered_to"] == 0
    # A decision on the finished dispute says what was decided (Temporal itself says NOT_FOUND).
    r = await api.post(f"{url}/final/approve", headers=await staff("final.nmg"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "case.decided", r.text
    assert "已办结（" in r.json()["error"]["message"]

    # --- the claim is re-checked and paid; the record is in PostgreSQL --------------------------------------
    await claim_paid_after_change(ce, claim, dispute_id)
    async with pg_db.session() as s:
        row = await s.get(CaseRecord, dispute_id)
        assert row is not None and row.status == "changed" and row.summary["ticket"]["id"] == ticket_id
        assert len(row.summary["documents"]) == 2
        rows = (await s.exec(select(CaseRecord).where(CaseRecord.applicant_key == key))).all()
        assert {"benefit_claim", "stop_reason_dispute"} <= {r.case_type for r in rows}
    actions = [a for a, _ in await audit_actions(pg_db, dispute_id)]
    assert actions[0] == "dispute.received"
    assert actions.count("dispute.review.initial.approve") == 2
    assert "dispute.review.second.send_back" in actions and "dispute.ticket_closed" in actions


def _signed(system: str, path: str, body: bytes) -> dict[str, str]:
    """Signed as the simulators do, with the system's dev callback key (a fresh nonce each time)."""
    kid, secret = next(iter(Settings().callback_keyrings()[system].items()))
    return signed_headers(system, kid, secret, "POST", path, body)
