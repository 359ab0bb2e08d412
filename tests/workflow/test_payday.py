"""The region's pay day on the time-skipping server with the real activities against the
simulators (bank batches, notifier batches over HTTP) and the case database: the periods write
their schedule rows and are not on the pay day's path; the pay-day runs pay them in chunks; a stop
before the cut-off wins, one that lands while the chunk is at the bank opens a recovery task for
exactly that month. The interleavings are made deterministic with a bank client that hands control
to the test at the moment the batch would leave."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import select
from temporalio.api.enums.v1 import EventType

import activities.payday as payday_activities
from activities.gov import ExternalUnavailable, GovClients
from activities.gov.bank import BankClient, BatchResult
from activities.payday import actual_pay_date
from core.timeline import build_timeline, ledger_rows, with_ledger
from models.benefit import PeriodStatus, StaffStopCommand, StopReason
from models.case import local_date
from models.payday import PaydayResult, payday_id
from models.rules import YearMonth
from models.tables import PaydayRun, PaymentOrder, PaymentRecovery, PaymentSchedule
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR
from tests.factories import REVIEWER, CaseEnv, sim_person
from tests.waiting import polls
from tests.workflow.conftest import (
    bank_ledger,
    ledger_for,
    period_input,
    period_state,
    sleep_until,
    start_period,
)
from workers.main import build_worker
from workflows.base import initial_search_attributes
from workflows.benefit_period import BenefitPeriodWorkflow

TZ = ZoneInfo("Asia/Shanghai")
Y = FUTURE_YEAR  # a year still ahead of the test clock, laid out like 2027 (tests/clock.py)
YM = YearMonth


async def rows(ce: CaseEnv, table: Any, **where: Any) -> list[Any]:
    async with ce.db.session() as s:
        q = select(table)
        for k, v in where.items():
            q = q.where(getattr(table, k) == v)
        return list((await s.exec(q)).all())


async def test_three_months_paid_by_the_region_runs_without_the_period_on_the_path(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=3)
    h = await start_period(period_env, inp)
    result = await h.result()
    assert result.status == PeriodStatus.CLOSED and result.close_reason == "expired"
    assert result.months_paid == 3
    s = await period_state(h)
    # Y-02-10 falls in the (synthetic) 春节 break: February's run is on the 15th.
    assert [p.batch_id for p in s.payments] == [
        payday_id("150102", d) for d in (date(Y, 1, 11), date(Y, 2, 15), date(Y, 3, 10))
    ]
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {
        f"benefit:{inp.case_id}:{YM(Y, 1) + i}": 1 for i in range(3)
    }
    orders = await rows(period_env, PaymentOrder, case_id=inp.case_id)
    assert sorted(o.period for o in orders) == [f"{Y}-01", f"{Y}-02", f"{Y}-03"]
    assert {o.status for o in orders} == {"paid"} and all(o.bank_batch for o in orders)
    # Not on the path: the period ran no payment activity; it wrote its schedule and read the ledger.
    acts = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        async for e in h.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "pay_chunk" not in acts and acts.count("sync_schedule") == 1
    assert not [
        e
        async for e in h.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
    ]
    # The pay-day run's history: chunk numbers, counts, bank references; no personal data.
    run = period_env.env.client.get_workflow_handle(
        payday_id("150102", date(Y, 2, 15)), result_type=PaydayResult
    )
    res = await run.result()
    assert res.totals.paid >= 1 and res.report.mismatches == 0
    history = await run.fetch_history()
    assert person["id_number"] not in history.to_json() and person["account_no"] not in history.to_json()
    report = await rows(period_env, PaydayRun, payday_id=payday_id("150102", date(Y, 2, 15)))
    assert report[0].status == "reconciled" and report[0].report["mismatches"] == 0
    # The person's timeline shows every payment: the ledger next to the period's history.
    async with period_env.db.session() as session:
        events = with_ledger(
            await build_timeline([await h.fetch_history()], None), await ledger_rows(session, h.id)
        )
    paid = [e for e in events if e.source == "ledger"]
    assert [e.action for e in paid] == ["payment.paid"] * 3 and all("已发放" in e.text_zh for e in paid)
    assert [e.run_id for e in paid] == [p.batch_id for p in s.payments]
    assert person["account_no"] not in str([e.model_dump() for e in paid])


class HandOverBank(BankClient):
    """The real bank client, which first hands control to the test when a batch is about to leave:
    the test puts its stop in exactly there (no timing, no sleeps)."""

    hook: Callable[[], Awaitable[None]] | None = None

    async def disburse_batch(self, batch_ref: str, items: list[dict[str, object]]) -> BatchResult:
        hook, HandOverBank.hook = HandOverBank.hook, None
        if hook is not None:
            await hook()
        return await super().disburse_batch(batch_ref, items)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in polls():
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def row_state(ce: CaseEnv, case_id: str, month: YearMonth) -> PaymentSchedule | None:
    found = await rows(ce, PaymentSchedule, case_id=case_id, pay_month=str(month))
    return found[0] if found else None


async def test_a_stop_committed_one_second_before_the_cut_off_is_not_paid(
    period_env: CaseEnv, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(period_env.settings, person, first=YM(Y, 1), months=2)
    h = await start_period(period_env, inp)
    feb_cutoff = datetime(Y, 2, 15, 9, 0, tzinfo=TZ)  # Y-02-10 is in the 春节 break
    await sleep_until(period_env, feb_cutoff - timedelta(seconds=1))
    await h.execute_update(
        BenefitPeriodWorkflow.stop_by_staff,
        StaffStopCommand(
            actor=REVIEWER, reason=StopReason.REEMPLOYED, on=date(Y, 1, 20), note="就业登记核实"
        ),
    )

    async def committed() -> bool:
        r = await row_state(period_env, inp.case_id, YM(Y, 2))
        return r is not None and r.state == "stopped"

    await until(committed, "the stop's schedule write")
    assert await period_env.env.get_current_time() < feb_cutoff
    result = await h.result()
    assert result.close_reason == "reemployed" and result.months_paid == 1
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {f"benefit:{inp.case_id}:{Y}-01": 1}
    assert [o.period for o in await rows(period_env, PaymentOrder, case_id=inp.case_id)] == [f"{Y}-01"]
    run = period_env.env.client.get_workflow_handle(
        payday_id("150102", date(Y, 2, 15)), result_type=PaydayResult
    )
    assert (await run.result()).totals.count == 0  # nothing of this case was even claimed
    assert not await rows(period_env, PaymentRecovery, case_id=inp.case_id)


async def test_a_stop_landing_while_the_chunk_is_at_the_bank_opens_a_recovery_task_for_that_month(
    period_env: CaseEnv, sim: SimHandle, period_settings: Any
) -> None:
    ce = period_env
    queue = f"handover-{uuid.uuid4().hex[:8]}"
    gov = dataclasses.replace(GovClients.from_settings(period_settings))
    gov = dataclasses.replace(gov, bank=HandOverBank(gov.bank.config))
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    today = local_date(await ce.env.get_current_time())
    month = YM.of(today) - 2  # overdue: paid by today's run at once
    inp = period_input(ce.settings, person, first=month, months=1)
    handle: list[Any] = []

    async def stop_at_the_bank() -> None:
        await handle[0].execute_update(
            BenefitPeriodWorkflow.stop_by_staff,
            StaffStopCommand(
                actor=REVIEWER, reason=StopReason.PENSION, on=month.first_day(), note="养老待遇核实"
            ),
        )

        async def flagged() -> bool:
            r = await row_state(ce, inp.case_id, month)
            return r is not None and r.state == "sending" and r.stop_requested

        await until(flagged, "the stop reaching the row at the bank")

    HandOverBank.hook = stop_at_the_bank
    async with build_worker(ce.env.client, period_settings, ce.db, task_queue=queue, gov=gov):
        h = await ce.env.client.start_workflow(
            BenefitPeriodWorkflow.run,
            inp,
            id=inp.case_id,
            task_queue=queue,
            search_attributes=initial_search_attributes("benefit_period", inp.region_code, "active"),
        )
        handle.append(h)
        result = await h.result()
        run = ce.env.client.get_workflow_handle(
            payday_id("150102", actual_pay_date(ce.settings, today)), result_type=PaydayResult
        )
        report = (await run.result()).report
    assert HandOverBank.hook is None  # the stop went in at the bank
    assert result.close_reason == "pension"
    # The bank paid it once; exactly that month is to be recovered, and the supervisors are told.
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {f"benefit:{inp.case_id}:{month}": 1}
    rec = await rows(ce, PaymentRecovery, case_id=inp.case_id)
    assert [(r.pay_month, r.reason, r.status) for r in rec] == [(str(month), "stopped_at_bank", "open")]
    assert report.recoveries >= 1 and report.mismatches == 0
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        msgs = (await c.get("/admin/notifier/messages", params={"case_ref": inp.case_id})).json()["messages"]
    assert any(m["template"] == "overpayment_recovery" and str(month) in m["text_zh"] for m in msgs)


class FlakyLookupBank(BankClient):
    """The real bank client, whose every second lookup is lost (a bank that times out calls): with
    the lookups in slices of one, some slice of every pass fails."""

    calls = 0

    async def lookup(self, keys: list[str]) -> Any:
        FlakyLookupBank.calls += 1
        if FlakyLookupBank.calls % 2 == 0:
            raise ExternalUnavailable("bank", "timed out (test)")
        return await super().lookup(keys)


async def test_the_reconciliation_finishes_while_the_bank_loses_some_lookups(
    period_env: CaseEnv, sim: SimHandle, period_settings: Any, monkeypatch: Any
) -> None:
    """Each slice of lookups is asked again by itself. Before, one lost lookup failed the whole
    reconciliation, which started again from the first slice; at 100,000 keys (100 slices) and a
    bank timing out 5% of calls it never finished (the 100,000 fault run)."""
    ce = period_env
    monkeypatch.setattr(payday_activities, "LOOKUP_SLICE", 1)
    FlakyLookupBank.calls = 0
    queue = f"flaky-{uuid.uuid4().hex[:8]}"
    gov = GovClients.from_settings(period_settings)
    gov = dataclasses.replace(gov, bank=FlakyLookupBank(gov.bank.config))
    today = local_date(await ce.env.get_current_time())
    month = YM.of(today) - 2  # overdue: paid by today's run at once
    inputs = [
        period_input(
            ce.settings,
            await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True),
            first=month,
            months=1,
        )
        for _ in range(3)
    ]
    async with build_worker(ce.env.client, period_settings, ce.db, task_queue=queue, gov=gov):
        periods = [
            await ce.env.client.start_workflow(
                BenefitPeriodWorkflow.run,
                inp,
                id=inp.case_id,
                task_queue=queue,
                search_attributes=initial_search_attributes("benefit_period", inp.region_code, "active"),
            )
            for inp in inputs
        ]
        for h in periods:
            assert (await h.result()).months_paid == 1
        run = ce.env.client.get_workflow_handle(
            payday_id("150102", actual_pay_date(ce.settings, today)), result_type=PaydayResult
        )
        report = (await run.result()).report
    assert report.paid >= 3 and report.mismatches == 0
    assert FlakyLookupBank.calls >= 2 * report.items - 1  # every slice but the first was lost once
    attempts = [
        e.activity_task_started_event_attributes.attempt
        async for e in run.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert attempts and max(attempts) == 1  # no activity of the run had to start again
