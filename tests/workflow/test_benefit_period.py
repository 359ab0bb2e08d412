"""The benefit period on the time-skipping server, with the real activities against the
simulators (bank, medical insurance, notifier over HTTP) and the case database. Months pass in
milliseconds; the test clock starts at today's date, so the months come from the entitlement
(future months wait for their pay day, past months are paid by today's run). The period writes its
schedule rows; the region's pay-day runs pay them (docs/payments.md §0); the period reads the
ledger when its last month is due or an event arrives."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from temporalio.client import WorkflowUpdateFailedError

from activities.claim import ClaimActivities
from activities.gov import GovClients
from core.parameters import calendar_in_force
from models.benefit import (
    AccountChangeCommand,
    PeriodStatus,
    ResumeEvent,
    StaffStopCommand,
    StaffSuspendCommand,
    StopEvent,
    StopReason,
    SuspendEvent,
    TransitionalApplication,
    period_id_for,
)
from models.claim import ApproveCommand, ClaimStatus
from models.rules import NearRetirementOutcome, RetirementCategory, YearMonth
from models.tables import CaseRecord, PaymentOrder, PremiumMonth
from policy.near_retirement import near_retirement
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.factories import (
    CLERK,
    OTHER_REGION_REVIEWER,
    REVIEWER,
    CaseEnv,
    assert_sent_to_district_staff,
    assert_untouched,
    claim_input,
    sim_person,
)
from tests.factories import settled_history_length as settled
from tests.waiting import polls
from tests.workflow.conftest import (
    MW_CHANGE,
    PREMIUM_STANDARD,
    bank_ledger,
    domain_amount,
    ledger_for,
    new_account_number,
    params_of,
    period_input,
    period_state,
    sim_messages,
    sleep_until,
    start_period,
    wait_period,
)
from workflows.benefit_claim import BenefitClaimWorkflow
from workflows.benefit_period import BenefitPeriodWorkflow

TZ = ZoneInfo("Asia/Shanghai")
Y = FUTURE_YEAR  # a year still ahead of the test clock, laid out like 2027 (tests/clock.py)
YM = YearMonth
MALE_1966_03 = "1966-03-12"  # birth date as the sim takes it


async def orders(ce: CaseEnv, case_id: str) -> list[PaymentOrder]:
    async with ce.db.session() as s:
        rows = (await s.exec(select(PaymentOrder).where(PaymentOrder.case_id == case_id))).all()
    return sorted(rows, key=lambda r: r.period)


async def read_model(ce: CaseEnv, case_id: str) -> CaseRecord:
    async with ce.db.session() as s:
        row = await s.get(CaseRecord, case_id)
    assert row is not None
    return row


def assert_amounts_follow_policy(ce: CaseEnv, payments: list[Any]) -> None:
    """Each payment is the amount domain.md publishes for its month (with this folder's overlay)."""
    for p in payments:
        expected = domain_amount(p.month_index, p.pay_month, overlay=True)
        assert p.amount == expected, (p.pay_month, p.month_index, p.amount, expected)


async def assert_paid_exactly_once(
    ce: CaseEnv, sim: SimHandle, case_id: str, months: list[YearMonth]
) -> None:
    """The sim's ledger has one payment per key and nothing else for this case; our orders agree."""
    per_key = ledger_for(await bank_ledger(sim), case_id)
    assert per_key == {f"benefit:{case_id}:{m}": 1 for m in months}
    rows = await orders(ce, case_id)
    assert [r.period for r in rows] == [str(m) for m in months]
    assert {r.status for r in rows} == {"paid"} and all(r.bank_ref for r in rows)


# --- the ordinary path ----------------------------------------------------------------------------


async def test_twelve_months_on_their_pay_days_across_a_minimum_wage_change(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=12)
    h = await start_period(period_env, inp)
    result = await h.result()

    assert result.status == PeriodStatus.CLOSED and result.close_reason == "expired"
    assert result.months_paid == 12 and result.unused_months == 0
    s = await period_state(h)
    assert [p.pay_month for p in s.payments] == [YM(Y, 1) + i for i in range(12)]
    assert_amounts_follow_policy(period_env, s.payments)
    # The operator's new minimum wage applies from its month to a period already running (B4).
    assert {p.amount for p in s.payments if p.pay_month < MW_CHANGE} == {Decimal("2261.00")}
    assert {p.amount for p in s.payments if p.pay_month >= MW_CHANGE} == {Decimal("2375.00")}
    assert result.total_paid == 6 * Decimal("2261.00") + 6 * Decimal("2375.00")
    # Each month was paid by its region's run on its pay day (the 10th, or the next working day).
    cal = calendar_in_force(period_env.settings.calendar_dir)
    for p in s.payments:
        assert p.batch_id is not None
        day = date(int(p.batch_id[-8:-4]), int(p.batch_id[-4:-2]), int(p.batch_id[-2:]))
        assert cal.is_working_day(day) and day.day >= 10 and YM.of(day) == p.pay_month
    assert s.payments[1].batch_id == f"payday-150102-{Y}0215"  # 2027-02-10: the (synthetic) 春节 break
    await assert_paid_exactly_once(period_env, sim, inp.case_id, [p.pay_month for p in s.payments])
    # Premiums paid on the person's behalf every month at the operator's standard.
    assert [(p.month, p.status, p.total) for p in s.premiums] == [
        (p.pay_month, "paid", PREMIUM_STANDARD) for p in s.payments
    ]
    row = await read_model(period_env, inp.case_id)
    assert row.case_type == "benefit_period" and row.status == "closed" and row.closed_at is not None
    assert row.summary["months_paid"] == 12 and row.summary["unused_months"] == 0
    assert len(row.summary["premiums_paid"]) == 12 and not row.summary["premiums_failed"]
    assert person["id_number"] not in str(row.model_dump())
    assert "period_expired" in [m["template"] for m in await sim_messages(sim, inp.case_id)]


# --- stops ------------------------------------------------------------------------------------------


async def test_reemployment_in_month_5_stops_payment_and_keeps_7_months(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=12)
    h = await start_period(period_env, inp)
    await sleep_until(period_env, datetime(Y, 5, 20, 12, 0, tzinfo=TZ))
    s = await period_state(h)
    assert len(await orders(period_env, inp.case_id)) == 5 and s.status == PeriodStatus.ACTIVE

    # Staff stops need the right role and region; a refusal leaves no trace in history.
    before = await settled(h)
    for actor, message in ((CLERK, "只有审核员或业务主管可以进行登记停发"), (OTHER_REGION_REVIEWER, "无权")):
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(
                BenefitPeriodWorkflow.stop_by_staff,
                StaffStopCommand(actor=actor, reason=StopReason.REEMPLOYED, on=date(Y, 5, 18), note="核实"),
            )
        assert message in str(err.value.cause)
    await assert_untouched(h, before)

    # The employment registry reports the new job (a Signal): paid through May, stopped from June.
    await h.signal(
        BenefitPeriodWorkflow.stop_event,
        StopEvent(
            reason=StopReason.REEMPLOYED, on=date(Y, 5, 18), source="employment-registry", reference="JY-1"
        ),
    )
    result = await h.result()
    assert result.status == PeriodStatus.CLOSED and result.close_reason == "reemployed"
    assert result.months_paid == 5 and result.unused_months == 7
    s = await period_state(h)
    assert [m.status for m in s.schedule] == ["paid"] * 5 + ["stopped"] * 7
    assert s.stops[0].effective_from == YM(Y, 6) and not s.stops[0].overpaid_months
    assert len(s.premiums) == 5  # premiums stop with the benefit
    await assert_paid_exactly_once(period_env, sim, inp.case_id, [YM(Y, 1) + i for i in range(5)])

    # The read model keeps the unused months where a later claim reads them (carry-over, A3).
    row = await read_model(period_env, inp.case_id)
    assert row.status == "closed" and row.closed_at is not None and row.summary["unused_months"] == 7
    assert row.summary["stops"][0]["effective_from"] == f"{Y}-06"
    claim_side = ClaimActivities(
        period_env.settings, period_env.db, GovClients.from_settings(period_env.settings)
    )
    assert await claim_side.unused_months(inp.applicant_key) == 7
    msgs = await sim_messages(sim, inp.case_id, wait_for="period_stopped")
    stopped = [m for m in msgs if m["template"] == "period_stopped"]
    assert (
        len(stopped) == 1
        and f"{Y}年06月起停止发放" in stopped[0]["text_zh"]
        and "7个月" in stopped[0]["text_zh"]
    )


async def test_death_reported_late_stops_flags_overpayment_and_opens_survivors_task(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=12)
    h = await start_period(period_env, inp)
    await sleep_until(period_env, datetime(Y, 4, 20, 12, 0, tzinfo=TZ))
    assert len(await orders(period_env, inp.case_id)) == 4
    # A reviewer records the death on 2027-02-25, learnt only now: March and April were overpaid.
    receipt = await h.execute_update(
        BenefitPeriodWorkflow.stop_by_staff,
        StaffStopCommand(actor=REVIEWER, reason=StopReason.DEATH, on=date(Y, 2, 25), note="民政部门通报"),
    )
    assert f"{Y}年03月起停止发放" in receipt.message_zh
    result = await h.result()
    assert result.close_reason == "death" and result.months_paid == 4
    s = await period_state(h)
    assert s.stops[0].overpaid_months == [YM(Y, 3), YM(Y, 4)] and s.stops[0].by_staff
    msgs = await sim_messages(sim, inp.case_id, wait_for="survivors_grant")
    templates = [m["template"] for m in msgs]
    assert "survivors_grant" in templates and "overpayment_recovery" in templates
    assert "period_stopped" not in templates  # no message to the deceased's phone
    assert any("丧葬补助金和抚恤金" in m["text_zh"] for m in msgs if m["template"] == "survivors_grant")


async def test_suspension_holds_payment_and_moves_the_months_on(period_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=6)
    h = await start_period(period_env, inp)
    await sleep_until(period_env, datetime(Y, 2, 20, 12, 0, tzinfo=TZ))
    assert len(await orders(period_env, inp.case_id)) == 2
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            BenefitPeriodWorkflow.suspend_by_staff, StaffSuspendCommand(actor=CLERK, reason_zh="核查")
        )
    assert "暂停发放" in str(err.value.cause)
    # A risk verification opens (Signal from the risk check) and closes in May.
    await h.signal(
        BenefitPeriodWorkflow.suspend,
        SuspendEvent(ref="risk-7", reason_zh="领金资格风险核查", source="risk-check", on=date(Y, 2, 20)),
    )
    s = await wait_period(h, PeriodStatus.SUSPENDED)
    await sleep_until(period_env, datetime(Y, 5, 5, 12, 0, tzinfo=TZ))
    s = await period_state(h)
    assert s.months_paid == 2 and s.status == PeriodStatus.SUSPENDED  # nothing paid while held
    await h.signal(BenefitPeriodWorkflow.resume, ResumeEvent(ref="risk-7", on=date(Y, 5, 5)))
    result = await h.result()
    assert result.months_paid == 6 and result.unused_months == 0  # no month lost
    s = await period_state(h)
    assert [p.pay_month for p in s.payments] == [YM(Y, m) for m in (1, 2, 5, 6, 7, 8)]
    assert [p.month_index for p in s.payments] == [1, 2, 3, 4, 5, 6]
    assert [m.moved_from for m in s.schedule[2:]] == [YM(Y, m) for m in (3, 4, 5, 6)]
    assert s.suspensions[0].months_moved == 2 and s.suspensions[0].lifted_on == date(Y, 5, 5)
    assert s.payments[2].batch_id == f"payday-150102-{Y}0510"  # on the pay day, not at once
    await assert_paid_exactly_once(period_env, sim, inp.case_id, [p.pay_month for p in s.payments])


