"""The region's pay day on the time-skipping server with the real activities against the
simulators (bank batches, notifier batches over HTTP) and the case database: the periods write
their schedule rows and are not on the pay day's path; the pay-day runs pay them in chunks; a stop
before the cut-off wins, one that lands while the chunk is at the bank opens a recovery task for
exactly that month. The interleavings are made deterministic with a bank client that hands control
to the test at the moment the batch would leave."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import select
from temporalio.api.enums.v1 import EventType

from activities.gov import GovClients
from activities.gov.bank import BankClient, BatchResult
from models.benefit import PeriodStatus, StaffStopCommand, StopReason
from models.case import local_date
from models.payday import PaydayResult, payday_id
from models.rules import YearMonth
from models.tables import PaydayRun, PaymentOrder, PaymentRecovery, PaymentSchedule
from sim.testing import SimHandle
from tests.support import REVIEWER, CaseEnv, sim_person
from tests.workflow.conftest import (
    bank_ledger,
    ledger_for,
    period_input,
    period_state,
    start_period,
)
from workers.main import build_worker
from workflows.benefit_period import BenefitPeriodWorkflow
from workflows.payday import PayDayWorkflow

TZ = ZoneInfo("Asia/Shanghai")
YM = YearMonth


async def sleep_until(ce: CaseEnv, when: datetime) -> None:
    now = await ce.env.get_current_time()
    assert when > now, f"test clock already past {when}"
    await ce.env.sleep(when - now)


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
    inp = period_input(period_env.settings, person, first=YM(2027, 1), months=3)
    h = await start_period(period_env, inp)
    result = await h.result()
    assert result.status == PeriodStatus.CLOSED and result.close_reason == "expired"
    assert result.months_paid == 3
    s = await period_state(h)
    # 2027-02-10 falls in the (synthetic) 春节 break: February's run is on the 15th.
    assert [p.batch_id for p in s.payments] == [
        payday_id("150102", d) for d in (date(2027, 1, 11), date(2027, 2, 15), date(2027, 3, 10))
    ]
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {
        f"benefit:{inp.case_id}:{YM(2027, 1) + i}": 1 for i in range(3)
    }
    orders = await rows(period_env, PaymentOrder, case_id=inp.case_id)
    assert sorted(o.period for o in orders) == ["2027-01", "2027-02", "2027-03"]
    assert {o.status for o in orders} == {"paid"} and all(o.bank_batch for o in orders)
    # Not on the path: the period ran no payment activity; it wrote its schedule and read the ledger.
    acts = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        async for e in h.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "pay_chunk" not in acts and acts.count("sync_schedule") == 1
    assert not [e async for e in h.fetch_history_events() if e.event_type == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]
    # The pay-day run's history: chunk numbers, counts, bank references; no personal data.
    run = period_env.env.client.get_workflow_handle(
        payday_id("150102", date(2027, 2, 15)), result_type=PaydayResult
    )
    res = await run.result()
    assert res.totals.paid >= 1 and res.report.mismatches == 0
    history = await run.fetch_history()
    assert person["id_number"] not in history.to_json() and person["account_no"] not in history.to_json()
    report = await rows(period_env, PaydayRun, payday_id=payday_id("150102", date(2027, 2, 15)))
    assert report[0].status == "reconciled" and report[0].report["mismatches"] == 0
