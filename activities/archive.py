"""The archiver's activity: export closed cases' histories into the history archive.

One activity does the listing and the export, because the work is I/O only and idempotent: a
retried attempt skips what an earlier attempt archived. It heartbeats after every run, so a worker
that dies mid-way is noticed within the heartbeat timeout instead of the whole start-to-close."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from temporalio import activity

from activities.gov import GovClients
from core.archive import ArchiveSummary, archive_case, archive_closed
from core.db import Database
from core.settings import Settings


class ArchiveRequest(BaseModel):
    """Which closed runs to export: those closed in ``[since, until)`` (visibility), or the named
    cases (no visibility needed)."""

    since: datetime | None = None
    until: datetime | None = None
    case_ids: list[str] = Field(default_factory=list)
    limit: int = Field(default=500, ge=1)


class ArchiveActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    @activity.defn
    async def archive_closed_cases(self, req: ArchiveRequest) -> ArchiveSummary:
        client = activity.client()
        done = 0

        def _beat(workflow_id: str, run_id: str) -> None:
            nonlocal done
            done += 1
            activity.heartbeat(done)

        if req.case_ids:
            total = ArchiveSummary()
            for case_id in req.case_ids:
                try:
                    one = await archive_case(client, self.db, case_id, on_run=_beat)
                except Exception as e:  # e.g. no such case: report it, archive the others
                    total.failed.append(f"{case_id}: {type(e).__name__}")
                    continue
                total.archived += one.archived
                total.already += one.already
                total.failed.extend(one.failed)
            return total
        return await archive_closed(
            client, self.db, since=req.since, until=req.until, limit=req.limit, on_run=_beat
        )


ACTIVITY_CLASSES = [ArchiveActivities]
