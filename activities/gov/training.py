"""Client for the vocational-training subsidy system (职业培训补贴): a certificate already funded
by a training subsidy cannot also earn the skill-upgrade subsidy (domain.md E1)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from activities.gov.base import ExternalRefused, GovClient, GovModel

TRAINING_NOT_FOUND = "training_subsidy.not_found"


class TrainingSubsidyPaid(GovModel):
    cert_no: str
    amount: Decimal
    paid_on: date


class TrainingClient(GovClient):
    system = "training"

    async def paid_for(self, cert_no: str) -> TrainingSubsidyPaid | None:
        """``None`` when no training subsidy was paid for the certificate (the usual answer)."""
        try:
            return await self._call(
                "GET", "/training-subsidies/{cert_no}", TrainingSubsidyPaid, path={"cert_no": cert_no}
            )
        except ExternalRefused as e:
            if e.code == TRAINING_NOT_FOUND:
                return None
            raise
