"""Official notices issued by the claim workflow at the steps that decide, with the real activity
(PDF rendered with the CJK font, stored by its hash, recorded on the case) and the real notifier:
受理回执 on intake, 补正材料一次性告知书 on a request for documents, 不予核准决定书 with the remedies on a
rejection, 待遇核定通知书 with the months and amounts on approval. Each message to the person quotes
the notice's check code; the stored file matches its recorded SHA-256; nothing is issued twice."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pypdf import PdfReader
from sqlmodel import col, select

from core import documents, notice_store
from models.benefit import StopEvent, StopReason
from models.claim import (
    ApproveCommand,
    ClaimStatus,
    ReapplyEvent,
    RejectCommand,
    RejectReason,
    RequestDocumentsCommand,
)
from models.notice import NoticeKind
from models.rules import YearMonth
from models.skill_subsidy import SubsidyDecisionCommand, SubsidyReapply, SubsidyStatus
from models.tables import Notice
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.factories import (
    REVIEWER,
    CaseEnv,
    applied,
    claim_input,
    sim_certificate,
    sim_person,
    start_subsidy,
    store_documents,
    subsidy_application,
    wait_subsidy,
)
from tests.workflow.conftest import period_input, sleep_until, start_period
from tests.workflow.test_benefit_claim import claim_env, messages, start, state, wait_status
from tests.workflow.test_skill_subsidy import employee, subsidy_env
from workflows.benefit_claim import BenefitClaimWorkflow
from workflows.benefit_period import BenefitPeriodWorkflow
from workflows.skill_subsidy import SkillSubsidyWorkflow

TZ = ZoneInfo("Asia/Shanghai")

__all__ = ["claim_env", "subsidy_env"]  # fixtures of the claim and subsidy tests


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "".join("".join(p.extract_text().replace("\x00", "").split()) for p in reader.pages)


async def _notices(ce: CaseEnv, case_id: str) -> list[Notice]:
    async with ce.db.session() as s:
        rows = await s.exec(select(Notice).where(Notice.case_id == case_id).order_by(col(Notice.issued_at)))
        return list(rows.all())


async def _pdf(ce: CaseEnv, n: Notice) -> str:
    """The notice's text, from its PDF made on this first use (the case recorded the layout only)."""
    assert n.sha256 is None and n.layout_key is not None  # not rendered on the case's path
    async with ce.db.session() as s:
        row = await notice_store.rendered(s, ce.settings, n)
    assert row.storage_key is not None and row.sha256 is not None
    data = documents.load(ce.settings.effective_documents_dir, row.storage_key, row.sha256)
    assert hashlib.sha256(data).hexdigest() == row.sha256
    return _text(data)


async def _sms(sim: SimHandle, case_id: str, template: str) -> list[dict[str, Any]]:
    return [m for m in await messages(sim, case_id, wait_for=template) if m["template"] == template]


