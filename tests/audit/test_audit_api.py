"""The audit API: a case's timeline for staff in region scope (every view audited, decryption
for authorised roles only), the audit log with filters and scope, and the integrity check."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlmodel import col, select
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core import archive as arch
from core.db import Database
from core.replay import load_history_file
from core.settings import Settings
from models.claim import ApproveCommand, ClaimStatus
from models.tables import AuditLog, CaseRecord
from sim.testing import SimHandle
from tests.audit.conftest import bearer, ensure_staff
from tests.conftest import login
from tests.factories import REVIEWER, CaseEnv, claim_input, sim_person
from tests.replay.conftest import HISTORIES
from tests.waiting import polls
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow

VIEW = "case.timeline.viewed"


@pytest_asyncio.fixture
async def api(claim_env: CaseEnv) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(claim_env.settings, db=claim_env.db, temporal=claim_env.env.client)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def approved_claim(ce: CaseEnv, sim: SimHandle) -> WorkflowHandle[Any, Any]:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = claim_input(ce.settings, person)
    h = await ce.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", "150102", "checking"),
        execution_timeout=timedelta(days=400),
    )
    for _ in polls():
        if (await h.query(BenefitClaimWorkflow.state_query)).status == ClaimStatus.UNDER_REVIEW:
            break
        await asyncio.sleep(0.05)
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER, note="核实无误"))
    await h.result()
    return h


async def views(db: Database, case_id: str) -> list[AuditLog]:
    async with db.session() as s:
        rows = await s.exec(
            select(AuditLog)
            .where(AuditLog.case_id == case_id, AuditLog.action == VIEW)
            .order_by(col(AuditLog.id))
        )
        return list(rows.all())


async def test_a_timeline_lists_the_decisions_and_every_view_is_audited(
    api: httpx.AsyncClient, claim_env: CaseEnv, sim: SimHandle
) -> None:
    h = await approved_claim(claim_env, sim)
    headers = bearer(claim_env.settings, "reviewer.xc", ["reviewer"], "150102")
    assert await views(claim_env.db, h.id) == []

    r = await api.get(f"/api/v1/cases/{h.id}/timeline", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["decrypted"], body["case_type"]) == ("temporal", True, "benefit_claim")
    assert body["narrative"] is True  # the workflow's own entries, through its query
    assert [run["close"] for run in body["runs"]] == ["COMPLETED"]
    decisions = [
        e
        for e in body["events"]
        if e["category"] == "decision" and e["event_type"].endswith("UPDATE_ACCEPTED")
    ]
    assert [(d["action"], d["actor_kind"], d["actor"]) for d in decisions] == [
        ("approve", "staff", "reviewer.xc")
    ]
    assert decisions[0]["at"].endswith("+08:00")
    assert "说明：核实无误" in decisions[0]["text_zh"]
    assert any(
        b["activity"] == "assess_claim" and b["versions"] for b in decisions[0]["evidence"]["based_on"]
    )
    assert not any(e["category"] == "bookkeeping" for e in body["events"])
    assert any(e["source"] == "workflow" and e["action"] == "review.approved" for e in body["events"])

    [view] = await views(claim_env.db, h.id)
    assert (view.actor, view.actor_region, view.detail) == (
        "reviewer.xc",
        "150102",
        {"decrypted": True, "source": "temporal", "events": len(body["events"])},
    )
    r = await api.get(f"/api/v1/cases/{h.id}/timeline", params={"bookkeeping": "true"}, headers=headers)
    assert r.status_code == 200 and any(e["category"] == "bookkeeping" for e in r.json()["events"])
    assert len(await views(claim_env.db, h.id)) == 2

    # Auditors read the views (newest first) and the decision the workflow wrote.
    auditor = bearer(claim_env.settings, "auditor.nmg", ["auditor"], "150000")
    r = await api.get("/api/v1/audit/log", params={"case_id": h.id, "action": VIEW}, headers=auditor)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["actor"] for e in entries] == ["reviewer.xc", "reviewer.xc"]
    assert entries[0]["id"] > entries[1]["id"] and entries[0]["at"].endswith("+08:00")
    r = await api.get("/api/v1/audit/log", params={"case_id": h.id, "action": "claim.*"}, headers=auditor)
    assert [(e["action"], e["actor"]) for e in r.json()["entries"]] == [("claim.approve", "reviewer.xc")]
    r = await api.get("/api/v1/audit/log", params={"case_id": h.id, "limit": 1}, headers=auditor)
    page = r.json()
    assert len(page["entries"]) == 1 and page["next_before_id"] == page["entries"][0]["id"]
    r = await api.get(
        "/api/v1/audit/log",
        params={"case_id": h.id, "before_id": page["next_before_id"], "limit": 500},
        headers=auditor,
    )
    assert all(e["id"] < page["next_before_id"] for e in r.json()["entries"]) and r.json()["entries"]
    future = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    r = await api.get("/api/v1/audit/log", params={"case_id": h.id, "since": future}, headers=auditor)
    assert r.json()["entries"] == []
    r = await api.get("/api/v1/audit/log", params={"since": "2026-01-01T00:00:00"}, headers=auditor)
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"since": "须带时区"}


async def test_region_scope_and_decryption_by_role(
    api: httpx.AsyncClient, claim_env: CaseEnv, sim: SimHandle, settings: Settings
) -> None:
    h = await approved_claim(claim_env, sim)
    url = f"/api/v1/cases/{h.id}/timeline"

    # An auditor of another league (包头市) is refused, and nothing is shown or recorded as viewed.
    await ensure_staff(claim_env.db, "auditor.bt", ["auditor"], "150200")
    await ensure_staff(claim_env.db, "auditor.hhht", ["auditor"], "150100")
    other = bearer(settings, "auditor.bt", ["auditor"], "150200")
    r = await api.get(url, headers=other)  # outside the scope, the case does not exist
    assert r.status_code == 404 and r.json()["error"]["code"] == "case.not_found"
    assert await views(claim_env.db, h.id) == []
    r = await api.get("/api/v1/audit/log", params={"case_id": h.id}, headers=other)
    assert r.status_code == 200 and r.json()["entries"] == []  # the log is scoped too

    # An auditor of the case's league sees it, decrypted, and the view is recorded.
    league = bearer(settings, "auditor.hhht", ["auditor"], "150100")
    r = await api.get(url, headers=league)
    assert r.status_code == 200 and r.json()["decrypted"] is True
    r = await api.get("/api/v1/audit/log", params={"case_id": h.id, "action": VIEW}, headers=league)
    assert [e["actor"] for e in r.json()["entries"]] == ["auditor.hhht"]

    # Operations engineers see the redacted timeline: no payloads, no personal data.
    person_name = (await h.query(BenefitClaimWorkflow.state_query)).applicant_name
    r = await api.get(url, headers=bearer(settings, "ops.nmg", ["ops_engineer"], "150000"))
    assert r.status_code == 200
    body = r.json()
    assert body["decrypted"] is False and body["narrative"] is False
    assert all(e["detail"] is None for e in body["events"]) and person_name not in r.text
    assert [v.detail["decrypted"] for v in await views(claim_env.db, h.id)] == [True, False]

    # The audit log itself is for auditors and supervisors.
    r = await api.get("/api/v1/audit/log", headers=bearer(settings, "reviewer.xc", ["reviewer"], "150102"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role"
    r = await api.get(f"/api/v1/cases/{h.id}-nope/timeline", headers=league)
    assert r.status_code == 404 and r.json()["error"]["code"] == "case.not_found"


async def test_a_case_past_retention_is_read_from_the_archive(
    tskip_env: WorkflowEnvironment, sqlite_db: Database, settings: Settings
) -> None:
    """The history is gone from Temporal but was archived: the timeline comes from the archive,
    and the integrity check covers it."""
    case_id = f"claim-150102-archived-{uuid.uuid4().hex[:6]}"
    history = load_history_file(HISTORIES / "benefit_claim__reject_reapply_approve.json")
    now = datetime.now(UTC)
    async with sqlite_db.session() as s:
        s.add(
            CaseRecord(
                case_id=case_id,
                case_type="benefit_claim",
                status="approved",
                region_code="150102",
                applicant_key="k" * 64,
                received_at=now,
                updated_at=now,
            )
        )
        await arch.archive_history(s, WorkflowHistory(case_id, history.events))
        await s.commit()
    app = create_app(settings, db=sqlite_db, temporal=tskip_env.client)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        auditor = await login(client, "auditor.nmg")
        r = await client.get(f"/api/v1/cases/{case_id}/timeline", headers=auditor)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["source"], body["decrypted"], body["narrative"]) == ("archive", True, False)
        decided = [e["action"] for e in body["events"] if e["category"] == "decision"]
        assert decided[0] == "reject" and "approve" in decided

        r = await client.get("/api/v1/audit/verify", headers=auditor)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["ok"] is True and report["audit_log"]["ok"] is True
        assert report["archive"]["runs"] >= 1 and report["audit_log"]["head"]
        r = await client.get("/api/v1/audit/verify", params={"case_id": case_id}, headers=auditor)
        assert r.json()["archive"] == {"ok": True, "cases": 1, "runs": 1, "failures": []}
        r = await client.get(
            "/api/v1/audit/verify", headers=bearer(settings, "reviewer.xc", ["reviewer"], "150102")
        )
        assert r.status_code == 403
