"""The scheduled risk scan's Temporal Schedule (issue 16), registered by ``uiflow dev`` as the
archiver's is: daily in the small hours, one run at a time, a missed run caught up once."""

from __future__ import annotations

from datetime import timedelta

from core.settings import Settings
from core.temporal_client import connect_client

RISK_SCAN_HOUR = 3
RISK_SCAN_MINUTE = 15


async def schedule_risk_scan(
    settings: Settings, hour: int = RISK_SCAN_HOUR, minute: int = RISK_SCAN_MINUTE
) -> bool:
    """Create or update the schedule; True when created."""
    from temporalio.client import (
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

    from models.verification import RiskScanInput
    from workflows.risk_scan import SCHEDULE_ID, WORKFLOW_ID, RiskScanWorkflow

    client = await connect_client(settings)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RiskScanWorkflow.run,
            RiskScanInput(),
            id=WORKFLOW_ID,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])],
            time_zone_name="Asia/Shanghai",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def _update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(_update)
        return False
