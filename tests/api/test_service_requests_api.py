"""Consultations and complaints through the HTTP API, end to end: PostgreSQL, a Temporal server and a
worker with the real activities, and the simulated 12333 hotline pushing signed work orders to the
app over a real socket and receiving its reply and closing report."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from activities.gov import GovClients
from activities.gov.callbacks import SIGNATURE_HEADER, signed_headers
from api.app import create_app
from core.db import Database
from core.security import Kind, issue_token
from core.settings import Settings
from core.temporal_client import make_data_converter
from models.service_request import CASE_TYPE, ServiceRequestResult
from models.tables import CaseRecord
from sim.testing import SimHandle, serve_app
from tests.conftest import login
from tests.factories import time_skipping_env
from tests.waiting import WAIT_S
from workers.main import build_worker

pytestmark = pytest.mark.postgres

CALLBACK = "/api/v1/service-requests/callbacks/hotline"


@dataclass
class RequestApi:
    client: httpx.AsyncClient
    base_url: str  # the same app on a real socket, for the hotline's pushes
    temporal: Any
    db: Database
    settings: Settings


@pytest_asyncio.fixture
async def request_api(wf_settings: Settings, pg_db: Database) -> AsyncIterator[RequestApi]:
    env = await time_skipping_env(make_data_converter(wf_settings))
    queue = f"requests-{uuid.uuid4().hex[:8]}"
    settings = wf_settings.model_copy(update={"task_queue": queue})
    worker = build_worker(
        env.client, settings, pg_db, task_queue=queue, gov=GovClients.from_settings(settings)
    )
    app = create_app(settings, db=pg_db, temporal=env.client)
    try:
        async with (
            worker,
            app.router.lifespan_context(app),
            serve_app(app) as base_url,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
        ):
            yield RequestApi(
                client=client, base_url=base_url, temporal=env.client, db=pg_db, settings=settings
            )
    finally:
        await env.shutdown()


def _signed(system: str, body: bytes) -> dict[str, str]:
    """Signed as the simulators do, with the system's dev callback key (a fresh nonce each time)."""
    kid, secret = next(iter(Settings().callback_keyrings()[system].items()))
    return signed_headers(system, kid, secret, "POST", CALLBACK, body)


