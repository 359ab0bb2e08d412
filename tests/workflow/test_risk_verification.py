"""A flagged claim is verified by a 风险稽核员 before it is decided (notice item 7), on the
time-skipping server with the real activities and the simulators."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models.claim import (
    ApproveCommand,
    ClaimStatus,
    RejectReason,
    RiskFindingCommand,
)
from models.tables import CaseRecord
from sim.testing import SimHandle
from tests.factories import (
    INSPECTOR,
    REVIEWER,
    CaseEnv,
    assert_untouched,
    audit_actions,
    claim_input,
    messages,
    settled_history_length,
    sim_person,
    start_claim,
    store_documents,
    wait_claim,
)
from tests.waiting import polls
from workflows.benefit_claim import BenefitClaimWorkflow
from workflows.verification import VerificationWorkflow

ClaimHandle = WorkflowHandle[BenefitClaimWorkflow, Any]


async def flagged_claim(ce: CaseEnv, sim: SimHandle) -> ClaimHandle:
    """An otherwise eligible claim after only 2 consecutive months of contributions (a risk hit)."""
    person = await sim_person(
        sim.base_url,
        sim.token,
        scenario="short_consecutive",
        cumulative_months=40,
        last_consecutive_months=2,
        registered=True,
    )
    h = await start_claim(ce, claim_input(ce.settings, person))
    s = await wait_claim(h, ClaimStatus.RISK_VERIFICATION)
    assert s.stage == "risk_verification"
    rnd = s.rounds[0]
    assert rnd.report is not None and [x.code for x in rnd.report.risk_hits] == ["risk.short_contribution"]
    assert rnd.risk_deadline is not None and rnd.risk_deadline.working_days == 5
    return h


async def test_flagged_claim_cannot_be_approved_before_the_finding(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    h = await flagged_claim(claim_env, sim)
    before = await settled_history_length(h)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER, note="核实无误"))
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "review.stage"
    # A reviewer cannot record the finding either, nor can an inspector without evidence.
    docs = await store_documents(claim_env.db, "verification_record")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            BenefitClaimWorkflow.record_risk_finding,
            RiskFindingCommand(actor=REVIEWER, outcome="cleared", finding="电话核实在职情况", evidence=docs),
        )
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "review.role"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            BenefitClaimWorkflow.record_risk_finding,
            RiskFindingCommand(actor=INSPECTOR, outcome="cleared", finding="电话核实在职情况"),
        )
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "review.invalid"
    await assert_untouched(h, before)
    assert (await wait_claim(h, ClaimStatus.RISK_VERIFICATION)).rounds[0].decision is None


async def test_cleared_hit_returns_the_claim_to_review_with_the_finding_visible(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    h = await flagged_claim(claim_env, sim)
    docs = await store_documents(claim_env.db, "labour_contract", "verification_record")
    finding = "调取前两段劳动合同，中断系单位社保经办人员变更所致，缴费连续性不影响资格"
    receipt = await h.execute_update(
        BenefitClaimWorkflow.record_risk_finding,
        RiskFindingCommand(actor=INSPECTOR, outcome="cleared", finding=finding, evidence=docs),
    )
    assert receipt.processing
    s = await wait_claim(h, ClaimStatus.UNDER_REVIEW)
    f = s.rounds[0].risk_finding
    assert f is not None and f.outcome == "cleared" and f.by == INSPECTOR.login
    assert [d.sha256 for d in f.evidence] == [d.sha256 for d in docs]
    assert any(e.what == "risk.finding_cleared" and finding in e.text_zh for e in s.timeline)
    async with claim_env.db.session() as sess:
        row = await sess.get(CaseRecord, h.id)
        assert row is not None and row.stage == "review"
        assert row.summary["risk_finding"]["outcome"] == "cleared"
        assert row.summary["risk_finding"]["finding"] == finding
    await h.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    assert (await h.result()).status == ClaimStatus.APPROVED
    assert ("claim.risk_finding.cleared", INSPECTOR.login) in await audit_actions(claim_env.db, h.id)


async def test_confirmed_hit_refuses_the_claim_with_reason_and_remedy(
    claim_env: CaseEnv, sim: SimHandle
) -> None:
    h = await flagged_claim(claim_env, sim)
    docs = await store_documents(claim_env.db, "verification_record")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            BenefitClaimWorkflow.record_risk_finding,
            RiskFindingCommand(
                actor=INSPECTOR, outcome="confirmed", action="refuse", finding="挂靠参保两个月", evidence=docs
            ),
        )
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "review.reason_required"
    remedy = "如对核查结论有异议，可在收到通知之日起六十日内申请行政复议。"
    await h.execute_update(
        BenefitClaimWorkflow.record_risk_finding,
        RiskFindingCommand(
            actor=INSPECTOR,
            outcome="confirmed",
            action="refuse",
            finding="经核查，申领人与该单位无实际用工关系，系挂靠参保两个月",
            evidence=docs,
            remedy=remedy,
        ),
    )
    s = await wait_claim(h, ClaimStatus.REJECTED)
    d = s.rounds[0].decision
    assert d is not None and d.reason_code == RejectReason.FRAUD_VERIFIED and d.remedy == remedy
    sms = [
        m for m in await messages(sim, h.id, wait_for="claim_rejected") if m["template"] == "claim_rejected"
    ]
    assert len(sms) == 1 and remedy in sms[0]["text_zh"]


async def test_verification_overdue_is_escalated(claim_env: CaseEnv, sim: SimHandle) -> None:
    h = await flagged_claim(claim_env, sim)
    await claim_env.env.sleep(timedelta(days=12))
    s = await wait_claim(h, ClaimStatus.RISK_VERIFICATION)
    whats = [e.what for e in s.timeline]
    assert "risk.reminder" in whats and "risk.overdue" in whats and s.escalated
    msgs = await messages(sim, h.id, wait_for="risk_verification_overdue")
    assert any(m["template"] == "risk_verification_overdue" for m in msgs)


async def test_confirmed_and_referred_opens_a_verification_case(claim_env: CaseEnv, sim: SimHandle) -> None:
    h = await flagged_claim(claim_env, sim)
    docs = await store_documents(claim_env.db, "interview_record")
    await h.execute_update(
        BenefitClaimWorkflow.record_risk_finding,
        RiskFindingCommand(
            actor=INSPECTOR,
            outcome="confirmed",
            action="refer",
            finding="询问笔录显示由他人代办挂靠参保，疑似中介组织，转立案核查",
            evidence=docs,
        ),
    )
    s = await wait_claim(h, ClaimStatus.REJECTED)
    f = s.rounds[0].risk_finding
    assert f is not None and f.verification_case_id is not None
    assert f.verification_case_id.startswith("verification-150102-c")
    d = s.rounds[0].decision
    assert d is not None and d.reason_code == RejectReason.FRAUD_VERIFIED and d.remedy
    v = claim_env.env.client.get_workflow_handle(f.verification_case_id)
    for _ in polls():
        try:
            vs = await v.query(VerificationWorkflow.state_query)
            if vs.review.current == "propose":
                break
        except RPCError:
            pass
        await asyncio.sleep(0.05)
    assert vs.source_claim_id == h.id and [p.kind for p in vs.parties] == ["person", "employer"]
    assert vs.parties[0].claim_ids == [h.id] and vs.parties[0].phone is None
    assert [x.rule for x in vs.hits] == ["risk.short_contribution"] and vs.hits[0].rule_version
