"""The Temporal dev server reads the same wall clock as the tests.

Why a test: deadlines, pay days and overdue checks compare ``workflow.now()`` (the server's
clock) with dates the tests compute from theirs. Run as of a later date (``scripts/test-as-of``),
Python followed libfaketime but the dev server, a static Go binary reading the clock through the
vDSO, stayed on the real date: 77 days apart, and the failures showed up scattered over the bench,
the drill and the scan. This test names that cause in one place: it fails whenever the two clocks
disagree by more than any load could explain, with or without a fake clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment

#: Far more than a start and a describe take on a loaded machine, far less than any calendar error.
AGREEMENT = timedelta(minutes=15)


async def test_dev_server_clock_is_the_tests_clock(local_env: WorkflowEnvironment) -> None:
    before = datetime.now(UTC)
    # a workflow type no worker polls for: only its start time matters, stamped by the server
    handle = await local_env.client.start_workflow(
        "ClockProbe", id=f"clock-probe-{uuid.uuid4().hex[:8]}", task_queue=f"no-worker-{uuid.uuid4().hex[:8]}"
    )
    try:
        started = (await handle.describe()).start_time
        after = datetime.now(UTC)
    finally:
        await handle.terminate()
    assert before - AGREEMENT <= started <= after + AGREEMENT, (before, started, after)
