"""The skill-upgrade subsidy's daily anomaly run (notice item 6), registered on the shared daily
schedule shape of ``core/schedules.py`` (the archiver and the risk scan use the same one)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import Client, ScheduleActionStartWorkflow

from core.schedules import upsert_daily_schedule, upsert_yearly_schedule
from models.case import BUSINESS_TZ


async def schedule_skill_alerts(client: Client, task_queue: str, hour: int = 6, minute: int = 0) -> bool:
    """The daily anomaly run of the skill-upgrade subsidy; True when created, False when updated."""
    from models.skill_subsidy import AlertScanInput
    from workflows.skill_alerts import SCHEDULE_ID, WORKFLOW_ID, SkillAlertScanWorkflow

    action = ScheduleActionStartWorkflow(
        SkillAlertScanWorkflow.run,
        AlertScanInput(),
        id=WORKFLOW_ID,
        task_queue=task_queue,
        execution_timeout=timedelta(hours=2),
    )
    return await upsert_daily_schedule(client, SCHEDULE_ID, action, hour, minute)


REFUND_YEAR_END_SCHEDULE = "uiflow-refund-year-end"


async def schedule_refund_year_end(
    client: Client, task_queue: str, params_dir: Path | None = None, hour: int = 8
) -> bool:
    """The premium refund's year-end run (notice item 4): once a year, the day after the
    contribution year ends (``refund.contribution_year_end``, a dated parameter), each run with its
    own workflow id per year (the run names the year that ended). True when created."""
    from core.parameters import parameters_in_force
    from models.premium_refund import YEAR_END_PREFIX, YearEndInput
    from policy.refund import contribution_year_end
    from workflows.premium_refund import PremiumRefundYearEndWorkflow

    today = datetime.now(BUSINESS_TZ).date()
    first = contribution_year_end(today.year, parameters_in_force(params_dir)) + timedelta(days=1)
    action = ScheduleActionStartWorkflow(
        PremiumRefundYearEndWorkflow.run,
        YearEndInput(),
        id=f"{YEAR_END_PREFIX}run",
        task_queue=task_queue,
        execution_timeout=timedelta(hours=6),
    )
    return await upsert_yearly_schedule(
        client, REFUND_YEAR_END_SCHEDULE, action, month=first.month, day=first.day, hour=hour
    )
