"""The verification case (核查) on the time-skipping server with the real activities: a confirmed
fraud ring ends in recovery with the exact months and amounts of the payment ledger, the running
periods stopped, a fine at the chosen multiple per person, a police referral, notices, and the
repayments recorded until settled; a cleared case ends with nothing owed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.risk_report import rule_report, rule_watch
from models.benefit import PeriodStatus
from models.review import ReviewAction, ReviewCommand
from models.rules import YearMonth
from models.tables import CaseRecord, PaymentOrder
from models.verification import (
    ProposeCommand,
    RepaymentCommand,
    VerificationParty,
    VerificationState,
    VerificationStatus,
)
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.factories import (
    INSPECTOR,
    REVIEWER,
    SUPERVISOR,
    CaseEnv,
    applied,
    assert_untouched,
    audit_actions,
    messages,
    settled_history_length,
    sim_person,
    start_verification,
    store_documents,
)
from tests.waiting import WAIT_S
from tests.workflow.conftest import period_input, start_period, wait_period
from workflows.verification import VerificationWorkflow

TZ = ZoneInfo("Asia/Shanghai")
# A year still ahead of the test clock (a literal 2027 would sleep backwards from 2027-03-25 on)
Y = FUTURE_YEAR
VHandle = WorkflowHandle[VerificationWorkflow, Any]
RING = 3


async def state(h: VHandle) -> VerificationState:
    return await h.query(VerificationWorkflow.state_query)


async def wait_v(h: VHandle, ok: Any, limit: float = WAIT_S) -> VerificationState:
    end = asyncio.get_running_loop().time() + limit
    while True:
        s = await state(h)
        if ok(s):
            return s
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"{s.status} {s.stage}: {[e.what for e in s.timeline]}")
        await asyncio.sleep(0.05)


async def paid_orders(ce: CaseEnv, period_ids: list[str]) -> list[tuple[str, str, Decimal]]:
    async with ce.db.session() as s:
        rows = (
            await s.exec(
                select(PaymentOrder).where(
                    col(PaymentOrder.case_id).in_(period_ids), PaymentOrder.status == "paid"
                )
            )
        ).all()
    return sorted((r.case_id, r.period, r.amount) for r in rows)


def approve(actor: Any = SUPERVISOR) -> ReviewCommand:
    return ReviewCommand(actor=actor, action=ReviewAction.APPROVE, level="approve")


async def ring_case(
    ce: CaseEnv, sim: SimHandle, n: int = RING
) -> tuple[VHandle, list[VerificationParty], list[str]]:
    """``n`` people of a ring receive benefit from January of :data:`Y` (six months each); in late March a
    scan opens a verification case over them, their intermediary and the employer."""
    people = []
    for _ in range(n):
        person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
        inp = period_input(ce.settings, person, first=YearMonth(Y, 1), months=6)
        await start_period(ce, inp)
        people.append((person, inp))
    now = await ce.env.get_current_time()
    await ce.env.sleep(datetime(Y, 3, 25, 12, 0, tzinfo=TZ) - now)
    ring_ref = uuid.uuid4().hex[:8]
    parties = [
        VerificationParty(kind="intermediary", key=f"agent-{ring_ref}", label="同一代办人", claim_ids=[]),
        VerificationParty(kind="employer", key=people[0][0]["last_employer"], label="挂靠单位"),
    ] + [
        VerificationParty(
            kind="person",
            key=inp.applicant_key,
            label=person["name"][0] + "**",
            claim_ids=[inp.claim_case_id],
            period_ids=[inp.case_id],
            phone=person["phone"],
        )
        for person, inp in people
    ]
    h = await start_verification(ce, parties, f"ring-{ring_ref}")
    await wait_v(h, lambda s: s.review.current == "propose")
    return h, parties, [inp.case_id for _, inp in people]


async def sanction_proposal(ce: CaseEnv) -> ProposeCommand:
    """Recovery in three installments, a fine of 3 times, the file sent to the police."""
    evidence = await store_documents(ce.db, "bank_statement", "interview_record")
    police_file = (await store_documents(ce.db, "police_referral_file"))[0]
    return ProposeCommand(
        actor=INSPECTOR,
        action=ReviewAction.APPROVE,
        level="propose",
        outcome="sanction",
        finding="经调取银行流水和询问笔录，3人均由同一中介代办，挂靠参保后立即申领，骗取失业保险金",
        evidence=evidence,
        recovery=True,
        installments=3,
        fine_multiple=Decimal("3"),
        fine_justification="有组织的团伙骗保，情节较重，按三倍处罚",
        police=True,
        police_file=police_file,
        police_unit="呼和浩特市公安局新城区分局",
    )


async def repay_in_full(ce: CaseEnv, h: VHandle) -> None:
    """Each installment of the schedule paid on its due day, with a receipt."""
    rec = (await state(h)).recovery
    assert rec is not None
    for inst in rec.plan:
        receipt = (await store_documents(ce.db, "repayment_receipt"))[0]
        await h.execute_update(
            VerificationWorkflow.record_repayment,
            RepaymentCommand(actor=INSPECTOR, amount=inst.amount, paid_on=inst.due, receipt=receipt),
        )
        await applied(h)


async def test_confirmed_ring_ends_in_recovery_fine_and_police_referral(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    ce = period_env
    h, parties, periods = await ring_case(ce, sim)
    proposal = await sanction_proposal(ce)
    police_file = proposal.police_file
    assert police_file is not None
    # Out of Art. 88's bounds, without evidence, or by the wrong person: refused, no trace.
    before = await settled_history_length(h)
    for cmd, code in (
        (proposal.model_copy(update={"fine_multiple": Decimal("6")}), "review.invalid"),
        (proposal.model_copy(update={"evidence": []}), "review.invalid"),
        (proposal.model_copy(update={"fine_justification": ""}), "review.reason_required"),
        (proposal.model_copy(update={"actor": REVIEWER}), "review.role"),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(VerificationWorkflow.propose, cmd)
        assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == code
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(VerificationWorkflow.approve_outcome, approve())
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "review.wrong_level"
    await assert_untouched(h, before)

    await h.execute_update(VerificationWorkflow.propose, proposal)
    await applied(h)
    await wait_v(h, lambda s: s.review.current == "approve")
    await h.execute_update(VerificationWorkflow.approve_outcome, approve())
    await applied(h)
    s = await wait_v(h, lambda s: s.status == VerificationStatus.RECOVERING)

    # The periods are stopped by their own Signal; what they paid is exactly what is recovered.
    for pid in periods:
        ps = await wait_period(ce.env.client.get_workflow_handle(pid), PeriodStatus.CLOSED)
        assert ps.stops and ps.stops[0].source == "risk-check"
    ledger = await paid_orders(ce, periods)
    assert ledger and len(ledger) == RING * 3  # January to March paid, nothing after the stop
    rec = s.recovery
    assert rec is not None
    assert [(m.case_id, m.month, m.amount) for m in rec.months] == ledger
    assert rec.total == sum((a for _, _, a in ledger), Decimal("0"))
    assert sorted(rec.stopped_periods) == sorted(periods)
    assert len(rec.plan) == 3 and sum((i.amount for i in rec.plan), Decimal("0")) == rec.total

    # A fine per person at the chosen multiple of what that person obtained.
    assert len(s.fines) == RING
    for f in s.fines:
        mine = sum(
            (a for c, _, a in ledger if c in next(p.period_ids for p in parties if p.key == f.party)),
            Decimal("0"),
        )
        assert f.multiple == Decimal("3") and f.obtained == mine and f.amount == mine * 3
        assert f.justification == proposal.fine_justification and "第八十八条" in f.basis_zh
    assert s.police is not None and s.police.file.sha256 == police_file.sha256
    assert s.police.unit == "呼和浩特市公安局新城区分局"
    # The intermediary is a party of its own; the state holds no phone.
    assert any(p.kind == "intermediary" for p in s.parties) and all(p.phone is None for p in s.parties)
    notices = [
        m
        for m in await messages(sim, h.id, wait_for="verification_decision")
        if m["template"] == "verification_decision"
    ]
    assert len(notices) == RING and all(
        "责令退回" in m["text_zh"] and "3倍罚款" in m["text_zh"] for m in notices
    )

    # Repayments recorded until nothing is outstanding; an over-payment is refused.
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            VerificationWorkflow.record_repayment,
            RepaymentCommand(actor=INSPECTOR, amount=rec.total + 1, paid_on=date(Y, 4, 1)),
        )
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "review.invalid"
    await repay_in_full(ce, h)
    result = await h.result()
    assert result.status == VerificationStatus.SANCTIONED and result.recovered == rec.total
    # The rule watches itself: its hit confirmed, the amount recovered counted once.
    march = await rule_report(ce.db, f"{Y}-03", f"{Y}-03")  # the case was opened on 25 March
    [row] = [r for r in march if r.rule == "scan.shared_contact"]
    assert (row.hits, row.confirmed, row.cleared, row.recovered) == (1, 1, 0, rec.total)
    assert row.confirmed_share == Decimal("1.00")
    assert result.fines == rec.total * 3 and result.referred_to_police
    actions = [a for a, _ in await audit_actions(ce.db, h.id)]
    assert (
        "verification.review.propose.approve" in actions and "verification.review.approve.approve" in actions
    )
    assert "verification.sanctioned" in actions and actions.count("verification.repayment") == 3
    async with ce.db.session() as sess:
        row = await sess.get(CaseRecord, h.id)
        assert row is not None and row.status == "sanctioned" and row.case_type == "risk_check"
        assert row.summary["recovery"]["outstanding"] == "0.00"


async def cleared_after_send_back(ce: CaseEnv, sim: SimHandle) -> VHandle:
    """A layoff hit: the inspector clears it, the supervisor sends it back once, then approves."""
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    parties = [
        VerificationParty(kind="employer", key=person["last_employer"], label="单位"),
        VerificationParty(
            kind="person", key="k" + uuid.uuid4().hex[:12], label="张**", phone=person["phone"]
        ),
        VerificationParty(kind="person", key="k" + uuid.uuid4().hex[:12], label="李**"),
    ]
    h = await start_verification(
        ce,
        parties,
        f"layoff-{uuid.uuid4().hex[:8]}",
        rule="scan.mass_separation",
        found_at=datetime(2030, 1, 15, tzinfo=UTC),  # a month of its own in the shared test database
    )
    await wait_v(h, lambda s: s.review.current == "propose")
    evidence = await store_documents(ce.db, "layoff_filing")
    await h.execute_update(
        VerificationWorkflow.propose,
        ProposeCommand(
            actor=INSPECTOR,
            action=ReviewAction.APPROVE,
            outcome="cleared",
            finding="单位已向人社部门报告经济性裁员方案，离职真实",
            evidence=evidence,
        ),
    )
    await applied(h)
    # The supervisor sends it back once; the inspector proposes again; then approved.
    await h.execute_update(
        VerificationWorkflow.approve_outcome,
        ReviewCommand(actor=SUPERVISOR, action=ReviewAction.SEND_BACK, note="请补充裁员备案材料"),
    )
    await applied(h)
    await wait_v(h, lambda s: s.review.current == "propose")
    await h.execute_update(
        VerificationWorkflow.propose,
        ProposeCommand(
            actor=INSPECTOR,
            action=ReviewAction.APPROVE,
            outcome="cleared",
            finding="已补充裁员备案回执，离职真实",
            evidence=evidence,
        ),
    )
    await applied(h)
    await h.execute_update(VerificationWorkflow.approve_outcome, approve())
    await applied(h)
    return h


async def test_cleared_case_ends_with_nothing_owed(claim_env: CaseEnv, sim: SimHandle) -> None:
    h = await cleared_after_send_back(claim_env, sim)
    result = await h.result()
    assert result.status == VerificationStatus.CLEARED and result.fines == 0 and not result.referred_to_police
    s = await state(h)
    assert s.recovery is None and s.proposal is not None and "补充" in s.proposal.finding
    [row] = [
        r for r in await rule_report(claim_env.db, "2030-01", "2030-01") if r.rule == "scan.mass_separation"
    ]
    assert (row.hits, row.confirmed, row.cleared, row.confirmed_share) == (1, 0, 1, Decimal("0.00"))
    watch = {w.rule: w.concern for w in await rule_watch(claim_env.db, "2030-01")}
    assert watch["scan.death_while_receiving"] == "never_hit" and "scan.mass_separation" not in watch
    msgs = await messages(sim, h.id, wait_for="verification_cleared")
    assert [m["template"] for m in msgs].count("verification_cleared") == 1
