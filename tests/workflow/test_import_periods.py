"""``uiflow import periods`` (issue 14): the whole file is checked before anything starts, every
bad row is named with its line and reason; a clean file starts one period per person from the
month after the legacy system's last payment, with the history it brings; a second run starts
nothing new. On the time-skipping server with the real activities (the 1,000-row run is by hand:
docs/import.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlmodel import col, select

from core.db import Database
from core.parameters import parameters_in_force
from core.period_import import check_conflicts, plan_import, start_periods
from core.settings import Settings
from models.benefit import PeriodState, PeriodStatus
from models.case import BUSINESS_TZ
from models.rules import NearRetirementOutcome, YearMonth
from models.tables import PeriodImport
from tests.conftest import case_env
from tests.factories import CaseEnv
from tests.import_file import generate
from workflows.benefit_period import BenefitPeriodWorkflow

N, BAD = 40, 20


@pytest_asyncio.fixture
async def import_env(wf_settings: Settings, sqlite_db: Database) -> AsyncIterator[CaseEnv]:
    async with case_env(wf_settings, sqlite_db) as ce:
        yield ce


async def _imported(db: Database, keys: list[str]) -> list[PeriodImport]:
    async with db.session() as s:
        return list(
            (await s.exec(select(PeriodImport).where(col(PeriodImport.applicant_key).in_(keys)))).all()
        )


async def test_bad_rows_are_all_named_and_nothing_starts_then_the_fixed_file_starts_once(
    import_env: CaseEnv,
) -> None:
    ce = import_env
    today = (await ce.env.get_current_time()).astimezone(BUSINESS_TZ).date()
    params = parameters_in_force(ce.settings.params_dir)
    text, fixed, bad_lines = generate(N, BAD, today, seed=int(today.strftime("%j")) + 101)

    plan = plan_import(text.encode(), settings=ce.settings, params=params, today=today)
    assert [e.line for e in plan.errors] == bad_lines and len(bad_lines) == BAD
    assert all(e.reason_zh for e in plan.errors)
    clean = plan_import(fixed.encode(), settings=ce.settings, params=params, today=today)
    keys = [inp.applicant_key for _, inp in clean.periods]
    assert not clean.errors and len(keys) == N
    assert not await _imported(ce.db, keys)  # the faulty file started nothing

    await check_conflicts(ce.db, clean)
    assert not clean.errors
    first = await start_periods(ce.env.client, ce.db, ce.settings, clean, by="ops.nmg")
    assert (first.started, first.already) == (N, 0)
    assert len(await _imported(ce.db, keys)) == N

    again = plan_import(fixed.encode(), settings=ce.settings, params=params, today=today)
    await check_conflicts(ce.db, again)  # their own imported periods are no conflict
    assert not again.errors
    second = await start_periods(ce.env.client, ce.db, ce.settings, again, by="ops.nmg")
    assert (second.started, second.already) == (0, N)

    # A 续发 recipient (row 0: receiving on 2024-12-31, on continuation to 2027-05): the period
    # starts at this month with the legacy months recorded and the extension not assessed again.
    _, inp = clean.periods[0]
    assert inp.imported is not None and inp.imported.continuation == "continuation"
    h = ce.env.client.get_workflow_handle(inp.case_id)
    s: PeriodState = await h.query(BenefitPeriodWorkflow.state_query, result_type=PeriodState)
    this_month = YearMonth(today.year, today.month)
    assert s.schedule[0].pay_month == this_month and s.schedule[0].month_index == inp.imported.months_paid + 1
    assert {m.basis for m in s.schedule} == {"continuation"} and s.schedule[-1].pay_month == YearMonth(
        2027, 5
    )
    assert s.near_retirement is not None
    assert s.near_retirement.outcome is NearRetirementOutcome.CONTINUE_TO_RETIREMENT
    assert s.status == PeriodStatus.ACTIVE
    assert "period.imported" in [e.what for e in s.timeline]
    assert inp.person.id_number not in inp.case_id
