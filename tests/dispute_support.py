"""Helpers for the stop-reason dispute tests (workflow and API): documents in the store, a real
benefit claim rejected for voluntary resignation, and the checks that it is paid after the change."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select
from temporalio.client import WorkflowHandle

from core.audit import AuditLog
from core.db import Database
from models.claim import ApproveCommand, ClaimState, ClaimStatus, DocumentRef, RejectCommand, RejectReason
from models.enums import Role
from models.staff import StaffActor
from models.tables import Document
from sim.testing import SimHandle
from tests.support import REVIEWER, CaseEnv, claim_input
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow

SECOND = StaffActor(login="second.hhht", name="钱复审", roles=[Role.SECOND_REVIEWER], region_code="150100")
FINAL = StaffActor(login="final.nmg", name="孙终审", roles=[Role.FINAL_REVIEWER], region_code="150000")

ClaimHandle = WorkflowHandle[BenefitClaimWorkflow, Any]


async def store_documents(db: Database, *kinds: str) -> list[DocumentRef]:
    """Uploaded files as the document store holds them (the dispute links them by id and hash)."""
    refs = []
    async with db.session() as s:
        for kind in kinds:
            doc_id = str(uuid.uuid4())
            digest = hashlib.sha256(f"{kind}:{doc_id}".encode()).hexdigest()
            s.add(
                Document(
                    id=doc_id,
                    kind=kind,
                    filename=f"{kind}.pdf",
                    content_type="application/pdf",
                    sha256=digest,
                    size=1024,
                    uploaded_by="test",
                    uploaded_at=datetime.now(UTC),
                    storage_key=f"test/{doc_id}",
                )
            )
            refs.append(DocumentRef(id=doc_id, kind=kind, sha256=digest, filename=f"{kind}.pdf"))
        await s.commit()
    return refs


async def wait_claim(h: ClaimHandle, status: ClaimStatus, rounds: int = 1) -> ClaimState:
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        s = await h.query(BenefitClaimWorkflow.state_query)
        if s.status == status and len(s.rounds) >= rounds:
            return s
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"claim at {s.status}; timeline: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


async def rejected_claim(ce: CaseEnv, person: dict[str, Any]) -> ClaimHandle:
    """A real claim, rejected because the record says voluntary resignation."""
    inp = claim_input(ce.settings, person)
    h: ClaimHandle = await ce.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=ce.task_queue,
        search_attributes=initial_search_attributes("benefit_claim", "150102", "checking"),
        execution_timeout=timedelta(days=400),
    )
    s = await wait_claim(h, ClaimStatus.UNDER_REVIEW)
    report = s.rounds[0].report
    assert report is not None and not report.eligibility.eligible
    assert report.eligibility.suggested_reject_reason == RejectReason.VOLUNTARY_SEPARATION
    reason = RejectReason.VOLUNTARY_SEPARATION
    await h.execute_update(
        BenefitClaimWorkflow.reject,
        RejectCommand(
            actor=REVIEWER, reason_code=reason, remedy="可由原单位申请变更停保原因，变更后自动重新审核。"
        ),
    )
    await wait_claim(h, ClaimStatus.REJECTED)
    return h


async def claim_paid_after_change(ce: CaseEnv, claim: ClaimHandle, dispute_id: str) -> None:
    s = await wait_claim(claim, ClaimStatus.UNDER_REVIEW, rounds=2)
    second = s.rounds[1]
    assert second.trigger == "stop_reason_changed"
    assert second.report is not None and second.report.eligibility.eligible
    assert second.report.stop_reason.involuntary
    assert any(e.what == "stop_reason.changed" and e.actor == dispute_id for e in s.timeline)
    await claim.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    result = await claim.result()
    assert result.status == ClaimStatus.APPROVED and result.rounds == 2 and result.entitlement is not None


async def messages(sim: SimHandle, case_id: str, wait_for: str | None = None) -> list[dict[str, Any]]:
    for _ in range(100):
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            r = await c.get("/admin/notifier/messages", params={"case_ref": case_id})
            msgs: list[dict[str, Any]] = r.json()["messages"]
        if wait_for is None or any(m["template"] == wait_for for m in msgs):
            return msgs
        await asyncio.sleep(0.05)
    return msgs


async def audit_actions(db: Database, case_id: str) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = (
            await s.exec(select(AuditLog).where(AuditLog.case_id == case_id).order_by(col(AuditLog.id)))
        ).all()
    return [(r.action, r.actor) for r in rows]
