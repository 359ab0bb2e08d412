"""Activities of the set-based pay day (docs/payments.md §0).

The period's side writes its schedule rows (``sync_schedule``) and reads its ledger
(``period_ledger``). The pay-day run's side takes the cut-off (``payday_cutoff``), pays a chunk as
one bank batch (``pay_chunk``) and reconciles (``payday_reconcile``).

Exactly-once rests on the same key as before, ``benefit:<case>:<yyyy-mm>``: unique on the order
(bulk ``INSERT … ON CONFLICT DO NOTHING``) and the bank's per-item idempotency key. A stop and a
payment serialise on the schedule row (``FOR UPDATE`` on PostgreSQL): a stop before the cut-off or
before the chunk starts wins; one that lands while the chunk is at the bank is flagged, and if the
bank paid, a recovery task is opened for exactly that month."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Table, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.gov import ExternalRefused, ExternalUnavailable, GovClients
from activities.gov.medical import PremiumItem
from activities.payments import (
    BASIC_STANDARD,
    STANDARD_MISSING,
    SUPPLEMENTARY_STANDARD,
    premium_record,
    standard,
)
from core.db import Database
from core.param_confirmation import (
    UNCONFIRMED,
    Confirmed,
    awaiting,
    benefit_gate,
    confirmations,
    reason_zh,
)
from core.parameters import calendar_in_force, parameters_in_force
from core.sealed import Sealer
from core.settings import Settings
from models import search_attributes as sa
from models.benefit import BENEFIT_ORDER_KIND, PaymentDetails, benefit_order_key, mask_account, premium_key
from models.case import BUSINESS_TZ, local_date
from models.enums import Role
from models.payday import (
    ChunkRequest,
    ChunkResult,
    Cutoff,
    CutoffRequest,
    LedgerPayment,
    PaydayInput,
    PaydayReport,
    PaydaySettings,
    PeriodLedger,
    ReconcileRequest,
    SyncResult,
    SyncScheduleRequest,
    payday_id,
)
from models.period_events import HOLD_SYSTEM, PeriodEventStatus
from models.rules import YearMonth
from models.tables import (
    PaydayRun,
    Payee,
    PaymentOrder,
    PaymentRecovery,
    PaymentSchedule,
    PeriodEvent,
    PremiumMonth,
    Staff,
)
from policy import entitlement
from policy.errors import PolicyError
from policy.regions import ancestors

log = logging.getLogger("uiflow.activities.payday")

FEN = Decimal("0.01")
PAYDAY_WORKFLOW = "PayDayWorkflow"
ROWS_ADDED = "rows_added"  # PayDayWorkflow.rows_added
OPEN = ("scheduled", "claimed", "sending")
LOOKUP_SLICE = 1000
LOOKUP_ATTEMPTS = 8  # per slice of the reconciliation, before the activity itself is retried
RETRYABLE_ITEM = "system.unavailable"


def _chunks(seq: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def nominal_due(pay_month: YearMonth, pay_day: int, today: date) -> date:
    """The region's pay day in the month paid for; a month wholly past is due today."""
    if pay_month.last_day() < today:
        return today
    return date(pay_month.year, pay_month.month, min(pay_day, pay_month.last_day().day))


def actual_pay_date(settings: Settings, nominal: date) -> date:
    """Moved to the next working day by the calendar in force; a year not yet entered keeps the
    nominal day (the run of that day still selects every row due by it)."""
    cal = calendar_in_force(settings.calendar_dir)
    d = nominal
    try:
        for _ in range(40):
            if cal.is_working_day(d):
                return d
            d += timedelta(days=1)
    except PolicyError:
        return nominal
    return d


def release_at(pay_date: date, pay_hour: int) -> datetime:
    return datetime.combine(pay_date, time(pay_hour), BUSINESS_TZ)


def payday_settings(settings: Settings) -> PaydaySettings:
    return PaydaySettings(
        chunk_size=settings.payday_chunk,
        parallel=settings.payday_parallel,
        pay_hour=settings.payday_release_hour,
    )


