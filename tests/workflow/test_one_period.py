"""Issue 12 item 5, the last line: two benefit periods of one person started at once (two claims
approved in two leagues, everything before the database bypassed) make one period that pays; the
other is refused with the Chinese reason before its first month, and pays nothing."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from models.benefit import PeriodStatus
from models.rules import YearMonth
from models.tables import CaseRecord, PaymentOrder
from sim.testing import SimHandle
from tests.support import CaseEnv, sim_person
from tests.workflow.conftest import period_input, start_period


async def test_two_periods_of_one_person_make_one(period_env: CaseEnv, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    inputs = [
        period_input(period_env.settings, person, first=YearMonth(2027, 1), months=3, region=region)
        for region in ("150102", "150202")
    ]
    handles = await asyncio.gather(*(start_period(period_env, i) for i in inputs))
    outcomes = await asyncio.gather(*(h.result() for h in handles), return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    paid = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(failed) == 1 and len(paid) == 1, outcomes
    err = failed[0]
    assert isinstance(err, WorkflowFailureError) and isinstance(err.cause, ActivityError)
    cause = err.cause.cause
    assert isinstance(cause, ApplicationError) and cause.type == "claim.duplicate_benefit"
    assert "同一时间只能享受一份" in cause.message
    assert paid[0].status == PeriodStatus.CLOSED and paid[0].months_paid == 3
    refused = inputs[outcomes.index(failed[0])].case_id
    async with period_env.db.session() as s:
        assert await s.get(CaseRecord, refused) is None
        orders = (await s.exec(select(PaymentOrder).where(col(PaymentOrder.case_id) == refused))).all()
    assert orders == []