async def test_claim_issues_receipt_documents_rejection_and_approval_notices(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    h = await start(claim_env, claim_input(claim_env.settings, person))
    await wait_status(h, ClaimStatus.UNDER_REVIEW, limit=60)

    [receipt] = await _notices(claim_env, h.id)
    assert receipt.kind == NoticeKind.CLAIM_RECEIPT.value
    text = await _pdf(claim_env, receipt)
    assert "失业保险金申领受理回执" in text and person["name"] in text and "10个工作日内审核完毕" in text
    assert person["id_number"] not in text  # masked on paper
    [sms] = await _sms(sim, h.id, "claim_received")
    assert receipt.check_code in sms["text_zh"] and "/verify/" in sms["text_zh"]

    await h.execute_update(
        BenefitClaimWorkflow.request_documents,
        RequestDocumentsCommand(actor=REVIEWER, documents=["解除劳动合同证明", "银行卡复印件"]),
    )
    await wait_status(h, ClaimStatus.AWAITING_DOCUMENTS, limit=60)
    [sms] = await _sms(sim, h.id, "documents_requested")
    docs = [n for n in await _notices(claim_env, h.id) if n.kind == NoticeKind.DOCUMENTS_REQUEST.value]
    assert len(docs) == 1 and docs[0].check_code in sms["text_zh"]
    text = await _pdf(claim_env, docs[0])
    assert "补正材料一次性告知书" in text and "解除劳动合同证明" in text and "银行卡复印件" in text
    await h.execute_update(BenefitClaimWorkflow.supply_documents, ReapplyEvent(by="applicant"))
    await wait_status(h, ClaimStatus.UNDER_REVIEW, limit=60)

    remedy = "如停保原因登记有误，可由原单位申请变更停保原因。"
    await h.execute_update(
        BenefitClaimWorkflow.reject,
        RejectCommand(actor=REVIEWER, reason_code=RejectReason.VOLUNTARY_SEPARATION, remedy=remedy),
    )
    await wait_status(h, ClaimStatus.REJECTED, limit=60)
    [sms] = await _sms(sim, h.id, "claim_rejected")
    [refusal] = [n for n in await _notices(claim_env, h.id) if n.kind == NoticeKind.CLAIM_NOT_APPROVED.value]
    assert refusal.check_code in sms["text_zh"]
    text = await _pdf(claim_env, refusal)
    assert "不予核准决定书" in text and remedy in text
    # The person's rights and where to go.
    assert "60日内向呼和浩特市新城区人民政府申请行政复议" in text
    assert "6个月内向呼和浩特市新城区所在地有管辖权的人民法院提起行政诉讼" in text

    sim.state.pop.persons[person["id_number"]].stop_reason_code = "contract_expired"
    await h.execute_update(BenefitClaimWorkflow.reapply, ReapplyEvent(by="applicant"))
    await wait_status(h, ClaimStatus.UNDER_REVIEW, limit=60)
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED
    ent = (await state(h)).entitlement
    assert ent is not None
    [sms] = await _sms(sim, h.id, "claim_approved")
    [approval] = [n for n in await _notices(claim_env, h.id) if n.kind == NoticeKind.BENEFIT_APPROVED.value]
    assert approval.check_code in sms["text_zh"]
    text = await _pdf(claim_env, approval)
    assert f"失业保险金{ent.max_months}个月" in text
    assert f"自{ent.first_month.year}年{ent.first_month.month}月起" in text
    assert f"{ent.schedule[0].amount:.2f}元" in text
    assert "行政复议" not in text  # a grant states no remedies

    notices = await _notices(claim_env, h.id)
    assert len({n.check_code for n in notices}) == len(notices) == 4
    timeline = [e.what for e in (await state(h)).timeline]
    assert timeline.count("notice.issued") == 4


async def test_public_verify_route_answers_for_an_issued_code_and_refuses_others(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    from api.app import create_app

    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    h = await start(claim_env, claim_input(claim_env.settings, person))
    await wait_status(h, ClaimStatus.UNDER_REVIEW, limit=60)
    [n] = await _notices(claim_env, h.id)
    assert n.sha256 is None  # made on first verification, not on the claim's path
    app = create_app(claim_env.settings, db=claim_env.db, temporal=claim_env.env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get(f"/api/v1/verify/{n.check_code}")
        assert r.status_code == 200, r.text
        body = r.json()
        [n] = await _notices(claim_env, h.id)
        assert n.sha256 is not None and len(n.sha256) == 64
        assert body["notice_no"] == n.notice_no and body["sha256"] == n.sha256 and body["case_id"] == h.id
        assert person["name"] not in r.text and person["id_number"] not in r.text
        original = await c.get(f"/verify/{n.check_code}/original")
        assert original.status_code == 200 and hashlib.sha256(original.content).hexdigest() == n.sha256
        # One character changed: unknown. Malformed: refused with its own code.
        tampered = n.check_code[:-1] + ("A" if n.check_code[-1] != "A" else "B")
        r = await c.get(f"/api/v1/verify/{tampered}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "notice.not_found"
        r = await c.get("/api/v1/verify/not-a-code")
        assert r.status_code == 422 and r.json()["error"]["code"] == "notice.code_invalid"
        page = await c.get(f"/verify/{tampered}")
        assert page.status_code == 404 and "核验码无效" in page.text


async def test_period_stop_issues_the_stop_notice_with_the_remedies(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YearMonth(FUTURE_YEAR, 1), months=12)
    h = await start_period(period_env, inp)
    await sleep_until(period_env, datetime(FUTURE_YEAR, 2, 20, 12, 0, tzinfo=TZ))
    await h.signal(
        BenefitPeriodWorkflow.stop_event,
        StopEvent(
            reason=StopReason.REEMPLOYED,
            on=date(FUTURE_YEAR, 2, 18),
            source="employment-registry",
            reference="JY-2",
        ),
    )
    await h.result()
    [sms] = await _sms(sim, inp.case_id, "period_stopped")
    [n] = await _notices(period_env, inp.case_id)
    assert n.kind == NoticeKind.BENEFIT_STOPPED.value and n.check_code in sms["text_zh"]
    text = await _pdf(period_env, n)
    assert "失业保险金停发通知书" in text and f"自{FUTURE_YEAR}年03月起停止发放" in text
    assert "尚有10个月失业保险金未领取" in text
    assert "申请行政复议" in text and "提起行政诉讼" in text


async def test_subsidy_refusal_and_approval_each_issue_their_decision(
    subsidy_env: CaseEnv, sim: SimHandle
) -> None:
    person = await employee(sim)
    cert = await sim_certificate(sim, person)
    h = await start_subsidy(subsidy_env, subsidy_application(person, cert))
    await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
    await h.execute_update(
        SkillSubsidyWorkflow.decide_subsidy,
        SubsidyDecisionCommand(
            actor=REVIEWER,
            action="reject",
            reason="缺少证岗相适材料",
            remedy="请补充单位盖章的证岗相适材料后重新申请",
        ),
    )
    await wait_subsidy(h, SubsidyStatus.REJECTED)
    await applied(h)  # the decision answers on acceptance; its notice is issued as it is applied
    [refusal] = await _notices(subsidy_env, h.id)
    text = await _pdf(subsidy_env, refusal)
    assert "技能提升补贴不予核准决定书" in text and "缺少证岗相适材料" in text and "申请行政复议" in text
    [fit] = await store_documents(subsidy_env.db, "job_fit_statement")
    await h.execute_update(SkillSubsidyWorkflow.reapply, SubsidyReapply(by="applicant", fit_statement=fit))
    await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW, rounds=2)
    await h.execute_update(
        SkillSubsidyWorkflow.decide_subsidy, SubsidyDecisionCommand(actor=REVIEWER, action="approve")
    )
    await h.result()
    approval = [n for n in await _notices(subsidy_env, h.id) if n.kind == NoticeKind.SUBSIDY_APPROVED.value]
    assert len(approval) == 1
    text = await _pdf(subsidy_env, approval[0])
    assert "技能提升补贴核定通知书" in text and "核定补贴金额1500.00元" in text and cert["cert_no"] in text
    [sms] = [
        m
        for m in await messages(sim, h.id, wait_for="subsidy_approved")
        if m["template"] == "subsidy_approved"
    ]
    assert approval[0].check_code in sms["text_zh"]
