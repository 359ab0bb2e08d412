"""The skill-upgrade subsidy's daily anomaly run (notice item 6), registered on the shared daily
schedule shape of ``core/schedules.py`` (the archiver and the risk scan use the same one)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, ScheduleActionStartWorkflow

from core.schedules import upsert_daily_schedule


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