# --- premiums (notice item 4) -----------------------------------------------------------------------


async def test_flexible_worker_premium_failure_recorded_and_explained(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url,
        sim.token,
        scenario="flexible_medical",
        registered=True,
        medical_status="flexible_worker",
    )
    inp = period_input(period_env.settings, person, first=YM(2026, 6), months=3)
    h = await start_period(period_env, inp)
    result = await h.result()  # three overdue months, paid at once
    assert result.months_paid == 3 and result.status == PeriodStatus.CLOSED
    s = await period_state(h)
    assert [(p.month, p.status, p.reason_code) for p in s.premiums] == [
        (YM(2026, m), "failed", "already_insured_flexible") for m in (6, 7, 8)
    ]
    assert all("灵活就业" in (p.reason_zh or "") for p in s.premiums)
    async with period_env.db.session() as sess:
        rows = (
            await sess.exec(
                select(PremiumMonth)
                .where(PremiumMonth.applicant_key == inp.applicant_key)
                .order_by(col(PremiumMonth.month))
            )
        ).all()
    assert [(r.month, r.status, r.reason_code, r.total) for r in rows] == [
        (m, "failed", "already_insured_flexible", Decimal("0")) for m in ("2026-06", "2026-07", "2026-08")
    ]
    # Told once, in Chinese, with the reason and the refund path.
    msgs = await sim_messages(sim, inp.case_id, wait_for="premium_failed")
    told = [m for m in msgs if m["template"] == "premium_failed"]
    assert len(told) == 1 and m_has(told[0], "灵活就业人员", "申请返还", "2026年06月")
    row = await read_model(period_env, inp.case_id)
    assert [f["month"] for f in row.summary["premiums_failed"]] == ["2026-06", "2026-07", "2026-08"]
    await assert_paid_exactly_once(period_env, sim, inp.case_id, [YM(2026, m) for m in (6, 7, 8)])


