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
    calendar = ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])
    return await _upsert(client, schedule_id, action, calendar, timedelta(days=1))


async def upsert_yearly_schedule(
    client: Client,
    schedule_id: str,
    action: ScheduleActionStartWorkflow,
    *,
    month: int,
    day: int,
    hour: int,
) -> bool:
    """Once a year on ``month``/``day`` at ``hour`` (Beijing time), a run missed while the cluster
    was down caught up within a week; True when created."""
    calendar = ScheduleCalendarSpec(
        month=[ScheduleRange(month)],
        day_of_month=[ScheduleRange(day)],
        hour=[ScheduleRange(hour)],
        minute=[ScheduleRange(0)],
    )
    return await _upsert(client, schedule_id, action, calendar, timedelta(days=7))


async def _upsert(
    client: Client,
    schedule_id: str,
    action: ScheduleActionStartWorkflow,
    calendar: ScheduleCalendarSpec,
    catchup: timedelta,
) -> bool:
    schedule = Schedule(
        action=action,
        spec=ScheduleSpec(calendars=[calendar], time_zone_name="Asia/Shanghai"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def _update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(_update)
        return False
