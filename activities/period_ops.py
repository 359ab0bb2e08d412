"""Activities behind the benefit period's staff operations (issue 14 item 1): the bank's
holder-name check of a new account, and the move of a transferred period's schedule to its new
district's pay day.

Why here and not in ``activities.payday``: these run only when staff act on one period; the pay
day's set-based path (docs/payments.md §0) stays as it is, and reads the rows these write."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import GovClients
from activities.gov.base import ExternalRefused
from activities.payday import actual_pay_date, start_payday
from core.db import Database
from core.settings import Settings
from models.benefit import AccountHolderCheck, AccountHolderResult, MoveScheduleRequest
from models.tables import Payee, PaymentSchedule

log = logging.getLogger("uiflow.activities.period_ops")

# Rows a transfer moves: not yet taken by a pay-day run (claimed, sending and paid rows belong to
# the run that has them; stopped rows are never paid).
MOVABLE = ("scheduled", "held", "rejected")


class PeriodOpsActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    @activity.defn
    async def verify_account_holder(self, req: AccountHolderCheck) -> AccountHolderResult:
        """The bank's answer on (account, holder name). A refusal of the request itself (a
        malformed number) is a mismatch too, with the bank's reason; an outage is retried."""
        try:
            res = await self.gov.bank.verify_holder(req.account_no, req.name)
        except ExternalRefused as e:
            return AccountHolderResult(match=False, code=e.code, message_zh=e.message_zh)
        return AccountHolderResult(match=res.match, code=res.code, message_zh=res.message)

    @activity.defn
    async def move_schedule_region(self, req: MoveScheduleRequest) -> int:
        """Give the period's open rows and its payee row to ``to_region``, in one transaction with
        the rows locked (as the pay-day run takes them), and wake that region's pay day for the
        earliest month now due there. Idempotent: a retry finds the rows already moved."""
        if len(req.to_region) != 6:
            raise ApplicationError("bad region code", type="period.invalid", non_retryable=True)
        now = datetime.now(UTC)
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(PaymentSchedule)
                    .where(
                        PaymentSchedule.case_id == req.case_id,
                        col(PaymentSchedule.state).in_(MOVABLE),
                    )
                    .with_for_update()
                )
            ).all()
            moved = [r for r in rows if r.region_code != req.to_region]
            for r in moved:
                r.region_code, r.updated_at = req.to_region, now
                s.add(r)
            payee = await s.get(Payee, req.case_id)
            if payee is not None and payee.region_code != req.to_region:
                payee.region_code = req.to_region
                s.add(payee)
            await s.commit()
            due = [r.due_date for r in rows if r.state == "scheduled"]
        if due:
            await start_payday(
                self.settings,
                req.to_region,
                actual_pay_date(self.settings, min(due)),
                task_queue=activity.info().task_queue,
            )
        return len(moved)


ACTIVITY_CLASSES = [PeriodOpsActivities]