def m_has(message: dict[str, Any], *parts: str) -> bool:
    return all(p in message["text_zh"] for p in parts)


# --- older workers (notice item 3; domain.md C6, C7) ------------------------------------------------


async def test_transitional_rule_pays_to_the_pre_reform_retirement_month_on_application(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    # What the rule says for this man (domain.md C7): R_old 2026-03, R_new 2026-07, expiry 2025-05.
    nr = near_retirement(
        RetirementCategory.MALE, YM(1966, 3), YM(2025, 5), True, params_of(period_env.settings)
    )
    assert nr.outcome is NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
    assert nr.pay_through == YM(2026, 3) and nr.requires_application
    assert (nr.pension_support_from, nr.pension_support_through) == (YM(2025, 8), YM(2026, 3))

    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, sex="male", birth_date=MALE_1966_03
    )
    inp = period_input(period_env.settings, person, first=YM(2024, 6), months=12, receiving=True)
    assert inp.category is RetirementCategory.MALE and inp.birth_month == YM(1966, 3)
    h = await start_period(period_env, inp)
    await period_env.env.sleep(timedelta(days=2))  # today's run pays the 12 overdue months
    s = await wait_period(h, PeriodStatus.AWAITING_APPLICATION)
    assert s.months_paid == 12 and s.near_retirement is not None
    assert s.near_retirement.outcome is NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
    offer = [m for m in await sim_messages(sim, inp.case_id, wait_for="transitional_offer")]
    assert any(m["template"] == "transitional_offer" and m_has(m, "2026年03月", "申请") for m in offer)
    with pytest.raises(WorkflowUpdateFailedError):  # a clerk of another region cannot take it
        await h.execute_update(
            BenefitPeriodWorkflow.apply_transitional,
            TransitionalApplication(
                by="clerk.dh", actor=OTHER_REGION_REVIEWER.model_copy(update={"roles": CLERK.roles})
            ),
        )
    await h.execute_update(BenefitPeriodWorkflow.apply_transitional, TransitionalApplication(by="applicant"))
    with pytest.raises(WorkflowUpdateFailedError):  # once only
        await h.execute_update(
            BenefitPeriodWorkflow.apply_transitional, TransitionalApplication(by="applicant")
        )
    result = await h.result()

    assert result.extension is NearRetirementOutcome.TRANSITIONAL_TO_ORIGINAL_RETIREMENT
    assert result.months_paid == 22 and result.close_reason == "expired"
    s = await period_state(h)
    months = [p.pay_month for p in s.payments]
    assert months == [YM(2024, 6) + i for i in range(22)] and months[-1] == YM(2026, 3)  # no further 续发
    assert [p.month_index for p in s.payments] == list(range(1, 23))
    assert [s.schedule[i].basis for i in (11, 12, 21)] == ["ordinary", "transitional", "transitional"]
    assert_amounts_follow_policy(period_env, s.payments)
    assert s.payments[0].amount == Decimal("1782.00")  # 2024-06: 1980 × 90% (before 2024-08-01)
    assert s.payments[12].amount == Decimal("1929.50")  # 2025-06: 2270 × 85%
    assert "pension_support.informed" in [e.what for e in s.timeline]
    await assert_paid_exactly_once(period_env, sim, inp.case_id, months)


