"""The paying bank. Disbursements are keyed by an idempotency key (case id + period): a repeated
key returns the original result and never moves money twice, which is what lets Temporal retry a
payment activity safely. Every money movement is written to a ledger the tests inspect."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sim.clock import now_shanghai
from sim.deps import system_guard
from sim.population import luhn_ok
from sim.state import Disbursement, LedgerEntry, SimError, SimState

router = APIRouter(prefix="/bank", tags=["bank"])
State = Annotated[SimState, Depends(system_guard("bank"))]


class DisbursementRequest(BaseModel):
    idempotency_key: str = Field(min_length=8, max_length=128)
    account_no: str = Field(min_length=12, max_length=32)
    account_name: str = Field(min_length=1, max_length=50)
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    purpose: str = Field(min_length=1, max_length=100)
    case_ref: str | None = Field(default=None, max_length=128)


def _settle(state: SimState, d: Disbursement) -> Disbursement:
    if d.status == "accepted":
        due = d.accepted_at + timedelta(seconds=state.config.bank_settle_seconds)
        if now_shanghai() >= due:
            d.status = "paid"
            d.paid_at = due
    return d


def _view(d: Disbursement) -> dict[str, Any]:
    return {
        "idempotency_key": d.idempotency_key,
        "bank_ref": d.bank_ref,
        "status": d.status,
        "amount": d.amount,
        "purpose": d.purpose,
        "case_ref": d.case_ref,
        "accepted_at": d.accepted_at,
        "paid_at": d.paid_at,
    }


def _check_account(state: SimState, account_no: str, account_name: str) -> None:
    if not luhn_ok(account_no):
        raise SimError(422, "account.invalid", "收款账号格式不正确（校验位错误）")
    holder = state.pop.persons.get(state.pop.accounts.get(account_no, ""))
    if holder is None:
        raise SimError(422, "account.invalid", "收款账户不存在")
    if holder.account_status != "active":
        raise SimError(422, "account.invalid", "收款账户已销户或冻结，请核实后更换账户")
    if holder.name != account_name.strip():
        raise SimError(422, "account.invalid", "收款账户户名与账号不符")


@router.post("/disbursements")
async def disburse(body: DisbursementRequest, state: State) -> dict[str, Any]:
    # No await between the lookup and the insert: concurrent duplicates cannot both pass.
    existing = state.disbursements.get(body.idempotency_key)
    if existing is not None:
        if (existing.account_no, existing.amount) != (body.account_no, body.amount):
            raise SimError(409, "idempotency.key_reused", "该幂等键已用于另一笔不同的付款")
        return _view(_settle(state, existing))
    _check_account(state, body.account_no, body.account_name)
    now = now_shanghai()
    d = Disbursement(
        idempotency_key=body.idempotency_key,
        account_no=body.account_no,
        account_name=body.account_name,
        amount=body.amount,
        purpose=body.purpose,
        case_ref=body.case_ref,
        bank_ref=f"BK{now:%Y%m%d}{state.next_seq('bank'):010d}",
        status="accepted",
        accepted_at=now,
    )
    state.disbursements[body.idempotency_key] = d
    state.ledger.append(
        LedgerEntry(
            idempotency_key=d.idempotency_key,
            bank_ref=d.bank_ref,
            account_no=d.account_no,
            amount=d.amount,
            at=now,
        )
    )
    return _view(_settle(state, d))


@router.get("/disbursements/{idempotency_key}")
async def get_disbursement(idempotency_key: str, state: State) -> dict[str, Any]:
    d = state.disbursements.get(idempotency_key)
    if d is None:
        raise SimError(404, "disbursement.not_found", "未查询到该付款请求")
    return _view(_settle(state, d))
