"""The paying bank. Disbursements are keyed by an idempotency key (case id + period): a repeated
key returns the original result and never moves money twice, which is what lets Temporal retry a
payment activity safely. Every money movement is written to a ledger the tests inspect.

Payrolls come as one batch (批量代发): ``POST /bank/batches`` takes up to 5,000 items, each with its
own idempotency key, and answers per item (paid with its reference, or failed with a code), as
real 代发 result files do. The batch goes through the same per-key ledger, so a key sent in two
batches (a retry after a time-out) is paid once. Faults: the ``bank`` fault config acts on the
whole call (a timed-out batch changes nothing); ``bank.items`` with ``error_rate`` fails single
items (``system.unavailable``, retryable)."""

from __future__ import annotations

import asyncio
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
#: Faults on single items of a batch (``error_rate``), set like a system's: PUT /admin/faults/bank.items
ITEM_FAULTS = ("bank.items",)
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


class HolderCheckRequest(BaseModel):
    account_no: str = Field(min_length=1, max_length=40)
    account_name: str = Field(min_length=1, max_length=50)


@router.post("/accounts/verify")
async def verify_holder(body: HolderCheckRequest, state: State) -> dict[str, Any]:
    """The holder-name check (账户户名核验) a payer runs before it uses an account: whether the
    account exists, is open, and is held by that name. A mismatch is an answer (``match`` false,
    with the bank's code and reason), not an error; no money moves."""
    try:
        _check_account(state, body.account_no, body.account_name)
    except SimError as e:
        return {"match": False, "code": e.code, "message": e.message_zh}
    return {"match": True, "code": "", "message": "户名与账号一致"}


@router.post("/disbursements")
async def disburse(body: DisbursementRequest, state: State) -> dict[str, Any]:
    d = _pay(state, body)
    # Booked; the answer waits while a test withholds it (a flag set from outside: no Event to await).
    while state.config.bank_withhold_answers:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return _view(d)


def _pay(state: SimState, body: DisbursementRequest) -> Disbursement:
    """One key, paid once. No await between the lookup and the insert: concurrent duplicates
    cannot both pass."""
    existing = state.disbursements.get(body.idempotency_key)
    if existing is not None:
        if (existing.account_no, existing.amount) != (body.account_no, body.amount):
            raise SimError(409, "idempotency.key_reused", "该幂等键已用于另一笔不同的付款")
        return _settle(state, existing)
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
    return _settle(state, d)


class BatchRequest(BaseModel):
    """A payroll file: the payer's own batch reference and its items."""

    batch_ref: str = Field(min_length=4, max_length=64, description="付款方批次号（不含个人信息）")
    items: list[DisbursementRequest] = Field(min_length=1, max_length=5000)


@router.post("/batches")
async def disburse_batch(body: BatchRequest, state: State) -> dict[str, Any]:
    item_faults = state.faults.get(ITEM_FAULTS[0])
    results: list[dict[str, Any]] = []
    for item in body.items:
        if item_faults and item_faults.error_rate and state.fault_rng.random() < item_faults.error_rate:
            state.injected["bank.items.error"] += 1
            results.append(_failed(item.idempotency_key, "system.unavailable", "银行系统繁忙，该笔未处理"))
            continue
        try:
            d = _pay(state, item)
        except SimError as e:
            results.append(_failed(item.idempotency_key, e.code, e.message_zh))
            continue
        results.append(
            {
                "idempotency_key": d.idempotency_key,
                "status": "paid",
                "bank_ref": d.bank_ref,
                "amount": d.amount,
            }
        )
    now = now_shanghai()
    return {
        "batch_ref": body.batch_ref,
        "bank_batch_ref": f"BB{now:%Y%m%d}{state.next_seq('bank-batch'):08d}",
        "count": len(results),
        "paid": sum(1 for r in results if r["status"] == "paid"),
        "results": results,
    }


def _failed(key: str, code: str, message: str) -> dict[str, Any]:
    return {"idempotency_key": key, "status": "failed", "code": code, "message": message}


class LookupRequest(BaseModel):
    idempotency_keys: list[str] = Field(min_length=1, max_length=5000)


@router.post("/disbursements/lookup")
async def lookup(body: LookupRequest, state: State) -> dict[str, Any]:
    """What the bank holds for each key (reconciliation item by item); unknown keys are absent."""
    found = [state.disbursements.get(k) for k in body.idempotency_keys]
    return {"items": [_view(_settle(state, d)) for d in found if d is not None]}


@router.get("/disbursements/{idempotency_key}")
async def get_disbursement(idempotency_key: str, state: State) -> dict[str, Any]:
    d = state.disbursements.get(idempotency_key)
    if d is None:
        raise SimError(404, "disbursement.not_found", "未查询到该付款请求")
    return _view(_settle(state, d))
