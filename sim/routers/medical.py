"""The medical-insurance system: the agency pays employee medical insurance (with maternity) and the
large-amount supplementary premium for each benefit month. Payments are keyed by an idempotency key;
the same key always returns the first outcome, paid or refused, and never charges twice."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator

from sim.catalogue import MEDICAL_REFUSALS, PREMIUM_ITEM_LABELS
from sim.clock import now_shanghai
from sim.deps import require_id, require_person, system_guard
from sim.state import PremiumPayment, SimError, SimState

router = APIRouter(prefix="/medical", tags=["medical"])
State = Annotated[SimState, Depends(system_guard("medical"))]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class PremiumItem(BaseModel):
    kind: Literal["basic_medical", "large_amount_supplementary"]
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)


class PremiumRequest(BaseModel):
    idempotency_key: str = Field(min_length=8, max_length=128)
    id_number: str
    month: str
    items: list[PremiumItem] = Field(min_length=1, max_length=4)
    case_ref: str | None = Field(default=None, max_length=128)

    @field_validator("month")
    @classmethod
    def _month(cls, v: str) -> str:
        if not _MONTH.match(v):
            raise ValueError("月份格式应为YYYY-MM")
        return v


def _view(p: PremiumPayment) -> dict[str, Any]:
    return {
        "idempotency_key": p.idempotency_key,
        "status": p.status,
        "payment_no": p.payment_no,
        "id_number": p.id_number,
        "month": p.month,
        "total": p.total,
        "items": p.items,
        "paid_at": p.at if p.status == "paid" else None,
    }


def _raise_refusal(p: PremiumPayment) -> None:
    raise SimError(409, p.refusal_code or "premium.refused", p.refusal_message or "医保系统拒绝代缴")


@router.post("/premiums")
async def pay_premium(body: PremiumRequest, state: State) -> dict[str, Any]:
    number = require_id(body.id_number)
    total = sum((i.amount for i in body.items), Decimal("0.00"))
    previous = state.premiums.get(body.idempotency_key)
    if previous is not None:
        if (previous.id_number, previous.month, previous.total) != (number, body.month, total):
            raise SimError(409, "idempotency.key_reused", "该幂等键已用于另一笔不同的缴费请求")
        if previous.status == "refused":
            _raise_refusal(previous)
        return _view(previous)

    person = state.pop.persons.get(number)
    refusal: str | None = None
    if person is None:
        refusal = "person_unknown"
    elif person.medical_status == "flexible_worker" or body.month in state.self_payments.get(number, {}):
        # insured as a flexible worker (that month, when he paid it himself)
        refusal = "already_insured_flexible"
    elif person.medical_status == "employee":
        refusal = "already_insured_employee"
    elif person.pension_receiving:
        refusal = "receiving_pension"
    if refusal is None and any(
        p.id_number == number and p.month == body.month and p.status == "paid"
        for p in state.premiums.values()
    ):
        raise SimError(409, "premium.duplicate_month", "该人员本月代缴已完成，请勿重复缴费")

    items = [
        {"kind": i.kind, "label": PREMIUM_ITEM_LABELS[i.kind], "amount": str(i.amount)} for i in body.items
    ]
    payment = PremiumPayment(
        idempotency_key=body.idempotency_key,
        id_number=number,
        month=body.month,
        status="refused" if refusal else "paid",
        payment_no=None if refusal else f"YB{now_shanghai():%Y%m%d}{state.next_seq('premium'):08d}",
        total=total,
        items=items,
        refusal_code=refusal,
        refusal_message=MEDICAL_REFUSALS[refusal] if refusal else None,
        at=now_shanghai(),
    )
    state.premiums[body.idempotency_key] = payment
    if refusal:
        _raise_refusal(payment)
    return _view(payment)


@router.get("/premiums/{idempotency_key}")
async def get_premium(idempotency_key: str, state: State) -> dict[str, Any]:
    """Lets a caller whose request timed out learn whether it went through before retrying."""
    p = state.premiums.get(idempotency_key)
    if p is None:
        raise SimError(404, "premium.not_found", "未查询到该缴费请求")
    if p.status == "refused":
        _raise_refusal(p)
    return _view(p)


@router.get("/persons/{id_number}/self-payments")
async def self_payments(id_number: str, state: State, months: str = "") -> dict[str, Any]:
    """What the person paid himself as a flexible worker, month by month (the record the refund is
    checked against). ``months``: comma-separated ``YYYY-MM``; a month he did not pay is absent."""
    person = require_person(state, id_number)
    wanted = [m.strip() for m in months.split(",") if m.strip()]
    if any(not _MONTH.match(m) for m in wanted) or len(wanted) > 60:
        raise SimError(422, "months.invalid", "月份格式应为YYYY-MM，最多60个月")
    held = state.self_payments.get(person.id_number, {})
    items = [
        {"month": m, "amount": held[m], "receipt_no": f"LH{person.id_number[-6:]}{m.replace('-', '')}"}
        for m in sorted(set(wanted))
        if m in held
    ]
    return {"id_number": person.id_number, "payments": items}


@router.get("/persons/{id_number}")
async def get_status(id_number: str, state: State) -> dict[str, Any]:
    person = require_person(state, id_number)
    labels = {
        "not_insured": "未参加职工医保",
        "flexible_worker": "灵活就业人员参保",
        "employee": "单位职工参保",
    }
    return {
        "id_number": person.id_number,
        "status": person.medical_status,
        "label": labels[person.medical_status],
    }
