"""The benefit period's staff operations on the review kit (issue 14 item 1, issue 21 item 1), on
the time-skipping server with the real activities, on SQLite and PostgreSQL: every refusal is a
``period.<reason>`` code with a Chinese message and leaves no trace in history; the bank's
holder-name check refuses an account in another name; a transfer moves the one period to the new
district, whose pay-day runs pay its remaining months; a clerk takes the transitional application
at the counter with a reason, and the person is told."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.benefit import (
    AccountChangeCommand,
    ContinuationApplication,
    PeriodStatus,
    StaffResumeCommand,
    StaffStopCommand,
    StaffSuspendCommand,
    StopReason,
    TransferCommand,
    TransitionalApplication,
)
from models.rules import YearMonth
from models.tables import CaseRecord, PaymentSchedule
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.factories import (
    CLERK,
    OTHER_REGION_REVIEWER,
    REVIEWER,
    CaseEnv,
    assert_untouched,
    sim_person,
)
from tests.factories import settled_history_length as settled
from tests.workflow.conftest import (
    period_input,
    period_state,
    sim_messages,
    sleep_until,
    start_period,
    wait_period,
)
from workflows.benefit_period import BenefitPeriodWorkflow

TZ = ZoneInfo("Asia/Shanghai")
Y = FUTURE_YEAR
YM = YearMonth


async def refused_with(h: WorkflowHandle[Any, Any], update: Any, arg: Any) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await h.execute_update(update, arg)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


async def test_refusals_are_period_codes_and_a_transfer_moves_the_one_period(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=4)
    h = await start_period(period_env, inp)
    await sleep_until(period_env, datetime(Y, 3, 20, 12, 0, tzinfo=TZ))
    await wait_period(h, PeriodStatus.ACTIVE)
    own = REVIEWER.model_copy(update={"applicant_key": inp.applicant_key})
    stop = StaffStopCommand(actor=REVIEWER, reason=StopReason.REEMPLOYED, on=date(Y, 3, 2), note="核实")
    W = BenefitPeriodWorkflow
    before = await settled(h)
    cases: list[tuple[Any, Any, str]] = [
        (W.stop_by_staff, stop.model_copy(update={"actor": CLERK}), "period.role"),
        (W.stop_by_staff, stop.model_copy(update={"actor": OTHER_REGION_REVIEWER}), "period.region"),
        (W.stop_by_staff, stop.model_copy(update={"actor": own}), "period.own_case"),
        (W.stop_by_staff, stop.model_copy(update={"note": "  "}), "period.reason_required"),
        (W.stop_by_staff, stop.model_copy(update={"on": date(Y, 4, 1)}), "period.invalid"),
        (W.suspend_by_staff, StaffSuspendCommand(actor=REVIEWER, reason_zh="  "), "period.reason_required"),
        (W.resume_by_staff, StaffResumeCommand(actor=REVIEWER, note="恢复"), "period.stage"),
        (
            W.change_account,
            AccountChangeCommand(actor=CLERK, account_no=person["account_no"], note="本人申请"),
            "period.invalid",
        ),
        (
            W.apply_transitional,
            TransitionalApplication(by=CLERK.login, actor=CLERK, note="申请"),
            "period.stage",
        ),
        (W.apply_continuation, ContinuationApplication(actor=CLERK, note=""), "period.reason_required"),
        (W.transfer_region, TransferCommand(actor=CLERK, to_region="150202", note="迁居"), "period.role"),
        (
            W.transfer_region,
            TransferCommand(actor=REVIEWER, to_region="150200", note="迁居"),
            "period.invalid",
        ),
        (
            W.transfer_region,
            TransferCommand(actor=REVIEWER, to_region="150102", note="迁居"),
            "period.invalid",
        ),
        (
            W.transfer_region,
            TransferCommand(actor=REVIEWER, to_region="159999", note="迁居"),
            "period.invalid",
        ),
    ]
    for update, arg, code in cases:
        cause = await refused_with(h, update, arg)
        assert cause.type == code, (code, cause.type, cause.message)
        assert cause.message and not any(c.isascii() and c.isalpha() for c in cause.message), cause.message
    await assert_untouched(h, before)

    # The person moves to 包头 东河区 after March's payment: April is paid there.
    receipt = await h.execute_update(
        W.transfer_region,
        TransferCommand(actor=REVIEWER, to_region="150202", note="本人户籍迁至包头市东河区"),
    )
    assert "东河区" in receipt.message_zh
    async with period_env.db.session() as s:
        rows = (await s.exec(select(PaymentSchedule).where(PaymentSchedule.case_id == inp.case_id))).all()
        periods = (
            await s.exec(
                select(CaseRecord).where(
                    CaseRecord.applicant_key == inp.applicant_key, CaseRecord.case_type == "benefit_period"
                )
            )
        ).all()
    assert {r.pay_month: r.region_code for r in rows if r.state == "scheduled"} == {f"{Y}-04": "150202"}
    assert [(p.case_id, p.region_code) for p in periods] == [(inp.case_id, "150202")]
    # Staff of the old district no longer act on it; the new district's do.
    cause = await refused_with(h, W.suspend_by_staff, StaffSuspendCommand(actor=REVIEWER, reason_zh="核查"))
    assert cause.type == "period.region"
    result = await h.result()
    assert result.months_paid == 4 and result.close_reason == "expired"
    s = await period_state(h)
    assert s.region_code == "150202" and [t.to_region for t in s.transfers] == ["150202"]
    assert s.payments[-1].pay_month == YM(Y, 4) and (s.payments[-1].batch_id or "").startswith(
        "payday-150202-"
    )
    assert "period.transferred" in [e.what for e in s.timeline]
    msgs = await sim_messages(sim, inp.case_id, wait_for="period_transferred")
    assert any("东河区" in m["text_zh"] for m in msgs if m["template"] == "period_transferred")


async def test_account_in_another_name_is_refused_by_the_bank_check(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=6)
    h = await start_period(period_env, inp)
    await sleep_until(period_env, datetime(Y, 2, 20, 12, 0, tzinfo=TZ))
    other = sorted(n for n, who in sim.state.pop.accounts.items() if who != person["id_number"])[0]
    cause = await refused_with(
        h,
        BenefitPeriodWorkflow.change_account,
        AccountChangeCommand(actor=CLERK, account_no=other, note="本人申请变更"),
    )
    assert cause.type == "period.invalid" and "户名" in cause.message and "本人名下" in cause.message
    s = await period_state(h)
    assert s.account_version == 1 and "account.check_failed" in [e.what for e in s.timeline]
    assert other not in str(s.model_dump())  # only the mask is recorded
    await h.execute_update(
        BenefitPeriodWorkflow.stop_by_staff,
        StaffStopCommand(
            actor=REVIEWER, reason=StopReason.EMIGRATED, on=date(Y, 2, 18), note="出入境管理部门通报"
        ),
    )
    cause = await refused_with(
        h,
        BenefitPeriodWorkflow.stop_by_staff,
        StaffStopCommand(actor=REVIEWER, reason=StopReason.DEATH, on=date(Y, 2, 19), note="重复登记"),
    )
    assert cause.type in ("period.stage", "case.decided")
    result = await h.result()
    assert result.close_reason == "emigrated"


async def test_clerk_takes_the_transitional_application_with_a_reason_and_the_person_is_told(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(
        sim.base_url, sim.token, scenario="eligible", registered=True, sex="male", birth_date="1966-03-12"
    )
    inp = period_input(period_env.settings, person, first=YM(2024, 6), months=12, receiving=True)
    h = await start_period(period_env, inp)
    await period_env.env.sleep(timedelta(days=2))
    await wait_period(h, PeriodStatus.AWAITING_APPLICATION)
    W = BenefitPeriodWorkflow
    cause = await refused_with(h, W.apply_transitional, TransitionalApplication(by=CLERK.login, actor=CLERK))
    assert cause.type == "period.reason_required"
    cause = await refused_with(
        h, W.apply_continuation, ContinuationApplication(actor=CLERK, note="本人申请续发")
    )
    assert cause.type == "period.stage"  # the transitional rule: no further 续发
    receipt = await h.execute_update(
        W.apply_transitional,
        TransitionalApplication(by=CLERK.login, actor=CLERK, note="本人到窗口申请过渡期发放"),
    )
    assert "2026年03月" in receipt.message_zh
    result = await h.result()
    assert result.months_paid == 22
    msgs = await sim_messages(sim, inp.case_id, wait_for="transitional_accepted")
    assert any("2026年03月" in m["text_zh"] for m in msgs if m["template"] == "transitional_accepted")
