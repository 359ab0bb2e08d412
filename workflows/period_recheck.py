"""The re-check before a region's pay day (issue 14 item 2; 经办条例 Art. 26: the agency verifies
continuing eligibility by data matching): every person due on the pay day is asked about at the
systems that learn of a stop condition (contributions, pension, civil affairs, cross-province),
in chunks, so a period that should stop does not pay.

Why a child workflow of the pay-day run, started just before its first cut-off, rather than a
Schedule: the check must finish *before* the cut-off of the same run, for exactly the rows that
run will take, and a Schedule would race it (and need its own clock per region and pay day). As a
child it adds one command to ``PayDayWorkflow`` (behind ``workflow.patched``) and keeps its own
history: chunk counts and case ids, never personal data. The effects are in the activity
(``activities/period_events.py``): stops are written to the rows at once, and a system that does
not answer holds its people's months instead of paying them."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.period_events import PeriodEventActivities
    from models.period_events import RecheckChunkRequest, RecheckInput, RecheckResult
    from workflows.base import RETRY, timeout_for

RECHECK_PREFIX = "recheck-"


@workflow.defn
class PeriodRecheckWorkflow:
    @workflow.run
    async def run(self, inp: RecheckInput) -> RecheckResult:
        out = RecheckResult(payday_id=inp.payday_id)
        after: str | None = None
        while True:
            r = await workflow.execute_activity_method(
                PeriodEventActivities.recheck_chunk,
                RecheckChunkRequest(
                    payday_id=inp.payday_id,
                    region_code=inp.region_code,
                    pay_date=inp.pay_date,
                    after=after,
                    chunk_size=inp.chunk_size,
                ),
                start_to_close_timeout=timeout_for(PeriodEventActivities.recheck_chunk),
                retry_policy=RETRY,
            )
            if r.last is None:
                return out
            out.chunks += 1
            out.checked += r.checked
            out.stopped += r.stopped
            out.held += r.held
            out.released += r.released
            after = r.last


WORKFLOWS = [PeriodRecheckWorkflow]
