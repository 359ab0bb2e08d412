"""Outside events stop a benefit period (issue 14 item 2), on the time-skipping server with the real
activities, PostgreSQL, the simulators over HTTP and the API served over HTTP (the simulated
systems push their signed events to it):

- a re-employment event pushed before the pay day: no month is paid;
- one pushed after two months went out: a recovery task holds exactly those months and amounts
  (domain.md §B figures, not recomputed with the function under test), the person is told, the
  supervisors see it, the audit log has it;
- the re-check before the pay day stops a period whose person draws a pension;
- a system down during the re-check holds the payment (the period suspended, the reason in
  Chinese for supervisors) instead of paying;
- the next re-check, with every system answering, lifts that hold by itself: the held months move
  on and are each paid once."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlmodel import col, select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClients, close_all
from api.app import create_app
from core.db import Database
from core.settings import Settings
from core.temporal_client import make_data_converter
from models import search_attributes as sa
from models.benefit import PeriodStatus
from models.case import BUSINESS_TZ, local_date
from models.rules import YearMonth
from models.tables import AuditLog, CaseRecord, PaymentRecovery, PaymentSchedule, PeriodEvent
from policy.money import format_amount
from sim.testing import SimHandle, serve_app
from tests.conftest import login
from tests.factories import CaseEnv, sim_person
from tests.waiting import WAIT_S
from tests.workflow.conftest import (
    bank_ledger,
    domain_amount,
    ledger_for,
    period_input,
    period_state,
    sim_messages,
    sleep_until,
    start_period,
    wait_period,
)
from workers.main import build_worker

BIN = Path(sys.executable).parent
REGION = "150105"  # 赛罕区: its own pay-day runs, apart from the other tests' districts


@dataclass
class Stack:
    ce: CaseEnv
    api: httpx.AsyncClient  # the app served over HTTP (where the simulators push)
    sim: httpx.AsyncClient  # the simulators' control surface


@pytest_asyncio.fixture
async def stack(period_settings: Settings, pg_db: Database, sim: SimHandle) -> AsyncIterator[Stack]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=make_data_converter(period_settings),
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL},
        )
    )
    queue = f"events-{uuid.uuid4().hex[:8]}"
    settings = period_settings.model_copy(update={"task_queue": queue})
    app = create_app(settings, db=pg_db, temporal=env.client)
    worker = build_worker(
        env.client, settings, pg_db, task_queue=queue, gov=GovClients.from_settings(settings)
    )
    async with (
        worker,
        app.router.lifespan_context(app),
        serve_app(app) as base,
        httpx.AsyncClient(base_url=base) as api,
        httpx.AsyncClient(base_url=sim.base_url + "/admin") as admin,
    ):
        await admin.put("/config", json={"callback_url": f"{base}/api/v1/callbacks/gov"})
        try:
            yield Stack(CaseEnv(env=env, task_queue=queue, settings=settings, db=pg_db), api, admin)
        finally:
            await admin.put("/config", json={"callback_url": ""})
            await admin.delete("/faults")
    await close_all()
    await env.shutdown()


def this_month() -> YearMonth:
    return YearMonth.of(local_date(datetime.now(BUSINESS_TZ)))


async def rows(db: Database, table: Any, case_id: str) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(table).where(table.case_id == case_id))).all())


async def projected(ce: CaseEnv, case_id: str, limit: float = WAIT_S) -> None:
    """Until the period's read model and schedule rows are written (its first turn)."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        async with ce.db.session() as s:
            case = await s.get(CaseRecord, case_id)
            months = (await s.exec(select(PaymentSchedule).where(PaymentSchedule.case_id == case_id))).all()
        if case is not None and months:
            return
        assert asyncio.get_running_loop().time() < deadline, "the period never wrote its read model"
        await asyncio.sleep(0.05)


