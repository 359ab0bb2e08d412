"""Client for the medical-insurance system: premiums the agency pays on a recipient's behalf
(notice item 4). A refusal such as ``already_insured_flexible`` is final for that month and starts
the "tell them why, refund on application" path; the idempotency key (case id + month) makes a
retried payment safe."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from activities.gov.base import GovClient, GovModel
from activities.gov.contributions import MONTH_PATTERN

PremiumKind = Literal["basic_medical", "large_amount_supplementary"]

#: Refusal codes the medical system uses (``ExternalRefused.code``).
ALREADY_INSURED_FLEXIBLE = "already_insured_flexible"
ALREADY_INSURED_EMPLOYEE = "already_insured_employee"


class PremiumItem(GovModel):
    kind: PremiumKind
    amount: Decimal = Field(gt=0)


class PaidItem(GovModel):
    kind: PremiumKind
    label: str
    amount: Decimal


class PremiumPayment(GovModel):
    idempotency_key: str
    status: Literal["paid"]
    payment_no: str
    id_number: str
    month: str = Field(pattern=MONTH_PATTERN)
    total: Decimal
    items: list[PaidItem]
    paid_at: datetime


class MedicalStatus(GovModel):
    id_number: str
    status: Literal["not_insured", "flexible_worker", "employee"]
    label: str


class MedicalClient(GovClient):
    system = "medical"

    async def pay_premium(
        self,
        *,
        idempotency_key: str,
        id_number: str,
        month: str,
        items: list[PremiumItem],
        case_ref: str | None = None,
    ) -> PremiumPayment:
        """Pay one month. ``ExternalRefused`` carries the reason (e.g. ``already_insured_flexible``)."""
        body = {
            "idempotency_key": idempotency_key,
            "id_number": id_number,
            "month": month,
            "items": [i.model_dump(mode="json") for i in items],
            "case_ref": case_ref,
        }
        return await self._call("POST", "/medical/premiums", PremiumPayment, json=body)

    async def get_premium(self, idempotency_key: str) -> PremiumPayment:
        return await self._call(
            "GET", "/medical/premiums/{key}", PremiumPayment, path={"key": idempotency_key}
        )

    async def get_status(self, id_number: str) -> MedicalStatus:
        return await self._call(
            "GET", "/medical/persons/{id_number}", MedicalStatus, path={"id_number": id_number}
        )

    async def self_payments(self, id_number: str, months: list[str]) -> SelfPayments:
        """What the person paid himself as a flexible worker in ``months`` (the refund's check)."""
        return await _self_payments(self, id_number, months)


class SelfPaymentItem(GovModel):
    month: str = Field(pattern=MONTH_PATTERN)
    amount: Decimal
    receipt_no: str


class SelfPayments(GovModel):
    id_number: str
    payments: list[SelfPaymentItem]


async def _self_payments(client: MedicalClient, id_number: str, months: list[str]) -> SelfPayments:
    return await client._call(
        "GET",
        "/medical/persons/{id_number}/self-payments",
        SelfPayments,
        path={"id_number": id_number},
        params={"months": ",".join(months)},
    )