def insert_ignore(db: Database, table: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on either database."""
    t: Table = table.__table__
    dialect = postgresql if db.dialect == "postgresql" else sqlite
    return dialect.insert(t).on_conflict_do_nothing()


async def start_payday(
    settings: Settings, region: str, pay_date: date, *, task_queue: str, client: Client | None = None
) -> str | None:
    """Signal-with-start the region's run for the day: a running run takes another cut-off before
    it closes; a closed one of the same id is started again and picks up what arrived after it."""
    pid = payday_id(region, pay_date)
    cfg = payday_settings(settings)
    inp = PaydayInput(
        payday_id=pid,
        region_code=region,
        pay_date=pay_date,
        release_at=release_at(pay_date, cfg.pay_hour),
        settings=cfg,
    )
    try:
        await (client or activity.client()).start_workflow(
            PAYDAY_WORKFLOW,
            inp,
            id=pid,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=ROWS_ADDED,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CASE_TYPE, "payday"),
                    SearchAttributePair(sa.REGION_CODE, region),
                    SearchAttributePair(sa.REGION_PATH, [region, *[r.code for r in ancestors(region)]]),
                    SearchAttributePair(sa.CASE_STATUS, "waiting"),
                    SearchAttributePair(sa.OVERDUE, False),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:  # pragma: no cover - signal-with-start does not raise it
        return None
    return pid


class PaydayActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov
        self.sealer = Sealer(settings)

    # --- the period's side --------------------------------------------------------------------------

    @activity.defn
    async def sync_schedule(self, req: SyncScheduleRequest) -> SyncResult:
        """Make the case's schedule rows match the period's schedule, in one transaction with the
        rows locked. Months no longer wanted are removed or stopped, unless a pay-day run has them
        at the bank (flagged: the chunk decides) or paid them (a recovery row: returned, the period
        tells the supervisors)."""
        params = parameters_in_force(self.settings.params_dir)
        now = datetime.now(UTC)
        today = local_date(now)
        want = {str(m.pay_month): m for m in req.months}
        out = SyncResult()
        due_new: set[date] = set()
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(PaymentSchedule).where(PaymentSchedule.case_id == req.case_id).with_for_update()
                )
            ).all()
            have = {r.pay_month: r for r in rows}
            for r in rows:
                m = want.get(r.pay_month)
                w = m.want if m is not None else "gone"
                month = YearMonth.parse(r.pay_month)
                if r.state == "paid":
                    if w != "scheduled":
                        await self._recovery(s, r, "stopped_after_payment", now)
                        out.recovered.append(month)
                    continue
                if r.state == "sending":
                    if w != "scheduled":
                        r.stop_requested, r.updated_at = True, now
                        s.add(r)
                        out.at_bank.append(month)
                    continue
                if r.state == "rejected":
                    if w == "scheduled" and req.reschedule_rejected:
                        r.state, r.due_date, r.updated_at = "scheduled", today, now
                        due_new.add(today)
                        s.add(r)
                    elif w != "scheduled":
                        r.state, r.updated_at = "stopped" if w == "gone" else w, now
                        s.add(r)
                    continue
                if m is None:
                    await s.delete(r)
                    continue
                if r.state == "claimed" and w == "scheduled":
                    continue  # the run that claimed it pays it
                amount = self._amount(m.month_index, month, params)
                due = nominal_due(month, req.pay_day, today)
                if w == "scheduled" and (r.state != "scheduled" or r.due_date != due):
                    due_new.add(due)
                r.state, r.month_index, r.basis, r.amount, r.due_date = w, m.month_index, m.basis, amount, due
                r.payday_id, r.chunk, r.updated_at = None, None, now
                s.add(r)
            for key, m in want.items():
                if key in have:
                    continue
                due = nominal_due(m.pay_month, req.pay_day, today)
                s.add(
                    PaymentSchedule(
                        case_id=req.case_id,
                        region_code=req.region_code,
                        applicant_key=req.applicant_key,
                        pay_month=key,
                        month_index=m.month_index,
                        basis=m.basis,
                        amount=self._amount(m.month_index, m.pay_month, params),
                        due_date=due,
                        state=m.want,
                        order_key=benefit_order_key(req.case_id, m.pay_month),
                        updated_at=now,
                    )
                )
                if m.want == "scheduled":
                    due_new.add(due)
            if req.person is not None:
                await self._seal_payee(s, req, now)
            await s.commit()
            open_rows = (
                await s.exec(
                    select(PaymentSchedule).where(
                        PaymentSchedule.case_id == req.case_id, col(PaymentSchedule.state).in_(OPEN)
                    )
                )
            ).all()
        out.due = {r.pay_month: r.due_date for r in open_rows}
        # Every month still waiting for a run, not only those this call changed: the rows are
        # committed before the run is woken, so a retry after a failed wake (the Temporal server
        # restarting; seen in the drill: 45 periods, no first payment) finds nothing changed and
        # would otherwise never wake it. Waking twice is harmless: a running run takes another
        # cut-off, a closed one picks up what arrived after it.
        waiting = {r.due_date for r in open_rows if r.state == "scheduled" and r.payday_id is None}
        if due_new or waiting:
            # Only the earliest: each run starts the region's next one when it ends.
            pay_date = actual_pay_date(self.settings, min(due_new | waiting))
            started = await start_payday(
                self.settings, req.region_code, pay_date, task_queue=activity.info().task_queue
            )
            out.paydays = [started] if started else []
        return out

    def _amount(self, index: int, month: YearMonth, params: Any) -> Decimal:
        try:
            a = entitlement.benefit_amount(index, month, params)
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        return a.amount.quantize(FEN, rounding=ROUND_HALF_UP)

    async def _seal_payee(self, s: AsyncSession, req: SyncScheduleRequest, now: datetime) -> None:
        assert req.person is not None
        row = await s.get(Payee, req.case_id)
        sealed = self.sealer.seal(req.person.model_dump())
        if row is None:
            row = Payee(
                case_id=req.case_id,
                region_code=req.region_code,
                applicant_key=req.applicant_key,
                sealed=sealed,
                account_masked=mask_account(req.person.account_no),
                updated_at=now,
            )
        else:
            row.sealed, row.account_masked, row.updated_at = sealed, mask_account(req.person.account_no), now
        s.add(row)

    async def _recovery(self, s: AsyncSession, r: PaymentSchedule, reason: str, now: datetime) -> None:
        await s.exec(  # type: ignore[call-overload]
            insert_ignore(self.db, PaymentRecovery).values(
                order_key=r.order_key,
                case_id=r.case_id,
                region_code=r.region_code,
                pay_month=r.pay_month,
                amount=r.amount,
                reason=reason,
                payday_id=r.payday_id,
                status="open",
                created_at=now,
            )
        )

    @activity.defn
    async def period_ledger(self, case_id: str) -> PeriodLedger:
        """What the ledger says about one period: paid months (with the bank's reference), months
        whose account was refused, months still open."""
        async with self.db.session() as s:
            rows = (await s.exec(select(PaymentSchedule).where(PaymentSchedule.case_id == case_id))).all()
            orders = {
                o.idempotency_key: o
                for o in (await s.exec(select(PaymentOrder).where(PaymentOrder.case_id == case_id))).all()
            }
            premiums = (await s.exec(select(PremiumMonth).where(PremiumMonth.case_id == case_id))).all()
        paid, rejected, open_ = [], [], []
        for r in sorted(rows, key=lambda x: x.pay_month):
            month = YearMonth.parse(r.pay_month)
            o = orders.get(r.order_key)
            if r.state == "paid" and o is not None:
                paid.append(
                    LedgerPayment(
                        pay_month=month,
                        month_index=r.month_index,
                        basis=r.basis,
                        amount=o.amount,
                        order_key=o.idempotency_key,
                        bank_ref=o.bank_ref or "",
                        payday_id=o.payday_id,
                        paid_at=o.updated_at,
                    )
                )
            elif r.state == "rejected":
                rejected.append(month)
            elif r.state in OPEN:
                open_.append(month)
        return PeriodLedger(
            paid=paid,
            rejected=rejected,
            open=open_,
            premiums=[
                premium_record(p, YearMonth.parse(p.month)) for p in sorted(premiums, key=lambda x: x.month)
            ],
        )

    # --- the pay-day run's side ---------------------------------------------------------------------

    @activity.defn
    async def payday_cutoff(self, req: CutoffRequest) -> Cutoff:
        """The consistent cut-off: in one transaction, every row of the region due by the pay day
        and still ``scheduled`` is claimed for this run and given its chunk. A stop committed
        before this is not selected. The instant is taken here, so the history records it."""
        now = datetime.now(UTC)
        async with self.db.session() as s:
            found = (
                await s.exec(
                    select(
                        col(PaymentSchedule.id),
                        col(PaymentSchedule.amount),
                        col(PaymentSchedule.month_index),
                        col(PaymentSchedule.pay_month),
                    )
                    .where(
                        PaymentSchedule.region_code == req.region_code,
                        PaymentSchedule.state == "scheduled",
                        col(PaymentSchedule.due_date) <= req.pay_date,
                    )
                    .order_by(col(PaymentSchedule.id))
                    .with_for_update()
                )
            ).all()
            held = await self._awaiting_confirmation(s, found)
            if held:  # they stay scheduled: a later run (after the confirmation) pays them
                found = [r for r in found if r[0] not in held]
            base = (
                await s.exec(
                    select(func.max(PaymentSchedule.chunk)).where(PaymentSchedule.payday_id == req.payday_id)
                )
            ).one()
            first = (base or 0) + 1
            chunks: list[int] = []
            for k, part in enumerate(_chunks(found, req.chunk_size)):
                chunks.append(first + k)
                await s.exec(  # type: ignore[call-overload]
                    update(PaymentSchedule)
                    .where(col(PaymentSchedule.id).in_([r[0] for r in part]))
                    .values(state="claimed", payday_id=req.payday_id, chunk=first + k, updated_at=now)
                )
            run = await _run_row(s, req.payday_id, req.region_code, req.pay_date, now)
            run.first_cutoff_at = run.first_cutoff_at or now
            run.cutoff_at, run.passes, run.status, run.updated_at = now, run.passes + 1, "paying", now
            run.chunks += len(chunks)
            run.items += len(found)
            s.add(run)
            await s.commit()
        return Cutoff(
            cutoff_at=now,
            chunks=chunks,
            count=len(found),
            total=sum((Decimal(r[1]) for r in found), Decimal("0")),
            held_unconfirmed=dict(Counter(held.values())),
        )

    async def _confirmations(self) -> Confirmed:
        async with self.db.session() as s:
            return await confirmations(s)

    async def _awaiting_confirmation(self, s: AsyncSession, rows: Sequence[Any]) -> dict[int, str]:
        """Rows (id, amount, month index, pay month) whose amount uses an UNCONFIRMED parameter value
        no operator has confirmed, with the value they wait for (issue 14). Empty when confirmation
        is not required (dev/test mode, ``core/param_confirmation.py``)."""
        if not self.settings.confirmation_required or not rows:
            return {}
        gate = benefit_gate(parameters_in_force(self.settings.params_dir), await confirmations(s))
        out: dict[int, str] = {}
        for r in rows:
            why = gate(int(r[2]), YearMonth.parse(r[3]))
            if why is not None:
                out[int(r[0])] = why
        return out

    @activity.defn
    async def pay_chunk(self, req: ChunkRequest) -> ChunkResult:
        """One chunk: orders in bulk, one bank batch, results in bulk, only the failed items again,
        then the premiums. Safe to run again after a crash: paid rows are done, rows at the bank
        are sent again under their keys (the bank answers the first result), and rows whose stop
        raced the bank are only looked up, never sent again."""
        res = ChunkResult(chunk=req.chunk)
        rows = await self._take(req, res)
        if not rows:
            return res
        people = await self._payees([r.case_id for r in rows])
        pending = {r.order_key: r for r in rows}
        amounts = await self._order_amounts(list(pending))
        attempt = 0
        while pending:
            attempt += 1
            activity.heartbeat({"chunk": req.chunk, "attempt": attempt, "pending": len(pending)})
            raced = await self._stop_requested(list(pending))
            if raced:
                found = {d.idempotency_key: d for d in await self.gov.bank.lookup(raced)}
                await self._record(
                    req,
                    res,
                    {
                        k: ({"status": "paid", "bank_ref": found[k].bank_ref} if k in found else None)
                        for k in raced
                    },
                    pending,
                    amounts,
                    bank_batch=None,
                )
            send = [k for k in pending if k not in raced]
            if not send:
                continue
            if attempt > 1:
                res.retried += len(send)
            items: list[dict[str, object]] = [
                {
                    "idempotency_key": k,
                    "account_no": people[pending[k].case_id].account_no,
                    "account_name": people[pending[k].case_id].name,
                    "amount": str(amounts[k]),
                    "purpose": f"失业保险金{pending[k].pay_month}",
                    "case_ref": pending[k].case_id,
                }
                for k in send
            ]
            try:
                batch = await self.gov.bank.disburse_batch(f"{req.payday_id}-c{req.chunk}-a{attempt}", items)
            except ExternalUnavailable as e:
                log.info(
                    "payday %s chunk %s: bank batch failed (%s), sending again", req.payday_id, req.chunk, e
                )
                if attempt >= req.item_attempts * 3:
                    raise
                await asyncio.sleep(min(0.5 * 2 ** min(attempt, 5), 10))
                continue
            res.bank_batches.append(batch.bank_batch_ref)
            results: dict[str, dict[str, Any] | None] = {}
            for it in batch.results:
                results[it.idempotency_key] = it.model_dump()
            await self._record(req, res, results, pending, amounts, bank_batch=batch.bank_batch_ref)
            if pending and attempt >= req.item_attempts:
                # Temporal retries the activity; the items still pending are sent again then.
                raise ApplicationError(
                    f"{len(pending)} items of chunk {req.chunk} still failing after {attempt} attempts",
                    type="payday.items_failing",
                )
            if pending:
                await asyncio.sleep(min(0.2 * 2**attempt, 5))
        await self._premiums(req, people)
        return res

    async def _take(self, req: ChunkRequest, res: ChunkResult) -> list[PaymentSchedule]:
        now = datetime.now(UTC)
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(PaymentSchedule)
                    .where(PaymentSchedule.payday_id == req.payday_id, PaymentSchedule.chunk == req.chunk)
                    .order_by(col(PaymentSchedule.id))
                    .with_for_update()
                )
            ).all()
            take = [r for r in rows if r.state in ("claimed", "sending")]
            res.skipped = sum(1 for r in rows if r.state in ("stopped", "held", "scheduled"))
            res.count = len(take)
            if take:
                await s.execute(
                    insert_ignore(self.db, PaymentOrder),
                    [
                        {
                            "idempotency_key": r.order_key,
                            "case_id": r.case_id,
                            "period": r.pay_month,
                            "kind": BENEFIT_ORDER_KIND,
                            "amount": r.amount,
                            "status": "ordered",
                            "payday_id": req.payday_id,
                            "chunk": req.chunk,
                            "attempts": 0,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for r in take
                    ],
                )
                await s.exec(  # type: ignore[call-overload]
                    update(PaymentSchedule)
                    .where(col(PaymentSchedule.id).in_([r.id for r in take if r.state == "claimed"]))
                    .values(state="sending", updated_at=now)
                )
            await s.commit()
        return list(take)

    async def _order_amounts(self, keys: list[str]) -> dict[str, Decimal]:
        """The order's amount stands (a month's amount is decided once)."""
        async with self.db.session() as s:
            found = (
                await s.exec(
                    select(col(PaymentOrder.idempotency_key), col(PaymentOrder.amount)).where(
                        col(PaymentOrder.idempotency_key).in_(keys)
                    )
                )
            ).all()
        return {k: Decimal(a) for k, a in found}

    async def _payees(self, case_ids: list[str]) -> dict[str, PaymentDetails]:
        out = await self._payees_lenient(case_ids)
        missing = set(case_ids) - set(out)
        if missing:
            raise ApplicationError(
                f"{len(missing)} payees missing", type="payday.payee_missing", non_retryable=True
            )
        return out

    async def _stop_requested(self, keys: list[str]) -> list[str]:
        async with self.db.session() as s:
            found = (
                await s.exec(
                    select(PaymentSchedule.order_key).where(
                        col(PaymentSchedule.order_key).in_(keys),
                        col(PaymentSchedule.stop_requested).is_(True),
                    )
                )
            ).all()
        return list(found)

    async def _record(
        self,
        req: ChunkRequest,
        res: ChunkResult,
        results: dict[str, dict[str, Any] | None],
        pending: dict[str, PaymentSchedule],
        amounts: dict[str, Decimal],
        *,
        bank_batch: str | None,
    ) -> None:
        """The bank's per-item answers, in one transaction with the rows locked: a stop that came
        in while the batch was at the bank is seen here (``stop_requested``)."""
        now = datetime.now(UTC)
        async with self.db.session() as s:
            locked = {
                r.order_key: r
                for r in (
                    await s.exec(
                        select(PaymentSchedule)
                        .where(col(PaymentSchedule.order_key).in_(list(results)))
                        .with_for_update()
                    )
                ).all()
            }
            orders = {
                o.idempotency_key: o
                for o in (
                    await s.exec(
                        select(PaymentOrder).where(col(PaymentOrder.idempotency_key).in_(list(results)))
                    )
                ).all()
            }
            for key, it in results.items():
                row, order = locked[key], orders[key]
                order.attempts += 1 if bank_batch else 0
                order.updated_at = now
                if bank_batch:
                    order.bank_batch = bank_batch
                if it is not None and it["status"] == "paid":
                    order.status, order.bank_ref = "paid", it["bank_ref"]
                    row.state = "paid"
                    res.paid += 1
                    res.total_paid += amounts[key]
                    if row.stop_requested:
                        await self._recovery(s, row, "stopped_at_bank", now)
                        res.recoveries += 1
                    pending.pop(key, None)
                elif it is None or row.stop_requested:
                    # A stop raced the bank and the bank did not pay: stopped, never sent again.
                    row.state = "stopped"
                    res.skipped += 1
                    pending.pop(key, None)
                else:
                    order.failure_code = it.get("code") or "bank.failed"
                    res.failed += 1
                    if order.failure_code != RETRYABLE_ITEM:
                        order.status, row.state = "rejected", "rejected"
                        res.rejected += 1
                        pending.pop(key, None)
                row.updated_at = now
                s.add(row)
                s.add(order)
            await s.commit()

    async def _premiums(self, req: ChunkRequest, people: dict[str, PaymentDetails]) -> None:
        """The medical premiums of the chunk's paid months, on the person's behalf, in bulk: one
        write of the rows; the medical system per item (a missing standard is recorded as such
        without a call)."""
        async with self.db.session() as s:
            paid = (
                await s.exec(
                    select(PaymentSchedule).where(
                        PaymentSchedule.payday_id == req.payday_id,
                        PaymentSchedule.chunk == req.chunk,
                        PaymentSchedule.state == "paid",
                    )
                )
            ).all()
            keys = [premium_key(r.case_id, YearMonth.parse(r.pay_month)) for r in paid]
            done = set(
                (
                    await s.exec(
                        select(PremiumMonth.idempotency_key).where(
                            col(PremiumMonth.idempotency_key).in_(keys)
                        )
                    )
                ).all()
            )
        todo = [(k, r) for k, r in zip(keys, paid, strict=True) if k not in done]
        if not todo:
            return
        params = parameters_in_force(self.settings.params_dir)
        sem = asyncio.Semaphore(16)
        confirmed = await self._confirmations() if self.settings.confirmation_required else None

        def unconfirmed(name: str, month: YearMonth) -> bool:
            """A standard marked UNCONFIRMED and not confirmed by an operator (prod mode only)."""
            if confirmed is None or name not in params.parameters:
                return False
            try:
                return bool(awaiting([params.entry(name, month.first_day())], confirmed))
            except PolicyError:
                return False

        async def one(key: str, r: PaymentSchedule) -> dict[str, Any]:
            month = YearMonth.parse(r.pay_month)
            basic = standard(params, BASIC_STANDARD, month)
            supplementary = standard(params, SUPPLEMENTARY_STANDARD, month)
            if supplementary is not None and unconfirmed(SUPPLEMENTARY_STANDARD, month):
                supplementary = None  # recorded as missing: never paid on an unconfirmed figure
            row: dict[str, Any] = {
                "idempotency_key": key,
                "case_id": r.case_id,
                "applicant_key": r.applicant_key,
                "region_code": r.region_code,
                "month": r.pay_month,
                "status": "failed",
                "basic_amount": basic,
                "supplementary_amount": supplementary,
                "total": Decimal("0"),
                "payment_no": None,
                "reason_code": None,
                "reason_zh": None,
            }
            if basic is None:
                row.update(
                    reason_code=STANDARD_MISSING, reason_zh="职工基本医疗保险代缴标准尚未录入，本月未能代缴"
                )
                return row
            if unconfirmed(BASIC_STANDARD, month):
                row.update(
                    reason_code=UNCONFIRMED,
                    reason_zh="职工基本医疗保险代缴标准尚未经运维人员确认，本月未代缴",
                    basic_amount=None,
                )
                return row
            items = [PremiumItem(kind="basic_medical", amount=basic)]
            if supplementary is not None:
                items.append(PremiumItem(kind="large_amount_supplementary", amount=supplementary))
            async with sem:
                try:
                    p = await self.gov.medical.pay_premium(
                        idempotency_key=key,
                        id_number=people[r.case_id].id_number,
                        month=r.pay_month,
                        items=items,
                        case_ref=r.case_id,
                    )
                    row.update(
                        status="paid",
                        payment_no=p.payment_no,
                        total=sum((i.amount for i in items), Decimal("0")),
                    )
                except ExternalRefused as e:
                    row.update(reason_code=e.code, reason_zh=e.message_zh)
            return row

        rows = await asyncio.gather(*(one(k, r) for k, r in todo))
        now = datetime.now(UTC)
        async with self.db.session() as s:
            await s.execute(
                insert_ignore(self.db, PremiumMonth),
                [{**r, "created_at": now, "updated_at": now} for r in rows],
            )
            await s.commit()

    @activity.defn
    async def payday_reconcile(self, req: ReconcileRequest) -> PaydayReport:
        """After the run: each order against what the bank holds for its key; the report row for
        supervisors; the notices in bulk (paid: the person; refused account: the person and the
        district's intake clerks; recovery: the supervisors)."""
        async with self.db.session() as s:
            orders = (await s.exec(select(PaymentOrder).where(PaymentOrder.payday_id == req.payday_id))).all()
            recoveries = (
                await s.exec(select(PaymentRecovery).where(PaymentRecovery.payday_id == req.payday_id))
            ).all()
        bank: dict[str, Any] = {}
        for part in _chunks([o.idempotency_key for o in orders], LOOKUP_SLICE):
            activity.heartbeat("lookup")
            for d in await self._lookup(list(part)):
                bank[d.idempotency_key] = d
        mismatches = 0
        reasons: Counter[str] = Counter()
        for o in orders:
            held = bank.get(o.idempotency_key)
            if o.status == "paid":
                if held is None or held.amount != o.amount or held.bank_ref != o.bank_ref:
                    mismatches += 1
            elif held is not None:
                mismatches += 1
            if o.status != "paid" and o.failure_code:
                reasons[o.failure_code] += 1
        paid = [o for o in orders if o.status == "paid"]
        rejected = [o for o in orders if o.status == "rejected"]
        waiting = await self._waiting(req)
        notices = await self._notices(req, paid, rejected, recoveries, waiting)
        report = PaydayReport(
            payday_id=req.payday_id,
            items=len(orders),
            paid=len(paid),
            failed=len(orders) - len(paid),
            rejected=len(rejected),
            retried=req.totals.retried,
            recoveries=len(recoveries),
            amount_paid=sum((o.amount for o in paid), Decimal("0")),
            mismatches=mismatches,
            failed_reasons=dict(reasons),
            notices=notices,
            waiting_confirmation=waiting,
            waiting_reasons_zh=[reason_zh(k, n) for k, n in sorted(waiting.items())],
        )
        now = datetime.now(UTC)
        async with self.db.session() as s:
            run = await _run_row(s, req.payday_id, req.region_code, req.pay_date, now)
            run.status, run.paid, run.failed = "reconciled", report.paid, report.failed
            run.rejected, run.retried, run.recoveries = report.rejected, report.retried, report.recoveries
            run.amount_paid, run.report = report.amount_paid, report.model_dump(mode="json")
            run.finished_at = run.updated_at = now
            s.add(run)
            await s.commit()
        return report

    async def _waiting(self, req: ReconcileRequest) -> dict[str, int]:
        """Months due by this pay day left unpaid because their amount waits for an operator's
        confirmation of a parameter value: counted by that value, for the supervisors' report."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(
                        col(PaymentSchedule.id),
                        col(PaymentSchedule.amount),
                        col(PaymentSchedule.month_index),
                        col(PaymentSchedule.pay_month),
                    ).where(
                        PaymentSchedule.region_code == req.region_code,
                        PaymentSchedule.state == "scheduled",
                        col(PaymentSchedule.due_date) <= req.pay_date,
                    )
                )
            ).all()
            held = await self._awaiting_confirmation(s, rows)
        return dict(Counter(held.values()))

    async def _lookup(self, keys: list[str]) -> list[Any]:
        """One slice of the reconciliation's lookups, asked again while the bank is unavailable.
        Why here and not by Temporal's retry: a pay day's 100,000 keys are 100 lookups, and a bank
        that times out 5% of its calls failed almost every attempt of the whole activity (0.95^100),
        which then started again from the first slice: it never finished while the bank was
        flaky (measured in the 100,000 fault run). A slice retried alone costs its own retry."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return list(await self.gov.bank.lookup(keys))
            except ExternalUnavailable as e:
                if attempt >= LOOKUP_ATTEMPTS:
                    raise
                log.info("payday reconcile: bank lookup failed (%s), asking again", e)
                activity.heartbeat({"lookup_attempt": attempt})
                await asyncio.sleep(min(0.5 * 2**attempt, 10))

    async def _notices(
        self,
        req: ReconcileRequest,
        paid: list[PaymentOrder],
        rejected: list[PaymentOrder],
        recoveries: Sequence[PaymentRecovery],
        waiting: dict[str, int] | None = None,
    ) -> int:
        people = await self._payees_lenient([o.case_id for o in [*paid, *rejected]])
        msgs: list[dict[str, object]] = []
        for o in paid:
            p = people.get(o.case_id)
            if p is None:
                continue
            y, m = o.period.split("-")
            msgs.append(
                _sms(
                    p,
                    o,
                    "payment_paid",
                    f"{p.name}您好：您{y}年{m}月的失业保险金{o.amount}元已发放至尾号{p.account_no[-4:]}的银行账户。",
                )
            )
        by_case: dict[str, list[PaymentOrder]] = {}
        for o in rejected:
            by_case.setdefault(o.case_id, []).append(o)
        clerks = await self._staff(Role.INTAKE_CLERK.value, req.region_code) if by_case else []
        for case_id, months in by_case.items():
            first, p = months[0], people.get(case_id)
            which = "、".join(o.period for o in months)
            if p is not None:
                msgs.append(
                    _sms(
                        p,
                        first,
                        "account_rejected",
                        f"{p.name}您好：您{which}的失业保险金未能发放，银行退回收款账户。请携带本人身份证和本人名下的"
                        "银行卡到经办窗口（或通过网上办事大厅）变更收款账户，变更后将补发，已核定的领取月份不会减少。",
                    )
                )
            for login in clerks:
                msgs.append(
                    _inbox(
                        login,
                        case_id,
                        f"notice:{first.idempotency_key}:{login}",
                        "account_change_needed",
                        f"发放案件{case_id}的{which}失业保险金被银行退回（收款账户无效），请协助领金人员变更收款账户。",
                    )
                )
        supervisors = await self._staff(Role.SUPERVISOR.value, req.region_code)
        for label, n in sorted((waiting or {}).items()):
            for login in supervisors:
                msgs.append(
                    {
                        "channel": "portal",
                        "recipient": f"staff:{login}",
                        "template": "payment_waiting_confirmation",
                        "text_zh": f"发放日{req.payday_id}：{reason_zh(label, n)}。",
                        "case_ref": req.payday_id,
                        "idempotency_key": f"waiting:{req.payday_id}:{label}:{login}",
                    }
                )
        for r in recoveries:
            for login in supervisors:
                msgs.append(
                    _inbox(
                        login,
                        r.case_id,
                        f"recovery:{r.order_key}:{login}",
                        "overpayment_recovery",
                        f"发放案件{r.case_id}：{r.pay_month}失业保险金{r.amount}元在停发（或暂停）登记时已在银行处理中并已发放，"
                        "请核实并办理追回。",
                    )
                )
        sent = 0
        for part in _chunks(msgs, 1000):
            activity.heartbeat("notices")
            sent += await self.gov.notifier.send_batch(list(part))
        return sent

    async def _payees_lenient(self, case_ids: list[str]) -> dict[str, PaymentDetails]:
        """The sealed payees, unsealed; read in slices (a pay day's 100,000 ids exceed what one
        statement may carry as parameters)."""
        out: dict[str, PaymentDetails] = {}
        async with self.db.session() as s:
            for part in _chunks(sorted(set(case_ids)), LOOKUP_SLICE):
                for p in (await s.exec(select(Payee).where(col(Payee.case_id).in_(part)))).all():
                    out[p.case_id] = PaymentDetails.model_validate(self.sealer.unseal(p.sealed))
        return out

    async def _staff(self, role: str, region: str) -> list[str]:
        async with self.db.session() as s:
            for code in [region, *[r.code for r in ancestors(region)]]:
                rows = (
                    await s.exec(select(Staff).where(Staff.region_code == code, col(Staff.active).is_(True)))
                ).all()
                logins = sorted(r.login for r in rows if role in r.roles)
                if logins:
                    return logins
        return []

    @activity.defn
    async def payday_next(self, req: ReconcileRequest) -> str | None:
        """Start the region's next run: the earliest pay day of a row still scheduled after this
        one (a month rejected and rescheduled, a future month). None when nothing is due later."""
        async with self.db.session() as s:
            nxt = (
                await s.exec(
                    select(func.min(PaymentSchedule.due_date)).where(
                        PaymentSchedule.region_code == req.region_code,
                        PaymentSchedule.state == "scheduled",
                        col(PaymentSchedule.due_date) > req.pay_date,
                    )
                )
            ).one()
            # A person held by the re-check has no month "scheduled" (the hold suspended the
            # period), yet the next run's re-check is what lifts the hold: a region whose only
            # unpaid months are held still gets its next month's run.
            held = (
                await s.exec(
                    select(func.min(PaymentSchedule.due_date)).where(
                        PaymentSchedule.region_code == req.region_code,
                        PaymentSchedule.state == "held",
                        col(PaymentSchedule.case_id).in_(
                            select(PeriodEvent.case_id).where(
                                PeriodEvent.system == HOLD_SYSTEM,
                                PeriodEvent.status == PeriodEventStatus.HELD.value,
                                PeriodEvent.region_code == req.region_code,
                            )
                        ),
                    )
                )
            ).one()
        if held is not None:
            again = nominal_due(YearMonth.of(req.pay_date) + 1, held.day, req.pay_date)
            nxt = again if nxt is None else min(nxt, again)
        if nxt is None:
            return None
        return await start_payday(
            self.settings,
            req.region_code,
            actual_pay_date(self.settings, nxt),
            task_queue=activity.info().task_queue,
        )


async def _run_row(s: AsyncSession, pid: str, region: str, pay_date: date, now: datetime) -> PaydayRun:
    """The pay day's report row (one per region and day, whichever run of the id writes first)."""
    run = await s.get(PaydayRun, pid)
    if run is None:
        run = PaydayRun(
            payday_id=pid,
            region_code=region,
            pay_date=pay_date,
            status="paying",
            amount_paid=Decimal("0"),
            updated_at=now,
        )
    return run


def _sms(p: PaymentDetails, o: PaymentOrder, template: str, text: str) -> dict[str, object]:
    return {
        "channel": "sms",
        "recipient": p.phone,
        "template": template,
        "text_zh": text,
        "case_ref": o.case_id,
        "idempotency_key": f"notice:{template}:{o.idempotency_key}",
    }


def _inbox(login: str, case_id: str, key: str, template: str, text: str) -> dict[str, object]:
    return {
        "channel": "portal",
        "recipient": f"staff:{login}",
        "template": template,
        "text_zh": text,
        "case_ref": case_id,
        "idempotency_key": key,
    }


ACTIVITY_CLASSES = [PaydayActivities]
