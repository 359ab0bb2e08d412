"""The daily anomaly run over a simulator population of its own (the seeded burst-issuing body is
in it): the burst and an out-of-region certificate are raised, the clean majority raises nothing,
a second run raises nothing new, and the appraisal's response closes each alert."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from cli.schedules import schedule_skill_alerts
from core.db import Database
from core.settings import Settings
from models.enums import Role
from models.skill_subsidy import AlertScanInput, AlertStatus, AppraisalResponse, ReferAlert, SubsidyStatus
from models.staff import StaffActor
from models.tables import CaseRecord
from sim.catalogue import BURST_ISSUER
from sim.testing import running_sim
from tests.conftest import case_env
from tests.factories import (
    sim_certificate,
    sim_person,
    start_subsidy,
    store_documents,
    subsidy_application,
    wait_subsidy,
)
from workflows.skill_alerts import SCHEDULE_ID, SkillAlertScanWorkflow, SkillAlertWorkflow

SUPERVISOR = StaffActor(login="supervisor.hhht", name="周主管", roles=[Role.SUPERVISOR], region_code="150100")
INSPECTOR = StaffActor(
    login="inspector.nmg", name="吴稽核", roles=[Role.RISK_INSPECTOR], region_code="150000"
)


async def test_alert_run_over_the_population(wf_settings: Settings, sqlite_db: Database) -> None:
    async with running_sim(seed=2026, population=1000) as sim:
        settings = wf_settings.model_copy(update={"sim_base_url": sim.base_url, "sim_token": sim.token})
        async with case_env(settings, sqlite_db) as ce:
            cases = {}
            for name, extra in (("clean", {}), ("away", {"issuer_region": "130102"})):
                person = await sim_person(sim.base_url, sim.token, cumulative_months=60)
                cert = await sim_certificate(sim, person, **extra)
                [fit] = await store_documents(ce.db, "job_fit_statement")
                h = await start_subsidy(ce, subsidy_application(person, cert, fit=fit))
                await wait_subsidy(h, SubsidyStatus.UNDER_REVIEW)
                cases[name] = h.id

            async def scan(n: int):  # type: ignore[no-untyped-def]
                return await ce.env.client.execute_workflow(
                    SkillAlertScanWorkflow.run,
                    AlertScanInput(),
                    id=f"scan-{n}-{cases['clean'][-6:]}",
                    task_queue=ce.task_queue,
                    execution_timeout=timedelta(minutes=5),
                )

            first = await scan(1)
            states = [
                await ce.env.client.get_workflow_handle(cid).query(SkillAlertWorkflow.state_query)
                for cid in first.raised
            ]
            bursts = [s for s in states if s.alert.kind == "issuer_burst"]
            away = [s for s in states if s.alert.kind == "out_of_region"]
            assert [s.alert.figures["issuer"] for s in bursts] == [BURST_ISSUER]
            assert int(bursts[0].alert.figures["count"]) >= 5 and "倍" in bursts[0].alert.text_zh
            mine = [s for s in away if s.alert.case_ids[0] in cases.values()]
            assert [s.alert.case_ids for s in mine] == [[cases["away"]]]
            assert "130102" in mine[0].alert.text_zh

            again = await scan(2)
            assert again.raised == [] and again.already == len(first.raised)

            # Referred, then the appraisal confirms the out-of-region one and clears the burst.
            h = ce.env.client.get_workflow_handle_for(SkillAlertWorkflow.run, mine[0].case_id)
            await h.execute_update(SkillAlertWorkflow.refer_alert, ReferAlert(actor=INSPECTOR))
            receipt = await h.execute_update(
                SkillAlertWorkflow.appraisal_response,
                AppraisalResponse(actor=INSPECTOR, outcome="confirmed", note="证书系异地机构违规代考取得"),
            )
            assert receipt.status == AlertStatus.RECOVERY
            async with ce.db.session() as s:
                row = await s.get(CaseRecord, cases["away"])
                assert row is not None and row.stage == "recovery"
                clean = await s.get(CaseRecord, cases["clean"])
                assert clean is not None and clean.stage != "recovery"
            b = ce.env.client.get_workflow_handle_for(SkillAlertWorkflow.run, bursts[0].case_id)
            await b.execute_update(SkillAlertWorkflow.refer_alert, ReferAlert(actor=INSPECTOR))
            done = await b.execute_update(
                SkillAlertWorkflow.appraisal_response,
                AppraisalResponse(actor=INSPECTOR, outcome="cleared", note="经核查为正常集中考核"),
            )
            assert done.status == AlertStatus.CLOSED


async def test_the_daily_alert_schedule_is_registered_once(local_env: WorkflowEnvironment) -> None:
    """What ``uiflow dev`` does on every start: create the schedule, then update it (never twice)."""
    client = local_env.client
    assert await schedule_skill_alerts(client, "alerts-q", hour=6) is True
    assert await schedule_skill_alerts(client, "alerts-q", hour=7) is False
    handle = client.get_schedule_handle(SCHEDULE_ID)
    try:
        desc = await handle.describe()
        assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
        assert [r.start for r in desc.schedule.spec.calendars[0].hour] == [7]
    finally:
        await handle.delete()