async def _poll(fn: Any, what: str, limit: float = WAIT_S) -> Any:
    end = asyncio.get_running_loop().time() + limit
    while True:
        value = await fn()
        if value:
            return value
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_hotline_order_in_reply_and_closing_report_out(request_api: RequestApi, sim: SimHandle) -> None:
    api = request_api.client
    rx = await login(api, "reviewer.xc")
    sup = await login(api, "supervisor.hhht")
    async with httpx.AsyncClient(base_url=sim.base_url + "/admin") as admin:
        # Configured as ``make dev`` does (the general government endpoint): the hotline pushes to
        # the hotline endpoint beside it.
        await admin.put("/config", json={"callback_url": request_api.base_url + "/api/v1/callbacks/gov"})
        try:
            # --- the hotline takes a call and pushes the signed work order ------------------------------
            r = await admin.post(
                "/hotline/orders",
                json={
                    "kind": "complaint",
                    "region_code": "150102",
                    "topic": "payment",
                    "content": "失业保险金本月未到账",
                    "caller_name": "刘某",
                    "caller_phone": "13900000002",
                },
            )
            assert r.status_code == 200 and r.json()["callback"]["delivered"], r.text
            order_id = r.json()["order"]["order_id"]
            case_id = f"request-150102-hotline-{order_id}"
            # The same order pushed again (freshly signed) is acknowledged once only: no second
            # request; the same signed request again is a replay; a forged one is refused; and
            # another system's key cannot push hotline orders.
            pushed = sim.state.callbacks[-1]["event"]
            raw = json.dumps(pushed, ensure_ascii=False, separators=(",", ":")).encode()
            headers = _signed("hotline", raw)
            r = await api.post(CALLBACK, content=raw, headers=headers)
            assert r.status_code == 200 and r.json()["accepted"] is False
            r = await api.post(CALLBACK, content=raw, headers=headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "callback.replayed"
            forged = _signed("hotline", raw) | {SIGNATURE_HEADER: "0" * 64}
            r = await api.post(CALLBACK, content=raw, headers=forged)
            assert r.status_code == 401 and r.json()["error"]["code"] == "callback.signature"
            r = await api.post(CALLBACK, content=raw, headers=_signed("demand_platform", raw))
            assert r.status_code == 422 and r.json()["error"]["code"] == "callback.unsupported"

            async def assigned() -> Any:
                r = await api.get(f"/api/v1/service-requests/{case_id}", headers=rx)
                return (
                    r.json() if r.status_code == 200 and r.json()["request"]["stage"] == "assigned" else None
                )

            d = await _poll(assigned, "the order assigned")
            assert d["request"]["hotline_order_id"] == order_id and d["request"]["kind"] == "complaint"

            # --- staff answer through the one Update path; the reply goes back to the hotline -----------
            r = await api.post(f"/api/v1/service-requests/{case_id}/answer", json={"note": "短"}, headers=rx)
            assert r.status_code == 422 and r.json()["error"]["code"] == "service.note_required"
            r = await api.post(
                f"/api/v1/service-requests/{case_id}/answer",
                json={"note": "经核实为银行账户冻结导致退票，已更换账户并补发。"},
                headers=rx,
            )
            assert r.status_code == 200, r.text
            assert r.json()["request"]["status"] == "answered"

            async def replied() -> Any:
                return sim.state.hotline_orders[order_id]["replies"]

            replies = await _poll(replied, "the reply at the hotline")
            assert replies[0]["case_ref"] == case_id and "补发" in replies[0]["answer_zh"]

            # --- the hotline's return visit arrives signed; the closing report goes back -------------
            r = await admin.post(f"/hotline/orders/{order_id}/feedback", json={"satisfaction": "satisfied"})
            assert r.status_code == 200 and r.json()["callback"]["delivered"], r.text
        finally:
            await admin.put("/config", json={"callback_url": ""})

    result = await request_api.temporal.get_workflow_handle(
        case_id, result_type=ServiceRequestResult
    ).result()
    assert result.status == "closed" and result.within_limit is True
    report = sim.state.hotline_orders[order_id]["closing_report"]
    assert report["case_ref"] == case_id and report["satisfaction"] == "satisfied" and report["within_limit"]
    async with request_api.db.session() as s:
        row = await s.get(CaseRecord, case_id)
        assert row is not None and row.case_type == "complaint" and row.status == "closed"
        assert row.summary["reported_to_hotline"] and row.summary["satisfaction"] == "satisfied"

    # --- the supervisor sees it in the overview ------------------------------------------------------
    r = await api.get("/api/v1/service-requests/supervisor/overview", headers=sup)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["by_channel"].get("12333热线", 0) >= 1 and v["satisfaction"].get("满意", 0) >= 1
    assert v["resolved_within_limit"]["count"] >= 1
    r = await api.get("/api/v1/service-requests/supervisor/overview", headers=rx)
    assert r.status_code == 403


async def test_a_request_just_created_is_scoped_by_its_row_at_once(request_api: RequestApi) -> None:
    """Intake writes the request's first read-model row before it answers: right after the 201,
    with no waiting, the row is there with its region, an in-region handler opens the request and
    another region's handler gets 404 (the loader scopes by the row only)."""
    api = request_api.client
    clerk = await login(api, "clerk.xc")
    r = await api.post(
        "/api/v1/service-requests",
        json={
            "kind": "consultation",
            "channel": "counter",
            "region_code": "150102",
            "topic": "claim",
            "content": "申领需要哪些材料",
            "requester_phone": "13900000004",
        },
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    async with request_api.db.session() as s:
        row = await s.get(CaseRecord, case_id)
    assert row is not None and (row.region_code, row.case_type) == ("150102", CASE_TYPE.value)
    elsewhere = await login(api, "clerk.dh")
    r = await api.get(f"/api/v1/service-requests/{case_id}", headers=elsewhere)
    assert r.status_code == 404 and r.json()["error"]["code"] == "case.not_found", r.text
    r = await api.get(f"/api/v1/service-requests/{case_id}", headers=await login(api, "reviewer.xc"))
    assert r.status_code == 200 and r.json()["request"]["case_id"] == case_id, r.text


async def test_unresolved_window_linked_to_case_and_catalogue(
    request_api: RequestApi, sim: SimHandle
) -> None:
    api = request_api.client
    clerk = await login(api, "clerk.xc")
    rx = await login(api, "reviewer.xc")
    sup = await login(api, "supervisor.hhht")
    claim_id = f"claim-150102-{uuid.uuid4().hex}-1"
    r = await api.post(
        "/api/v1/service-requests",
        json={
            "kind": "complaint",
            "channel": "unresolved_window",
            "region_code": "150102",
            "topic": "claim",
            "content": "申领材料被退回",
            "problem": "单位已注销，无法开具解除劳动合同证明",
            "linked_case_id": claim_id,
            "requester_phone": "13900000003",
        },
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]

    async def at_supervisor() -> Any:
        r = await api.get(f"/api/v1/service-requests/{case_id}", headers=sup)
        return r.json() if r.status_code == 200 and r.json()["request"]["stage"] == "supervisor" else None

    await _poll(at_supervisor, "the request at the supervisor")
    r = await api.get(f"/api/v1/service-requests/of-case/{claim_id}", headers=rx)
    assert [i["case_id"] for i in r.json()] == [case_id]
    # Only the supervisor acts on it: the refusal goes through the one table.
    r = await api.post(f"/api/v1/service-requests/{case_id}/contact", headers=rx)
    assert r.status_code == 403 and r.json()["error"]["code"] == "review.role"
    r = await api.get("/api/v1/service-requests/supervisor/overview", headers=sup)
    assert case_id in [i["case_id"] for i in r.json()["unresolved_window"]]

    # The catalogue: dated entries, searchable.
    r = await api.get("/api/v1/service-requests/answers/search", params={"q": "退费"}, headers=clerk)
    assert r.status_code == 200 and [a["id"] for a in r.json()] == ["refund"]
    r = await api.get("/api/v1/service-requests/answers/search", headers=clerk)
    assert {"claim-how", "amount", "refund", "subsidy"} <= {a["id"] for a in r.json()}
    catalogue = r.json()

    # The person online, signed in: who they are comes from the sign-in, not the body.
    akey = uuid.uuid4().hex[:24]
    token, _ = issue_token(
        request_api.settings,
        login=akey,
        roles=[],
        region_code="150102",
        name="王某",
        applicant_key=akey,
        kind=Kind.APPLICANT,
    )
    online = {
        "phone": "13900000004",
        "kind": "online_guidance",
        "region_code": "150102",
        "content": "网上申领页面打不开",
    }
    r = await api.post(
        "/api/v1/service-requests/online", json=online, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    online_id = r.json()["case_id"]

    async def online_projected() -> Any:
        async with request_api.db.session() as s:
            row = await s.get(CaseRecord, online_id)
        return row if row is not None and row.stage == "assigned" else None

    row = await _poll(online_projected, "the online request assigned")
    assert row.applicant_key == akey and row.channel == "online" and row.applicant_name == "王*"
    r = await api.post("/api/v1/service-requests/online", json=online, headers=clerk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.kind"
    # A consultation answered on the spot at the counter closes at once.
    r = await api.post(
        "/api/v1/service-requests",
        json={
            "kind": "consultation",
            "channel": "counter",
            "region_code": "150102",
            "content": "怎么申领？",
            "answer_on_spot": catalogue[0]["answer_zh"],
        },
        headers=clerk,
    )
    assert r.status_code == 201 and r.json()["message"] == "已当场答复办结"
    result = await request_api.temporal.get_workflow_handle(
        r.json()["case_id"], result_type=ServiceRequestResult
    ).result()
    assert result.answered_at_once
