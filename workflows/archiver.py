"""The daily archiver: a Temporal Schedule starts this workflow, whose activity exports the case
histories that closed since the last days into the history archive (``core.archive``).

Why a workflow and not a cron job: the schedule, every run, its retries and its outcome are
visible in Temporal next to the cases themselves, and a run that fails shows as failed there.

Deterministic: the time window comes from ``workflow.now()``; all I/O is in the activity."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.archive import ArchiveActivities, ArchiveRequest

SCHEDULE_ID = "uiflow-archiver"
WORKFLOW_ID = "uiflow-archiver"


class ArchiverInput(BaseModel):
    # Look back further than one day, so a day the archiver did not run is caught up on the next.
    lookback_days: int = Field(default=7, ge=1)
    case_ids: list[str] = Field(default_factory=list)  # archive these cases only (no visibility)
    batch: int = Field(default=500, ge=1)
    max_batches: int = Field(default=200, ge=1)


class ArchiverResult(BaseModel):
    archived: int
    already: int
    batches: int
    failed: list[str] = Field(default_factory=list)


@workflow.defn
class ArchiverWorkflow:
    @workflow.run
    async def run(self, inp: ArchiverInput) -> ArchiverResult:
        until = workflow.now()
        since = until - timedelta(days=inp.lookback_days)
        archived = already = batches = 0
        failed: list[str] = []
        while batches < inp.max_batches:
            batches += 1
            rep = await workflow.execute_activity_method(
                ArchiveActivities.archive_closed_cases,
                ArchiveRequest(since=since, until=until, case_ids=inp.case_ids, limit=inp.batch),
                start_to_close_timeout=timedelta(hours=2),
                heartbeat_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10), maximum_attempts=5),
            )
            archived += rep.archived
            already += rep.already
            failed.extend(rep.failed)
            if not rep.more:
                break
        result = ArchiverResult(archived=archived, already=already, batches=batches, failed=failed)
        if failed:
            # A run that could not be archived must be seen: fail this run of the schedule, with
            # the case ids (no personal data) in the message.
            raise ApplicationError(
                f"{len(failed)} run(s) not archived: " + "; ".join(failed[:20]),
                result.model_dump(mode="json"),
                type="ArchiveIncomplete",
                non_retryable=True,
            )
        return result


WORKFLOWS = [ArchiverWorkflow]