async def push(
    st: Stack, event: str, person: dict[str, Any], on: date, *, deliver: bool = True
) -> dict[str, Any]:
    r = await st.sim.post(
        f"/person-events/{event}",
        json={"id_number": person["id_number"], "on": on.isoformat(), "deliver": deliver},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_reemployment_pushed_before_the_pay_day_pays_nothing(stack: Stack, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inp = period_input(stack.ce.settings, person, first=this_month() + 1, months=3, region=REGION)
    h = await start_period(stack.ce, inp)
    await projected(stack.ce, inp.case_id)
    today = local_date(datetime.now(BUSINESS_TZ))
    out = await push(stack, "person.reemployed", person, today)
    assert out["callback"]["delivered"] is True and out["callback"]["status"] == 200, out
    # At once, before the period's own turn: its months can no longer be taken by a cut-off.
    assert {r.state for r in await rows(stack.ce.db, PaymentSchedule, inp.case_id)} == {"stopped"}
    result = await h.result()
    assert result.status == PeriodStatus.CLOSED and result.close_reason == "reemployed"
    assert result.months_paid == 0
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {}
    s = await period_state(h)
    assert [x.reference for x in s.stops] == [out["event_id"]] and s.stops[0].source == "contributions"
    assert "重新就业" in next(e.text_zh for e in s.timeline if e.what == "period.stopped")
    # The same event again (the system re-sends it with a new nonce): answered, acts on nothing.
    again = await push(stack, "person.reemployed", person, today)
    assert again["event_id"] == out["event_id"] and again["callback"]["status"] == 200
    events = await rows(stack.ce.db, PeriodEvent, inp.case_id)
    assert [(e.status, e.source, e.system) for e in events] == [("delivered", "push", "contributions")]


async def test_reemployment_after_two_months_paid_opens_a_recovery_of_exactly_those(
    stack: Stack, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    first = this_month() + 1
    inp = period_input(stack.ce.settings, person, first=first, months=3, region=REGION)
    h = await start_period(stack.ce, inp)
    await sleep_until(
        stack.ce,
        datetime(*(first + 1).first_day().timetuple()[:3], 12, tzinfo=BUSINESS_TZ) + timedelta(days=24),
    )
    paid = ledger_for(await bank_ledger(sim), inp.case_id)
    assert sorted(paid) == [f"benefit:{inp.case_id}:{first}", f"benefit:{inp.case_id}:{first + 1}"]
    # The person had started work on the day the period began (the event comes late).
    today = local_date(datetime.now(BUSINESS_TZ))
    out = await push(stack, "person.reemployed", person, today)
    assert out["callback"]["delivered"] is True, out
    result = await h.result()
    assert result.months_paid == 2 and result.close_reason == "reemployed"
    assert len(ledger_for(await bank_ledger(sim), inp.case_id)) == 2  # the third month never went out
    # The published monthly amounts (domain.md §B) for benefit months 1 and 2.
    m1, m2 = domain_amount(1, first, overlay=True), domain_amount(2, first + 1, overlay=True)
    recoveries = sorted(await rows(stack.ce.db, PaymentRecovery, inp.case_id), key=lambda r: r.pay_month)
    assert [(r.pay_month, r.amount, r.status) for r in recoveries] == [
        (str(first), m1, "open"),
        (str(first + 1), m2, "open"),
    ]
    [event] = await rows(stack.ce.db, PeriodEvent, inp.case_id)
    assert event.recovery_months == [str(first), str(first + 1)] and event.recovery_amount == m1 + m2
    assert event.effective_from == str(first)
    # The person is told the months and the amount to repay.
    msgs = await sim_messages(sim, inp.case_id, wait_for="overpayment_recovery")
    [notice] = [m for m in msgs if m["template"] == "overpayment_recovery" and m["channel"] == "sms"]
    assert notice["recipient"] == person["phone"]
    # ... and the supervisors, by the period (its existing notice of months paid after a stop).
    assert any(
        m["recipient"] == "staff:supervisor.hhht" for m in msgs if m["template"] == "overpayment_recovery"
    )
    assert f"共{format_amount(m1 + m2)}元" in notice["text_zh"], notice["text_zh"]
    assert person["id_number"] not in notice["text_zh"]
    # Audited, and visible to the district's supervisors with the months and the amount.
    async with stack.ce.db.session() as s:
        audit = (
            await s.exec(
                select(AuditLog).where(
                    AuditLog.case_id == inp.case_id, AuditLog.action == "period.outside_stop"
                )
            )
        ).all()
    assert len(audit) == 1 and audit[0].actor == "system:contributions"
    sup = await login(stack.api, "supervisor.hhht")
    r = await stack.api.get(f"/api/v1/period-events/{REGION}", headers=sup)
    assert r.status_code == 200, r.text
    [view] = [v for v in r.json() if v["case_id"] == inp.case_id]
    assert Decimal(view["recovery_amount"]) == m1 + m2 and view["status_label"] == "已停发"
    other = await login(stack.api, "reviewer.xc")
    assert (await stack.api.get(f"/api/v1/period-events/{REGION}", headers=other)).status_code == 403


async def test_recheck_before_the_pay_day_stops_a_period_whose_person_draws_a_pension(
    stack: Stack, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    today = local_date(datetime.now(BUSINESS_TZ))
    # The pension record knows; nobody pushed it (the re-check must find it).
    await push(stack, "person.pension_started", person, today, deliver=False)
    inp = period_input(stack.ce.settings, person, first=this_month() + 1, months=2, region=REGION)
    h = await start_period(stack.ce, inp)
    result = await h.result()
    assert result.close_reason == "pension" and result.months_paid == 0
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {}
    [event] = await rows(stack.ce.db, PeriodEvent, inp.case_id)
    assert (event.source, event.system, event.status) == ("recheck", "insurance_record", "delivered")
    assert event.payday_id is not None and event.payday_id.startswith(f"payday-{REGION}-")


async def test_a_system_down_during_the_recheck_holds_the_payment(stack: Stack, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    first = this_month() + 1
    inp = period_input(stack.ce.settings, person, first=first, months=2, region=REGION)
    r = await stack.sim.put("/faults/civil-affairs", json={"error_rate": 1.0})
    assert r.status_code == 200
    h = await start_period(stack.ce, inp)
    await sleep_until(
        stack.ce, datetime(*first.first_day().timetuple()[:3], 12, tzinfo=BUSINESS_TZ) + timedelta(days=24)
    )
    s = await wait_period(h, PeriodStatus.SUSPENDED)
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {}
    states = {r.pay_month: r.state for r in await rows(stack.ce.db, PaymentSchedule, inp.case_id)}
    assert states[str(first)] == "held"
    [event] = await rows(stack.ce.db, PeriodEvent, inp.case_id)
    assert event.status == "held" and "民政" in event.note_zh and "暂缓发放" in event.note_zh
    assert any("民政" in x.reason_zh for x in s.suspensions)
    msgs = await sim_messages(sim, inp.case_id, wait_for="recheck_held")
    assert any(m["recipient"] == "staff:supervisor.hhht" for m in msgs if m["template"] == "recheck_held")
    async with stack.ce.db.session() as session:
        held = (
            await session.exec(
                select(PeriodEvent).where(
                    col(PeriodEvent.case_id) == inp.case_id, PeriodEvent.status == "held"
                )
            )
        ).all()
    assert len(held) == 1
    await h.terminate("test over")


async def test_the_next_recheck_lifts_a_hold_once_every_system_answers(stack: Stack, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    first = this_month() + 1
    inp = period_input(stack.ce.settings, person, first=first, months=2, region=REGION)
    assert (await stack.sim.put("/faults/civil-affairs", json={"error_rate": 1.0})).status_code == 200
    h = await start_period(stack.ce, inp)
    pay_day = datetime(*first.first_day().timetuple()[:3], 12, tzinfo=BUSINESS_TZ) + timedelta(days=24)
    await sleep_until(stack.ce, pay_day)
    await wait_period(h, PeriodStatus.SUSPENDED)
    assert ledger_for(await bank_ledger(sim), inp.case_id) == {}
    # The system answers again; nobody resumes the period by hand.
    assert (await stack.sim.delete("/faults")).status_code in (200, 204)
    nxt = datetime(*(first + 1).first_day().timetuple()[:3], 12, tzinfo=BUSINESS_TZ) + timedelta(days=24)
    await sleep_until(stack.ce, nxt)
    s = await period_state(h)
    assert "period.resumed" in [e.what for e in s.timeline], "the hold was not lifted"
    [event] = await rows(stack.ce.db, PeriodEvent, inp.case_id)
    assert event.status == "released" and "核查已通过" in event.note_zh
    async with stack.ce.db.session() as session:
        entries = (
            await session.exec(
                select(AuditLog).where(
                    AuditLog.case_id == inp.case_id, AuditLog.action == "period.recheck_released"
                )
            )
        ).all()
    assert len(entries) == 1
    # Both months are still paid, each once, after the months moved on.
    last = datetime(*(first + 2).first_day().timetuple()[:3], 12, tzinfo=BUSINESS_TZ) + timedelta(days=24)
    if await stack.ce.env.get_current_time() < last:
        await sleep_until(stack.ce, last)
    result = await asyncio.wait_for(h.result(), 60)
    assert result.months_paid == 2
    paid = ledger_for(await bank_ledger(sim), inp.case_id)
    assert len(paid) == 2 and set(paid.values()) == {1}
