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

    async def get_disbursement(self, idempotency_key: str) -> Disbursement:
        return await self._call(
            "GET", "/bank/disbursements/{key}", Disbursement, path={"key": idempotency_key}
        )
