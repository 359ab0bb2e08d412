"""The region's pay day (发放日批量代发): one workflow per region and pay day pays every month due
by it, as banks pay payrolls (docs/payments.md §0).

Why set-based: the old design woke every benefit period on its pay day and had it talk to a batch
workflow, about 2 payments per second. Here the periods are not on the path at all: they have
written their schedule rows; this run takes a consistent cut-off (an activity, so the instant is in
history), then pays the claimed rows in chunks, each one bank batch, ``parallel`` at a time. A
chunk is an activity that heartbeats; a worker killed mid-chunk costs a retry of that chunk,
which the per-item keys make harmless. After the chunks, a new cut-off pass picks up what arrived
meanwhile; then the reconciliation and the notices, and the region's next run is started.

The history holds chunk numbers, counts, totals and bank batch references, never personal data,
and continues-as-new every ``chunks_per_run`` chunks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.payday import PaydayActivities
    from models import search_attributes as sa
    from models.payday import (
        ChunkRequest,
        ChunkResult,
        CutoffRequest,
        PaydayCarry,
        PaydayInput,
        PaydayResult,
        PaydayTotals,
        ReconcileRequest,
    )
    from models.period_events import RecheckInput
    from workflows.base import ACTIVITY_TIMEOUT, RETRY
    from workflows.period_recheck import RECHECK_PREFIX, PeriodRecheckWorkflow

ROWS_ADDED = "rows_added"  # signal-with-start from a schedule write: look again before closing


@workflow.defn
class PayDayWorkflow:
    @workflow.init
    def __init__(self, inp: PaydayInput) -> None:
        self.inp = inp
        self.cfg = inp.settings
        carry = inp.carry
        self.passes = carry.passes if carry else 0
        self.pending: list[int] = list(carry.pending) if carry else []
        self.totals = carry.totals if carry else PaydayTotals()
        self.run_no = carry.run if carry else 1
        self.chunks_this_run = 0
        self.more = False

    @workflow.run
    async def run(self, inp: PaydayInput) -> PaydayResult:
        if inp.carry is None:
            wait = inp.release_at - workflow.now()
            if wait > timedelta(0):
                await workflow.sleep(wait)
            if workflow.patched("period-recheck"):  # ask the outside systems first (issue 14)
                await workflow.execute_child_workflow(
                    PeriodRecheckWorkflow.run,
                    RecheckInput(payday_id=inp.payday_id, region_code=inp.region_code, pay_date=inp.pay_date),
                    id=f"{RECHECK_PREFIX}{inp.payday_id}",
                )
            workflow.upsert_search_attributes([sa.CASE_STATUS.value_set("paying")])
        while True:
            if not self.pending:
                self.more = False
                cut = await workflow.execute_activity_method(
                    PaydayActivities.payday_cutoff,
                    CutoffRequest(
                        payday_id=inp.payday_id,
                        region_code=inp.region_code,
                        pay_date=inp.pay_date,
                        chunk_size=self.cfg.chunk_size,
                        pass_no=self.passes + 1,
                    ),
                    start_to_close_timeout=timedelta(seconds=self.cfg.chunk_timeout_seconds),
                    retry_policy=RETRY,
                )
                self.passes += 1
                self.chunks_this_run += 1  # a pass counts towards the history's growth
                if cut.chunks:
                    self.pending = list(cut.chunks)
                elif self.more:
                    continue
                else:
                    reconcile = ReconcileRequest(
                        payday_id=inp.payday_id,
                        region_code=inp.region_code,
                        pay_date=inp.pay_date,
                        totals=self.totals,
                    )
                    report = await workflow.execute_activity_method(
                        PaydayActivities.payday_reconcile,
                        reconcile,
                        start_to_close_timeout=timedelta(seconds=self.cfg.chunk_timeout_seconds),
                        heartbeat_timeout=timedelta(seconds=self.cfg.heartbeat_seconds),
                        retry_policy=RETRY,
                    )
                    if not self.more:
                        break
                    continue  # rows were written while it reconciled: another pass, then again
            await self._pay_pending()
        await workflow.execute_activity_method(
            PaydayActivities.payday_next,
            reconcile,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        workflow.upsert_search_attributes([sa.CASE_STATUS.value_set("done")])
        return PaydayResult(payday_id=inp.payday_id, passes=self.passes, totals=self.totals, report=report)

    async def _pay_pending(self) -> None:
        """The pass's chunks, ``parallel`` at a time; continue-as-new when the history has grown."""
        while self.pending:
            if (
                self.chunks_this_run >= self.cfg.chunks_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                self._continue_as_new()
            wave = self.pending[: self.cfg.parallel]
            results = await asyncio.gather(*(self._chunk(c) for c in wave))
            for r in results:
                self.totals.add(r)
            self.pending = self.pending[len(wave) :]
            self.chunks_this_run += len(wave)

    async def _chunk(self, chunk: int) -> ChunkResult:
        return await workflow.execute_activity_method(
            PaydayActivities.pay_chunk,
            ChunkRequest(
                payday_id=self.inp.payday_id,
                region_code=self.inp.region_code,
                pay_date=self.inp.pay_date,
                chunk=chunk,
                item_attempts=self.cfg.item_attempts,
            ),
            start_to_close_timeout=timedelta(seconds=self.cfg.chunk_timeout_seconds),
            heartbeat_timeout=timedelta(seconds=self.cfg.heartbeat_seconds),
            retry_policy=RETRY,
        )

    def _continue_as_new(self) -> None:
        workflow.continue_as_new(
            self.inp.model_copy(
                update={
                    "carry": PaydayCarry(
                        passes=self.passes, pending=self.pending, totals=self.totals, run=self.run_no + 1
                    )
                }
            )
        )

    @workflow.signal(name=ROWS_ADDED)
    def rows_added(self) -> None:
        """A period wrote rows due by this pay day: take another cut-off before closing (so a row
        written during the last pass is never left until next month)."""
        self.more = True

    @workflow.query
    def totals_query(self) -> PaydayTotals:
        return self.totals


WORKFLOWS = [PayDayWorkflow]
