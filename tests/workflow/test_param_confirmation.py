"""Issue 14: unconfirmed parameters do not pay money silently. With confirmation required (prod
mode's default), months whose amount uses the UNCONFIRMED 2025-12 minimum wage (domain.md B3) wait
on pay day with the reason in the supervisors' report; an operator's confirmation (audited) lets the
next run pay them. The figures are domain.md's (B2: 2156.5 from 2024-12, 2261 from 2025-12)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from decimal import Decimal

import pytest
import pytest_asyncio
from sqlmodel import select

from activities.payday import actual_pay_date, start_payday
from core.db import Database
from core.param_confirmation import confirm
from core.parameters import parameters_in_force
from core.settings import Settings
from models.case import BUSINESS_TZ
from models.payday import payday_id
from models.rules import YearMonth
from models.tables import AuditLog, PaydayRun, PaymentSchedule
from policy.errors import PolicyError
from sim.testing import SimHandle
from tests.conftest import case_env
from tests.factories import CaseEnv, sim_person
from tests.waiting import polls
from tests.workflow.conftest import period_input, start_period

MW = "minimum_wage.category1_monthly"
WAITING = f"{MW}@2025-12-01"


@pytest_asyncio.fixture
async def gated_env(wf_settings: Settings, sqlite_db: Database) -> AsyncIterator[CaseEnv]:
    async with case_env(
        wf_settings.model_copy(update={"params_confirmation_required": True}), sqlite_db
    ) as ce:
        yield ce


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in polls():
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_months_on_an_unconfirmed_minimum_wage_wait_until_an_operator_confirms(
    gated_env: CaseEnv, sim: SimHandle
) -> None:
    ce = gated_env
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    # 2025-11 is on the confirmed 2270 base; 2025-12 and 2026-01 on the unconfirmed 2380 (all past
    # months: due on today's run).
    inp = period_input(ce.settings, person, first=YearMonth(2025, 11), months=3)
    await start_period(ce, inp)
    today = (await ce.env.get_current_time()).astimezone(BUSINESS_TZ).date()
    pid = payday_id(inp.region_code, actual_pay_date(ce.settings, today))

    async def rows() -> dict[str, PaymentSchedule]:
        async with ce.db.session() as s:
            found = (
                await s.exec(select(PaymentSchedule).where(PaymentSchedule.case_id == inp.case_id))
            ).all()
        return {r.pay_month: r for r in found}

    async def reconciled() -> bool:
        async with ce.db.session() as s:
            run = await s.get(PaydayRun, pid)
        r = await rows()
        return (
            run is not None
            and run.status == "reconciled"
            and r.get("2025-11") is not None
            and r["2025-11"].state == "paid"
        )

    await until(reconciled, "the first run paid November")
    r = await rows()
    assert r["2025-11"].amount == Decimal("2156.50")  # domain.md B2
    assert (r["2025-12"].state, r["2026-01"].state) == ("scheduled", "scheduled")  # waiting, not paid
    async with ce.db.session() as s:
        run = await s.get(PaydayRun, pid)
    assert run is not None and run.report["waiting_confirmation"].get(WAITING, 0) >= 2
    assert any(MW in why and "暂缓发放" in why for why in run.report["waiting_reasons_zh"])

    # The operator confirms the value (audited); a value confirmed already is refused.
    params = parameters_in_force(ce.settings.params_dir)
    async with ce.db.session() as s:
        await confirm(s, params, MW, date(2025, 12, 1), by="ops.nmg", source="内政办发〔2025〕文件核实")
        await s.commit()
    async with ce.db.session() as s:
        with pytest.raises(PolicyError):
            await confirm(s, params, MW, date(2025, 12, 1), by="ops.nmg", source="again")
        with pytest.raises(PolicyError):  # a confirmed value needs no confirmation
            await confirm(s, params, MW, date(2024, 12, 1), by="ops.nmg", source="内政办发〔2024〕46号")
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "params.confirmed"))).all()
    assert any(a.actor == "ops.nmg" and a.detail["name"] == MW for a in audit)

    await start_payday(
        ce.settings,
        inp.region_code,
        actual_pay_date(ce.settings, today),
        task_queue=ce.task_queue,
        client=ce.env.client,
    )

    async def paid() -> bool:
        r = await rows()
        return all(r[m].state == "paid" for m in ("2025-12", "2026-01"))

    await until(paid, "the confirmed months paid")
    r = await rows()
    assert r["2025-12"].amount == Decimal("2261.00") and r["2026-01"].amount == Decimal("2261.00")  # B2


def test_dev_and_test_mode_pay_without_confirmation(wf_settings: Settings) -> None:
    assert not wf_settings.confirmation_required
    assert Settings(mode="dev").confirmation_required is False
    assert Settings(mode="dev", params_confirmation_required=True).confirmation_required
