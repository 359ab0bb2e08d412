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
    from temporalio.client import ScheduleActionStartWorkflow

    from core.schedules import upsert_daily_schedule
    from models.verification import RiskScanInput
    from workflows.risk_scan import SCHEDULE_ID, WORKFLOW_ID, RiskScanWorkflow

    action = ScheduleActionStartWorkflow(
        RiskScanWorkflow.run,
        RiskScanInput(),
        id=WORKFLOW_ID,
        task_queue=settings.task_queue,
        execution_timeout=timedelta(hours=6),
    )
    return await upsert_daily_schedule(await connect_client(settings), SCHEDULE_ID, action, hour, minute)
