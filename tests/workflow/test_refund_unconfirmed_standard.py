"""A medical premium held because its standard was UNCONFIRMED is paid once an operator confirms
the standard (issue 15, item 3, with issue 14's confirmation): in prod mode's confirmation-required
setting the pay day records the month as held (``params.unconfirmed``), the backfill leaves it
waiting until the confirmation, then pays it once under the key it would have had.

The real benefit period and pay day on a time-skipping server, the real activities, the medical
simulator over HTTP. Every other UNCONFIRMED value the benefit uses is confirmed first, so only the
standard holds anything."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import select

from activities.payments import BASIC_STANDARD
from core.db import Database
from core.param_confirmation import UNCONFIRMED, awaiting, confirm, confirmations
from core.parameters import _load, parameters_in_force
from core.settings import Settings
from models.benefit import premium_key
from models.premium_refund import MissingStandardRequest
from models.rules import YearMonth as YM
from models.tables import PremiumMonth
from policy.errors import PolicyError
from policy.parameters import ParameterSet
from sim.testing import SimHandle
from tests.clock import FUTURE_YEAR as FY
from tests.conftest import case_env, prepared_db
from tests.factories import sim_person
from tests.refund_support import params_with_standard
from tests.workflow.conftest import period_input, start_period
from workflows.premium_refund import MissingStandardWorkflow

SOURCE = "医保局代缴标准文件核实"


async def _premiums(db: Database, case_id: str) -> list[tuple[str, str, str | None]]:
    async with db.session() as s:
        rows = (await s.exec(select(PremiumMonth).where(PremiumMonth.case_id == case_id))).all()
    return sorted((r.month, r.status, r.reason_code) for r in rows)


async def test_premium_held_for_an_unconfirmed_standard_is_paid_once_after_confirmation(
    wf_settings: Settings, settings: Settings, sim: SimHandle, tmp_path: Path
) -> None:
    # Its own case database: the confirmations it records must not reach other tests' runs.
    db = await prepared_db(f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}", settings)
    try:
        await _run(wf_settings, db, sim, tmp_path)
    finally:
        await db.dispose()
        _load.cache_clear()


async def _run(wf_settings: Settings, sqlite_db: Database, sim: SimHandle, tmp_path: Path) -> None:
    settings = wf_settings.model_copy(
        update={"params_dir": params_with_standard(tmp_path / "params"), "params_confirmation_required": True}
    )
    _load.cache_clear()
    params = parameters_in_force(settings.params_dir)
    months = [YM(FY, 11), YM(FY, 12)]
    # The operator has confirmed every other value the benefit uses: only the standard holds.
    async with sqlite_db.session() as s:
        done = await confirmations(s)
        for name in sorted(params.parameters):
            if name == BASIC_STANDARD:
                continue
            for e in {params.entry(name, m.first_day()) for m in months if _in_force(params, name, m)}:
                if awaiting([e], done):
                    await confirm(s, params, name, e.effective_from, by="ops.nmg", source=SOURCE)
        await s.commit()

    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    async with case_env(settings, sqlite_db) as ce:
        inp = period_input(ce.settings, person, first=months[0], months=2)
        period = await start_period(ce, inp)
        await period.result()
        assert await _premiums(ce.db, inp.case_id) == [(str(m), "failed", UNCONFIRMED) for m in months]

        async def backfill(n: int) -> int:
            result = await ce.env.client.execute_workflow(
                MissingStandardWorkflow.run,
                MissingStandardRequest(as_of=YM(FY + 1, 1).first_day()),
                id=f"premium-standard-entered-{inp.case_id}-{n}",
                task_queue=ce.task_queue,
            )
            return result.paid

        assert await backfill(1) == 0  # not confirmed: nothing paid on an unconfirmed figure
        entry = params.entry(BASIC_STANDARD, months[0].first_day())
        async with ce.db.session() as s:
            await confirm(s, params, BASIC_STANDARD, entry.effective_from, by="ops.nmg", source=SOURCE)
            await s.commit()
        assert await backfill(2) == 2
        assert await backfill(3) == 0  # once
        assert [(m, st) for m, st, _ in await _premiums(ce.db, inp.case_id)] == [
            (str(m), "paid") for m in months
        ]
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            held = (await c.get("/admin/medical/premiums", params={"id_number": person["id_number"]})).json()
        paid = sorted(p["idempotency_key"] for p in held["premiums"] if p["status"] == "paid")
        assert paid == sorted(premium_key(inp.case_id, m) for m in months)


def _in_force(params: ParameterSet, name: str, month: YM) -> bool:
    try:
        params.entry(name, month.first_day())
    except PolicyError:
        return False
    return True
