"""Daily Temporal Schedules (the archiver's, the risk scan's): one place for the shape they share.

Why: each runs once a day at a Beijing-time hour, one run at a time, with a run missed while the
cluster was down caught up once; registering is idempotent (create, or update the existing one),
so ``uiflow dev`` and the CLI can register on every start."""

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


async def upsert_daily_schedule(
    client: Client, schedule_id: str, action: ScheduleActionStartWorkflow, hour: int, minute: int
) -> bool:
    """Create the schedule, or update it if it exists; True when created."""
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
