"""Activities of the benefit period: pay dates from the working-day calendar, enrolment in the
region's payroll batch, the payment order and its disbursement through the bank, the medical
premium paid on the person's behalf, the near-retirement rules at expiry, and the payroll batch's
read model.

Exactly-once rests on two keys, both (case, month): the ``PaymentOrder`` row (unique) fixes the
amount once, and the bank's idempotency key makes a repeated disbursement return the first one.
So a retried activity, a replayed workflow, a worker killed between the bank's answer and our
commit, or a reset case all end with one ledger entry per key."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio import activity
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from activities.gov.bank import ACCOUNT_INVALID
from activities.gov.medical import PremiumItem
from core.db import Database
from core.parameters import calendar_in_force, parameters_in_force
from core.settings import Settings
from models import search_attributes as sa
from models.benefit import (
    BENEFIT_ORDER_KIND,
    DisburseRequest,
    DisburseResult,
    EnrolRequest,
    NearRetirementRequest,
    NearRetirementView,
    PayDateInfo,
    PayDateRequest,
    PaymentOrderView,
    PayrollBatchRecord,
    PremiumRecord,
    PremiumRequest,
    PrepareRequest,
    benefit_order_key,
    premium_key,
)
from models.rules import YearMonth
from models.tables import PaymentOrder, PayrollBatch, PremiumMonth
from policy import entitlement
from policy.errors import PolicyError
from policy.near_retirement import near_retirement
from policy.parameters import ParameterSet
from policy.regions import ancestors

log = logging.getLogger("uiflow.activities.payments")

FEN = Decimal("0.01")
# Premium standards (UNCONFIRMED figures, supplied by the 医保 bureau as operator parameters).
BASIC_STANDARD = "medical.proxy_standard_monthly"
# Not yet defined in policy/params/medical.yaml: used as soon as its owner adds it (see
# docs/payments.md); until then the supplementary item is recorded as missing, never guessed.
SUPPLEMENTARY_STANDARD = "medical.supplementary_standard_monthly"
STANDARD_MISSING = "premium.standard_missing"
PAYROLL_WORKFLOW = "PayrollBatchWorkflow"
PAYROLL_ENROL_SIGNAL = "enrol"


def _policy_error(e: PolicyError) -> ApplicationError:
    return ApplicationError(e.message_zh, type=e.code, non_retryable=True)


def _standard(params: ParameterSet, name: str, month: YearMonth) -> Decimal | None:
    if name not in params.parameters:
        return None
    try:
        return params.decimal(name, month.first_day())
    except PolicyError:
        return None


class PaymentActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    # --- schedule ------------------------------------------------------------------------------------

    @activity.defn
    async def pay_date(self, req: PayDateRequest) -> PayDateInfo:
        """The region's pay day of a month, moved to the next working day. From the calendar in
        force now, recorded in history, so a later calendar change cannot alter a replay. A year
        with no holiday table fails closed: the case goes to operations, no date is guessed."""
        cal = calendar_in_force(self.settings.calendar_dir)
        day = min(req.pay_day, req.month.last_day().day)
        d = date(req.month.year, req.month.month, day)
        try:
            for _ in range(40):
                if cal.is_working_day(d):
                    break
                d += timedelta(days=1)
        except PolicyError as e:
            raise _policy_error(e) from e
        return PayDateInfo(month=req.month, pay_date=d, calendar_version=cal.version)

    @activity.defn
    async def enrol_in_payroll(self, req: EnrolRequest) -> None:
        """Signal-with-start the region's payroll batch for the pay day: the first period to enrol
        starts it, the others join. A repeated enrolment is ignored by the batch."""
        b = req.batch
        await activity.client().start_workflow(
            PAYROLL_WORKFLOW,
            b,
            id=b.batch_id,
            task_queue=activity.info().task_queue,
            start_signal=PAYROLL_ENROL_SIGNAL,
            start_signal_args=[req.enrolment],
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CASE_TYPE, "payroll_batch"),
                    SearchAttributePair(sa.REGION_CODE, b.region_code),
                    SearchAttributePair(
                        sa.REGION_PATH, [b.region_code, *[r.code for r in ancestors(b.region_code)]]
                    ),
                    SearchAttributePair(sa.CASE_STATUS, "collecting"),
                    SearchAttributePair(sa.OVERDUE, False),
                ]
            ),
        )

    # --- the payment ---------------------------------------------------------------------------------

    @activity.defn
    async def prepare_payment(self, req: PrepareRequest) -> PaymentOrderView:
        """Compute the month's amount with the parameters in force for its pay month and write the
        payment order under its unique key. If the order exists (a retry, a replay, a reset), its
        amount stands: the amount of a month is decided once."""
        params = parameters_in_force(self.settings.params_dir)
        try:
            a = entitlement.benefit_amount(req.month_index, req.pay_month, params)
        except PolicyError as e:
            raise _policy_error(e) from e
        key = benefit_order_key(req.case_id, req.pay_month)
        created = False
        async with self.db.session() as s:
            row = (await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))).first()
            if row is None:
                now = datetime.now(UTC)
                row = PaymentOrder(
                    idempotency_key=key,
                    case_id=req.case_id,
                    period=str(req.pay_month),
                    kind=BENEFIT_ORDER_KIND,
                    # The bank takes fen; the published figures (2156.5) are exact at two places.
                    amount=a.amount.quantize(FEN, rounding=ROUND_HALF_UP),
                    status="ordered",
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                try:
                    await s.commit()
                    created = True
                except IntegrityError:
                    # A concurrent attempt wrote it first; read the winner.
                    await s.rollback()
                    row = (
                        await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))
                    ).one()
        return PaymentOrderView(
            order_key=key,
            amount=row.amount,
            rate=a.rate,
            base=a.base,
            parameter_version=a.parameter_version,
            status=row.status,
            created=created,
        )

    @activity.defn
    async def disburse(self, req: DisburseRequest) -> DisburseResult:
        """Pay the order through the bank under the order's key. Already paid: answer from our
        ledger without calling the bank. The bank down or timing out: raise, Temporal retries with
        the same key. The account refused: mark the order and return, so the case can ask for a new
        account. Any other refusal is a permanent failure for operations."""
        async with self.db.session() as s:
            row = (
                await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == req.order_key))
            ).first()
            if row is None:
                raise ApplicationError(
                    f"payment order {req.order_key} missing", type="OrderMissing", non_retryable=True
                )
            if row.status == "paid" and row.bank_ref:
                return DisburseResult(outcome="paid", amount=row.amount, bank_ref=row.bank_ref)
            amount = row.amount
        try:
            d = await self.gov.bank.disburse(
                idempotency_key=req.order_key,
                account_no=req.account_no,
                account_name=req.account_name,
                amount=amount,
                purpose=f"失业保险金{req.pay_month}",
                case_ref=req.case_id,
            )
            bank_ref = d.bank_ref
        except ExternalRefused as e:
            if e.code == ACCOUNT_INVALID:
                await self._mark(req.order_key, status="rejected", failure_code=e.code)
                return DisburseResult(
                    outcome="account_rejected", amount=amount, reason_code=e.code, reason_zh=e.message_zh
                )
            if e.code == "idempotency.key_reused":
                # The key already moved money (to the account of an earlier attempt): that payment
                # stands and is recorded; a second one is never made.
                bank_ref = (await self.gov.bank.get_disbursement(req.order_key)).bank_ref
            else:
                raise ApplicationError(
                    str(e), type=f"ExternalRefused:bank:{e.code}", non_retryable=True
                ) from e
        await self._mark(req.order_key, status="paid", bank_ref=bank_ref)
        return DisburseResult(outcome="paid", amount=amount, bank_ref=bank_ref)

    async def _mark(
        self, key: str, *, status: str, bank_ref: str | None = None, failure_code: str | None = None
    ) -> None:
        async with self.db.session() as s:
            row = (await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))).one()
            row.status = status
            row.bank_ref = bank_ref or row.bank_ref
            row.failure_code = failure_code
            row.updated_at = datetime.now(UTC)
            await s.commit()

    # --- medical premiums (notice item 4) ---------------------------------------------------------

    @activity.defn
    async def pay_premium(self, req: PremiumRequest) -> PremiumRecord:
        """Pay the month's employee medical (with maternity) and large-amount supplementary premium
        on the person's behalf. A refusal (already insured as a flexible worker, ...) is the month's
        final outcome: recorded with the medical system's own reason, for the person's notice and
        the later refund. A missing premium standard is recorded as such, never guessed."""
        key = premium_key(req.case_id, req.month)
        async with self.db.session() as s:
            row = (await s.exec(select(PremiumMonth).where(PremiumMonth.idempotency_key == key))).first()
            if row is not None:
                return _premium_record(row, req.month)
        params = parameters_in_force(self.settings.params_dir)
        basic = _standard(params, BASIC_STANDARD, req.month)
        supplementary = _standard(params, SUPPLEMENTARY_STANDARD, req.month)
        status, payment_no, code, reason = "failed", None, None, None
        if basic is None:
            code, reason = STANDARD_MISSING, "职工基本医疗保险代缴标准尚未录入，本月未能代缴"
        else:
            items = [PremiumItem(kind="basic_medical", amount=basic)]
            if supplementary is not None:
                items.append(PremiumItem(kind="large_amount_supplementary", amount=supplementary))
            try:
                p = await self.gov.medical.pay_premium(
                    idempotency_key=key,
                    id_number=req.id_number,
                    month=str(req.month),
                    items=items,
                    case_ref=req.case_id,
                )
                status, payment_no = "paid", p.payment_no
            except ExternalRefused as e:
                code, reason = e.code, e.message_zh
        now = datetime.now(UTC)
        row = PremiumMonth(
            idempotency_key=key,
            case_id=req.case_id,
            applicant_key=req.applicant_key,
            region_code=req.region_code,
            month=str(req.month),
            status=status,
            basic_amount=basic,
            supplementary_amount=supplementary,
            total=sum((a for a in (basic, supplementary) if a), Decimal("0"))
            if status == "paid"
            else Decimal("0"),
            payment_no=payment_no,
            reason_code=code,
            reason_zh=reason,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session() as s:
            s.add(row)
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                row = (await s.exec(select(PremiumMonth).where(PremiumMonth.idempotency_key == key))).one()
        return _premium_record(row, req.month)

    # --- expiry ------------------------------------------------------------------------------------

    @activity.defn
    async def near_retirement_outcome(self, req: NearRetirementRequest) -> NearRetirementView:
        """C6 Rules 1, 3 and 4 at the last month, with the parameters in force (recorded)."""
        params = parameters_in_force(self.settings.params_dir)
        try:
            receiving = req.receiving_on_2024_12_31
            if receiving is None:
                on = params.day("near_retirement.transitional_receiving_date", None)
                receiving = YearMonth.of(on) in req.benefit_months
            nr = near_retirement(req.category, req.birth_month, req.expiry, receiving, params)
        except PolicyError as e:
            raise _policy_error(e) from e
        return NearRetirementView(
            expiry=req.expiry,
            outcome=nr.outcome,
            pay_through=nr.pay_through,
            requires_application=nr.requires_application,
            retirement_month=nr.retirement.retirement_month,
            original_retirement_month=nr.retirement.original_retirement_month,
            months_to_retirement=nr.months_to_retirement,
            months_to_original_retirement=nr.months_to_original_retirement,
            pension_support_from=nr.pension_support_from,
            pension_support_through=nr.pension_support_through,
            receiving_on_2024_12_31=receiving,
            parameter_version=nr.parameter_version,
        )

    # --- payroll batch read model ------------------------------------------------------------------

    @activity.defn
    async def record_payroll_batch(self, rec: PayrollBatchRecord) -> None:
        st = rec.state
        values: dict[str, Any] = {
            "batch_id": st.batch_id,
            "region_code": st.region_code,
            "pay_date": st.pay_date,
            "status": st.status,
            "enrolled": st.enrolled,
            "granted": st.granted,
            "reported": st.reported,
            "skipped": st.skipped,
            "reclaimed": st.reclaimed,
            "months_paid": st.months_paid,
            "account_rejected": st.account_rejected,
            "amount_paid": st.amount_paid,
            "peak_in_flight": st.peak_in_flight,
            "released_at": st.released_at,
            "finished_at": st.finished_at,
            "updated_at": datetime.now(UTC),
        }
        async with self.db.session() as s:
            row = await s.get(PayrollBatch, rec.record_id)
            if row is None:
                s.add(PayrollBatch(record_id=rec.record_id, **values))
            else:
                for k, v in values.items():
                    setattr(row, k, v)
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                raise  # a concurrent insert of the same row: retry updates it


def _premium_record(row: PremiumMonth, month: YearMonth) -> PremiumRecord:
    return PremiumRecord(
        month=month,
        status="paid" if row.status == "paid" else "failed",
        total=row.total,
        payment_no=row.payment_no,
        reason_code=row.reason_code,
        reason_zh=row.reason_zh,
        missing_items=[
            kind
            for kind, amount in (
                ("basic_medical", row.basic_amount),
                ("large_amount_supplementary", row.supplementary_amount),
            )
            if amount is None
        ],
    )


ACTIVITY_CLASSES = [PaymentActivities]
