"""Daily Temporal Schedules (the history archiver, the subsidy anomaly alerts): created, or updated
when they exist, so ``uiflow dev`` and the operator commands can register them on every start."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)


async def upsert_daily(
    client: Client, schedule_id: str, action: ScheduleActionStartWorkflow, hour: int, minute: int
) -> bool:
    """Run ``action`` every day at ``hour:minute`` Asia/Shanghai, one run at a time, a run missed
    while the cluster was down caught up once. True when created, False when updated."""
    schedule = Schedule(
        action=action,
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])],
            time_zone_name="Asia/Shanghai",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def _update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(_update)
        return False


async def schedule_skill_alerts(client: Client, task_queue: str, hour: int = 6, minute: int = 0) -> bool:
    """The daily anomaly run of the skill-upgrade subsidy (notice item 6)."""
    from models.skill_subsidy import AlertScanInput
    from workflows.skill_alerts import SCHEDULE_ID, WORKFLOW_ID, SkillAlertScanWorkflow

    action = ScheduleActionStartWorkflow(
        SkillAlertScanWorkflow.run,
        AlertScanInput(),
        id=WORKFLOW_ID,
        task_queue=task_queue,
        execution_timeout=timedelta(hours=2),
    )
    return await upsert_daily(client, SCHEDULE_ID, action, hour, minute)
