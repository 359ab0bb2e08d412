"""Client for the paying bank. The idempotency key (case id + period) is what makes a retried
payment activity pay exactly once; after a timeout, ``get_disbursement`` tells whether it went
through."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from activities.gov.base import GovClient, GovModel

ACCOUNT_INVALID = "account.invalid"


class Disbursement(GovModel):
    idempotency_key: str
    bank_ref: str
    status: Literal["accepted", "paid"]
    amount: Decimal
    purpose: str
    case_ref: str | None = None
    accepted_at: datetime
    paid_at: datetime | None = None


class BatchItem(GovModel):
    idempotency_key: str
    status: Literal["paid", "failed"]
    bank_ref: str | None = None
    amount: Decimal | None = None
    code: str | None = None
    message: str | None = None


class BatchResult(GovModel):
    batch_ref: str
    bank_batch_ref: str
    count: int
    paid: int
    results: list[BatchItem]


class HolderCheck(GovModel):
    match: bool
    code: str = ""
    message: str = ""


class _Lookup(GovModel):
    items: list[Disbursement]


class BankClient(GovClient):
    system = "bank"

    async def disburse(
        self,
        *,
        idempotency_key: str,
        account_no: str,
        account_name: str,
        amount: Decimal,
        purpose: str,
        case_ref: str | None = None,
    ) -> Disbursement:
        """Pay ``amount`` (two decimals). A repeated key returns the original result. A bad or
        closed account raises ``ExternalRefused`` with code ``account.invalid``."""
        body = {
            "idempotency_key": idempotency_key,
            "account_no": account_no,
            "account_name": account_name,
            "amount": str(amount.quantize(Decimal("0.01"))),
            "purpose": purpose,
            "case_ref": case_ref,
        }
        return await self._call("POST", "/bank/disbursements", Disbursement, json=body)

    async def verify_holder(self, account_no: str, account_name: str) -> HolderCheck:
        """The bank's holder-name check: does ``account_no`` exist, is it open, and is it held by
        ``account_name``. A mismatch is an answer (``match`` false with the bank's reason)."""
        body = {"account_no": account_no, "account_name": account_name}
        return await self._call("POST", "/bank/accounts/verify", HolderCheck, json=body)

    async def get_disbursement(self, idempotency_key: str) -> Disbursement:
        return await self._call(
            "GET", "/bank/disbursements/{key}", Disbursement, path={"key": idempotency_key}
        )

    async def disburse_batch(self, batch_ref: str, items: list[dict[str, object]]) -> BatchResult:
        """``items``: idempotency_key, account_no, account_name, amount, purpose, case_ref. A key
        already paid returns its first result; a refused item comes back ``failed`` with the
        bank's code (``account.invalid``: the account; ``system.unavailable``: retry it)."""
        return await self._call(
            "POST", "/bank/batches", BatchResult, json={"batch_ref": batch_ref, "items": items}
        )

    async def lookup(self, keys: list[str]) -> list[Disbursement]:
        """What the bank holds for each key; unknown keys are absent (reconciliation)."""
        return (
            await self._call("POST", "/bank/disbursements/lookup", _Lookup, json={"idempotency_keys": keys})
        ).items
