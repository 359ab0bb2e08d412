"""The regional payroll batch (发放批次): one workflow per region and pay day, which the region's
benefit periods enrol in and which releases them to pay in paced waves.

Why a batch: 100,000 open periods paying on one business day must not all wake and hit the bank
at one instant. Periods enrol early (right after paying the previous month), so enrolment is
spread over the month; the batch holds the only timer (the release hour), then grants turns: at
most ``wave_size`` every ``wave_interval_seconds`` and never more than ``max_in_flight``
outstanding. A period reports back when it has paid, which frees its slot, so a slow or failing
bank slows the region's payroll down instead of piling retries on it.

The batch decides *when*, never *what*: the amount, the payment order and the disbursement stay in
the period's own history, the legal record of what was paid. A batch that fails or is terminated
costs time, not money: a period that gets no turn pays alone after its grant timeout."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from models import search_attributes as sa
    from models.benefit import (
        PayrollBatchInput,
        PayrollBatchRecord,
        PayrollBatchState,
        PayrollEnrolment,
        PayrollGrant,
        PayrollReport,
    )
    from workflows.base import ACTIVITY_TIMEOUT, RETRY

GRANT_SIGNAL = "payroll_grant"  # BenefitPeriodWorkflow.payroll_grant


@workflow.defn
class PayrollBatchWorkflow:
    @workflow.init
    def __init__(self, inp: PayrollBatchInput) -> None:
        self.cfg = inp.settings
        self.s = inp.carry or PayrollBatchState(
            batch_id=inp.batch_id,
            region_code=inp.region_code,
            pay_date=inp.pay_date,
            release_at=inp.release_at,
        )
        # Tokens waiting or holding a slot: a repeated enrolment (a retried activity) is ignored.
        self._tokens = {e.token for e in self.s.queue} | set(self.s.in_flight)

    @workflow.run
    async def run(self, inp: PayrollBatchInput) -> PayrollBatchState:
        if not self.s.record_id:
            self.s.record_id = f"{self.s.batch_id}:{workflow.info().run_id}"
        if self.s.status == "collecting":
            await self._until_release()
        while True:
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
            self._reclaim()
            free = self.cfg.max_in_flight - len(self.s.in_flight)
            if self.s.queue and free > 0:
                await self._grant_wave(min(free, self.cfg.wave_size))
                if self.s.queue:
                    await workflow.sleep(timedelta(seconds=self.cfg.wave_interval_seconds))
                continue
            if self.s.in_flight:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: (
                            not self.s.in_flight
                            or (bool(self.s.queue) and len(self.s.in_flight) < self.cfg.max_in_flight)
                        ),
                        timeout=self._next_reclaim_in(),
                    )
                continue
            try:
                await workflow.wait_condition(
                    lambda: bool(self.s.queue), timeout=timedelta(seconds=self.cfg.linger_seconds)
                )
                continue
            except TimeoutError:
                pass
            self.s.status = "done"
            self.s.finished_at = workflow.now()
            workflow.upsert_search_attributes([sa.CASE_STATUS.value_set("done")])
            await self._record()
            if self.s.queue:  # a late enrolment arrived while the batch was closing
                self.s.status = "releasing"
                self.s.finished_at = None
                workflow.upsert_search_attributes([sa.CASE_STATUS.value_set("releasing")])
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self.s

    async def _until_release(self) -> None:
        while True:
            wait = self.s.release_at - workflow.now()
            if wait <= timedelta(0):
                break
            try:
                await workflow.wait_condition(
                    lambda: workflow.info().is_continue_as_new_suggested(), timeout=wait
                )
            except TimeoutError:
                break
            await self._continue_as_new()
        self.s.status = "releasing"
        self.s.released_at = workflow.now()
        workflow.upsert_search_attributes([sa.CASE_STATUS.value_set("releasing")])
        await self._record()

    async def _grant_wave(self, n: int) -> None:
        wave, self.s.queue = self.s.queue[:n], self.s.queue[n:]
        now = workflow.now()
        for e in wave:
            self.s.in_flight[e.token] = now
        self.s.granted += len(wave)
        self.s.peak_in_flight = max(self.s.peak_in_flight, len(self.s.in_flight))
        await asyncio.gather(*(self._grant(e) for e in wave))

    async def _grant(self, e: PayrollEnrolment) -> None:
        try:
            await workflow.get_external_workflow_handle(e.period_id).signal(
                GRANT_SIGNAL, PayrollGrant(batch_id=self.s.batch_id, token=e.token)
            )
        except FailureError:
            # The period has closed (stopped, terminated) since it enrolled: nothing to pay.
            self._release(e.token)
            self.s.skipped += 1

    def _release(self, token: str) -> bool:
        self._tokens.discard(token)
        return self.s.in_flight.pop(token, None) is not None

    def _reclaim(self) -> None:
        limit = timedelta(seconds=self.cfg.slot_timeout_seconds)
        now = workflow.now()
        for token, at in list(self.s.in_flight.items()):
            if now - at >= limit:
                self._release(token)
                self.s.reclaimed += 1

    def _next_reclaim_in(self) -> timedelta:
        oldest: datetime = min(self.s.in_flight.values())
        left = oldest + timedelta(seconds=self.cfg.slot_timeout_seconds) - workflow.now()
        return max(left, timedelta(seconds=1))

    async def _record(self) -> None:
        snapshot = self.s.model_copy(update={"queue": [], "in_flight": {}})
        await workflow.execute_activity_method(
            PaymentActivities.record_payroll_batch,
            PayrollBatchRecord(record_id=self.s.record_id, state=snapshot),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.s.run += 1
        workflow.continue_as_new(
            PayrollBatchInput(
                batch_id=self.s.batch_id,
                region_code=self.s.region_code,
                pay_date=self.s.pay_date,
                release_at=self.s.release_at,
                settings=self.cfg,
                carry=self.s,
            )
        )

    # --- signals and query --------------------------------------------------------------------------

    @workflow.signal
    def enrol(self, e: PayrollEnrolment) -> None:
        if e.token in self._tokens:
            return
        self._tokens.add(e.token)
        self.s.queue.append(e)
        self.s.enrolled += 1

    @workflow.signal
    def report(self, r: PayrollReport) -> None:
        """A period has finished its turn. Money is counted even when its slot was already
        reclaimed, so the batch totals match the bank."""
        if self._release(r.token):
            self.s.reported += 1
        if r.outcome == "paid":
            self.s.months_paid += r.months_paid
            self.s.amount_paid += r.amount
        elif r.outcome == "account_rejected":
            self.s.account_rejected += 1

    @workflow.query
    def state_query(self) -> PayrollBatchState:
        return self.s


WORKFLOWS = [PayrollBatchWorkflow]