async def test_ordinary_continuation_to_retirement_needs_no_application(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, sex="male", birth_date=MALE_1966_03
    )
    # Expiry 2025-08 is 11 months before the post-reform retirement month 2026-07 (domain.md C7).
    inp = period_input(period_env.settings, person, first=YM(2024, 9), months=12)
    h = await start_period(period_env, inp)
    result = await h.result()
    assert result.extension is NearRetirementOutcome.CONTINUE_TO_RETIREMENT
    s = await period_state(h)
    assert [p.pay_month for p in s.payments] == [YM(2024, 9) + i for i in range(23)]
    assert s.payments[-1].pay_month == YM(2026, 7) and s.schedule[12].basis == "continuation"
    assert s.near_retirement is not None and s.near_retirement.receiving_on_2024_12_31  # derived
    assert_amounts_follow_policy(period_env, s.payments)
    templates = [m["template"] for m in await sim_messages(sim, inp.case_id, wait_for="period_expired")]
    assert (
        "continuation" in templates
        and "pension_support" in templates
        and "transitional_offer" not in templates
    )


# --- the bank refuses the account --------------------------------------------------------------------


async def test_refused_account_pauses_payment_until_a_new_one_then_pays_once(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="closed_account", registered=True)
    inp = period_input(period_env.settings, person, first=YM(2026, 8), months=3)
    h = await start_period(period_env, inp)
    await period_env.env.sleep(timedelta(days=2))  # today's run refuses it; the period reads that
    s = await wait_period(h, PeriodStatus.AWAITING_ACCOUNT)
    assert s.months_paid == 0 and s.rejected_account_version == 1
    assert {o.status for o in await orders(period_env, inp.case_id)} == {"rejected"}
    msgs = await sim_messages(sim, inp.case_id, wait_for="account_change_needed")
    assert any(m["template"] == "account_rejected" and m_has(m, "变更收款账户") for m in msgs)
    await assert_sent_to_district_staff(
        period_env.db,
        [m["recipient"] for m in msgs if m["template"] == "account_change_needed"],
        role="intake_clerk",
        region="150102",
        includes="clerk.xc",
    )
    row = await read_model(period_env, inp.case_id)
    assert row.status == "awaiting_account" and row.overdue

    # The person opens a new account; the clerk of their district enters it.
    new_no = new_account_number()
    sim.state.pop.accounts[new_no] = person["id_number"]
    sim.state.pop.persons[person["id_number"]].account_status = "active"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(
            BenefitPeriodWorkflow.change_account,
            AccountChangeCommand(
                actor=CLERK.model_copy(update={"region_code": "150202"}), account_no=new_no, note="本人申请"
            ),
        )
    assert "无权" in str(err.value.cause)
    await h.execute_update(
        BenefitPeriodWorkflow.change_account,
        AccountChangeCommand(actor=CLERK, account_no=new_no, note="原账户已销户，本人申请变更"),
    )
    result = await h.result()
    assert result.months_paid == 3
    ledger = await bank_ledger(sim)
    mine = [e for e in ledger["entries"] if e["idempotency_key"].startswith(f"benefit:{inp.case_id}:")]
    assert {e["account_no"] for e in mine} == {new_no}
    await assert_paid_exactly_once(period_env, sim, inp.case_id, [YM(2026, m) for m in (8, 9, 10)])
    s = await period_state(h)
    assert s.account_masked == "****" + new_no[-4:] and new_no not in str(s.model_dump())


