"""A premium refund is paid once although the worker dies inside the payment (issue 15): a real
``uiflow worker`` process on the real dev server, PostgreSQL, the simulated bank over HTTP.

The refund is approved; the payment activity writes its order and the bank books the money, but
the bank withholds its answer (``bank_withhold_answers``), so the activity is in flight after the
bank accepted and before it completed, deterministically. The worker is SIGKILLed there. A new
worker retries the activity when its attempt times out: the order is found, the bank answers the
booked disbursement under the same key, and in the end there is one bank ledger entry, one
payment order and one refund ledger row per person-month.

Every wait is bounded (``asyncio.wait_for`` or a polling limit): a failure fails, it never hangs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest_asyncio
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.applicant import applicant_key
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.case import BUSINESS_TZ
from models.premium_refund import RefundDecisionCommand, RefundStatus, payment_key
from models.rules import YearMonth as YM
from models.tables import PaymentOrder
from policy.refund import last_ended_year
from sim.testing import SimHandle
from tests.factories import REVIEWER, CaseEnv, sim_person
from tests.integration.test_decision_on_acceptance import WorkerProcess, _worker_env
from tests.refund_support import (
    STANDARD,
    bank_payments,
    ledger_rows,
    params_with_standard,
    refund_application,
    seed_failed_months,
    self_paid,
    start_refund,
    wait_refund,
)
from workflows.premium_refund import PremiumRefundWorkflow

T = TypeVar("T")
LIMIT = 240.0  # seconds; a bound only (the retry waits out the killed attempt's 20 s start-to-close limit)


@pytest_asyncio.fixture
async def kill_env(
    local_env: WorkflowEnvironment, wf_settings: Settings, pg_url: str, pg_db: Database, tmp_path: Path
) -> AsyncIterator[tuple[CaseEnv, WorkerProcess]]:
    settings = wf_settings.model_copy(
        update={
            "task_queue": f"refund-kill-{uuid.uuid4().hex[:8]}",
            "database_url": pg_url,
            "params_dir": params_with_standard(tmp_path / "params"),
        }
    )
    worker = WorkerProcess(
        _worker_env(settings, local_env.client.service_client.config.target_host), tmp_path / "worker.log"
    )
    worker.start()
    try:
        yield CaseEnv(env=local_env, task_queue=settings.task_queue, settings=settings, db=pg_db), worker
    finally:
        worker.stop()


async def _until(what: str, probe: Callable[[], Awaitable[T | None]], limit: float = LIMIT) -> T:
    """Poll ``probe`` until it answers something; fail (never hang) after ``limit`` seconds."""

    async def loop() -> T:
        while True:
            got = await probe()
            if got is not None:
                return got
            await asyncio.sleep(0.05)

    try:
        return await asyncio.wait_for(loop(), timeout=limit)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


async def _orders(db: Database, case_id: str) -> list[PaymentOrder]:
    async with db.session() as s:
        return list((await s.exec(select(PaymentOrder).where(PaymentOrder.case_id == case_id))).all())


async def test_refund_paid_once_when_the_worker_is_killed_inside_the_payment(
    kill_env: tuple[CaseEnv, WorkerProcess], sim: SimHandle
) -> None:
    ce, worker = kill_env
    year = last_ended_year(datetime.now(BUSINESS_TZ).date(), parameters_in_force(ce.settings.params_dir))
    months = [YM(year, 11), YM(year, 12)]
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    key = applicant_key(ce.settings, person["id_number"])
    await self_paid(sim, person["id_number"], months[0], "200.00")  # below the standard
    await self_paid(sim, person["id_number"], months[1], "450.00")  # above: the standard
    await seed_failed_months(ce.db, key, months)
    expected = Decimal("200.00") + STANDARD

    h = await start_refund(ce, refund_application(person, "year_end", year=year))
    st = await wait_refund(h, RefundStatus.UNDER_REVIEW, limit=LIMIT)
    assert st.current_round is not None and st.current_round.report is not None
    assert st.current_round.report.assessment is not None
    assert st.current_round.report.assessment.total == expected

    bank_key = payment_key(h.id)
    sim.state.config.bank_withhold_answers = True
    try:
        await asyncio.wait_for(
            h.execute_update(
                PremiumRefundWorkflow.decide_refund, RefundDecisionCommand(actor=REVIEWER, action="approve")
            ),
            timeout=LIMIT,
        )

        async def booked() -> bool | None:
            return True if bank_key in sim.state.disbursements else None

        await _until("the bank to book the refund", booked)
        # In flight: the bank has booked the money, our order is not yet marked paid.
        orders = await _orders(ce.db, h.id)
        assert [(o.idempotency_key, o.status) for o in orders] == [(bank_key, "ordered")]
        worker.kill()
    finally:
        sim.state.config.bank_withhold_answers = False
    assert (await asyncio.wait_for(h.describe(), timeout=30)).status == WorkflowExecutionStatus.RUNNING

    worker.start()
    result = await asyncio.wait_for(h.result(), timeout=LIMIT)
    assert result.status == RefundStatus.PAID and result.amount == expected

    # Exactly once: the bank's ledger, our payment order, the refund ledger per person-month.
    assert await bank_payments(sim, bank_key) == 1
    assert [e.idempotency_key for e in sim.state.ledger if e.idempotency_key == bank_key] == [bank_key]
    orders = await _orders(ce.db, h.id)
    assert len(orders) == 1 and orders[0].status == "paid" and orders[0].amount == expected
    assert orders[0].bank_ref == sim.state.disbursements[bank_key].bank_ref
    assert [(m, a) for m, _, a in await ledger_rows(ce.db, key)] == [
        (str(months[0]), Decimal("200.00")),
        (str(months[1]), STANDARD),
    ]
    # The payment activity was scheduled once and ran a second attempt: the kill landed inside it.
    events = [e async for e in h.fetch_history_events()]
    scheduled = [
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "pay_refund"
    ]
    assert len(scheduled) == 1
    started = [
        e.activity_task_started_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id == scheduled[0]
    ]
    assert [a.attempt for a in started] and started[0].attempt >= 2
    st = await asyncio.wait_for(h.query(PremiumRefundWorkflow.state_query), timeout=60)
    assert st.payment is not None and st.payment.bank_ref == orders[0].bank_ref
