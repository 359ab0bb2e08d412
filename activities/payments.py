"""Activities of the benefit period that are not the pay day itself: the near-retirement rules at
expiry, and the shared premium helpers. Paying is set-based and lives in ``activities.payday``
(docs/payments.md §0)."""

from __future__ import annotations

import logging
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import GovClients
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.benefit import NearRetirementRequest, NearRetirementView, PremiumRecord
from models.rules import YearMonth
from models.tables import PremiumMonth
from policy.errors import PolicyError
from policy.near_retirement import near_retirement, receiving_on
from policy.parameters import ParameterSet

log = logging.getLogger("uiflow.activities.payments")

# Premium standards (UNCONFIRMED figures, supplied by the 医保 bureau as operator parameters).
BASIC_STANDARD = "medical.proxy_standard_monthly"
# Not yet defined in policy/params/medical.yaml: used as soon as its owner adds it (see
# docs/payments.md); until then the supplementary item is recorded as missing, never guessed.
SUPPLEMENTARY_STANDARD = "medical.supplementary_standard_monthly"
STANDARD_MISSING = "premium.standard_missing"


def _policy_error(e: PolicyError) -> ApplicationError:
    return ApplicationError(e.message_zh, type=e.code, non_retryable=True)


def standard(params: ParameterSet, name: str, month: YearMonth) -> Decimal | None:
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

    # --- expiry ------------------------------------------------------------------------------------

    @activity.defn
    async def near_retirement_outcome(self, req: NearRetirementRequest) -> NearRetirementView:
        """C6 Rules 1, 3 and 4 at the last month, with the parameters in force (recorded)."""
        params = parameters_in_force(self.settings.params_dir)
        try:
            receiving = req.receiving_on_2024_12_31
            if receiving is None:
                on = params.day("near_retirement.transitional_receiving_date", None)
                receiving = (
                    receiving_on(on, req.paid_months)
                    if req.paid_months is not None
                    else YearMonth.of(on) in req.benefit_months
                )
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


def premium_record(row: PremiumMonth, month: YearMonth) -> PremiumRecord:
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