# --- the hand-off from the claim -----------------------------------------------------------------------


async def test_approved_claim_starts_its_benefit_period(period_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, cumulative_months=30
    )
    inp = claim_input(period_env.settings, person)
    claim = await period_env.env.client.start_workflow(
        BenefitClaimWorkflow.run,
        inp,
        id=inp.case_id,
        task_queue=period_env.task_queue,
        execution_timeout=timedelta(days=400),
    )
    for _ in polls():
        cs = await claim.query(BenefitClaimWorkflow.state_query)
        if cs.status == ClaimStatus.UNDER_REVIEW:
            break
        await period_env.env.sleep(timedelta(seconds=1))
    await claim.execute_update(BenefitClaimWorkflow.approve, ApproveCommand(actor=REVIEWER))
    result = await claim.result()
    assert result.status == ClaimStatus.APPROVED and result.entitlement is not None
    period_id = period_id_for(inp.case_id)
    assert (
        period_id == "period-" + inp.case_id.removeprefix("claim-") and person["id_number"] not in period_id
    )
    started = [
        e
        for e in (await claim.query(BenefitClaimWorkflow.state_query)).timeline
        if e.what == "benefit_period.started"
    ]
    assert len(started) == 1 and started[0].evidence["period_id"] == period_id
    period = period_env.env.client.get_workflow_handle_for(BenefitPeriodWorkflow.run, period_id)
    desc = await period.describe()
    assert desc.parent_id is None or desc.parent_id == inp.case_id
    s = await period_state(period)  # still running after the claim completed (ABANDON)
    assert s.claim_case_id == inp.case_id and s.status != PeriodStatus.CLOSED
    assert [m.pay_month for m in s.schedule] == [m.pay_month for m in result.entitlement.schedule]
    await period.terminate("test done")
