"""The one payment of a "review once, then pay once" case (the premium refund, the skill subsidy):
one payment order and one bank disbursement under the case's idempotency key.

Why shared: both types paid with the same steps, differing only in the key's prefix, the order's
kind and the purpose printed on the transfer. Money moves once: the order row is unique by its key
(``payment_order.idempotency_key``), a retried or replayed activity finds it and returns what was
paid, and the bank answers a repeated key with the original disbursement. Each type's activity
(``pay_refund``, ``pay_subsidy``: the names recorded in histories) calls this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from activities.gov.bank import ACCOUNT_INVALID
from core.db import Database
from models.review_once import OncePayRequest
from models.tables import PaymentOrder


@dataclass(frozen=True)
class Paid:
    key: str
    amount: Decimal
    bank_ref: str
    paid_at: datetime


async def pay_once(
    db: Database, gov: GovClients, req: OncePayRequest, *, key: str, kind: str, purpose_zh: str
) -> Paid:
    """Order (once, under ``key``), then disburse the ordered amount, then mark the order paid.
    A refused account fails non-retryably (the case goes to the blocked path)."""
    now = datetime.now(UTC)
    async with db.session() as s:
        row = (await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))).first()
        if row is None:
            s.add(
                PaymentOrder(
                    idempotency_key=key,
                    case_id=req.case_id,
                    period="once",
                    kind=kind,
                    amount=req.amount,
                    status="ordered",
                    created_at=now,
                    updated_at=now,
                )
            )
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
            row = (await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))).one()
        if row.status == "paid" and row.bank_ref:
            return Paid(key=key, amount=row.amount, bank_ref=row.bank_ref, paid_at=row.updated_at)
        amount = row.amount
    try:
        d = await gov.bank.disburse(
            idempotency_key=key,
            account_no=req.account_no,
            account_name=req.account_name,
            amount=amount,
            purpose=purpose_zh,
            case_ref=req.case_id,
        )
    except ExternalRefused as e:
        reason = "account_rejected" if e.code == ACCOUNT_INVALID else e.code
        raise ApplicationError(str(e), type=f"ExternalRefused:bank:{reason}", non_retryable=True) from e
    async with db.session() as s:
        order = (await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))).one()
        order.status, order.bank_ref, order.updated_at = "paid", d.bank_ref, datetime.now(UTC)
        await s.commit()
    return Paid(key=key, amount=amount, bank_ref=d.bank_ref, paid_at=d.accepted_at)
