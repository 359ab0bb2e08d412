"""A period's months are committed before the region's pay-day run is woken; when the wake fails
(the Temporal server restarting) the activity is retried and the retry must wake the run, although
it finds the rows already as they should be. The drill found 45 approved periods without a first
payment after a dev-server restart: the retry had nothing "new" to wake a run for."""

from __future__ import annotations

import random
import uuid

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.gov import GovClients
from activities.payday import PaydayActivities
from core.db import Database
from core.settings import Settings
from models.payday import ScheduleMonth, SyncScheduleRequest
from models.rules import YearMonth


@pytest.mark.devserver
@pytest.mark.postgres
async def test_a_retried_schedule_sync_wakes_the_pay_day_the_failed_try_could_not(
    local_env: WorkflowEnvironment, pg_db: Database, settings: Settings
) -> None:
    acts = PaydayActivities(settings, pg_db, GovClients.from_settings(settings))
    # A month of a far year: its run's id (region + date) is this test's alone on the shared server.
    month = YearMonth(year=random.randint(2080, 2099), month=random.randint(1, 12))
    req = SyncScheduleRequest(
        case_id=f"period-wake-{uuid.uuid4().hex[:10]}",
        region_code="150102",
        applicant_key=uuid.uuid4().hex[:24],
        pay_day=10,
        months=[ScheduleMonth(month_index=1, pay_month=month, basis="standard", want="scheduled")],
    )
    # Nothing listens there: the server is away.
    down = await Client.connect("127.0.0.1:1", lazy=True, data_converter=local_env.client.data_converter)
    with pytest.raises((RPCError, TemporalError, RuntimeError)):
        await ActivityEnvironment(client=down).run(acts.sync_schedule, req)

    again = await ActivityEnvironment(client=local_env.client).run(acts.sync_schedule, req)
    assert len(again.paydays) == 1, again
    handle = local_env.client.get_workflow_handle(again.paydays[0])
    try:
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        await handle.terminate("test over")
