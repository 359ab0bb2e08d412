"""Every workflow the worker runs, one case type per line, imported plainly: a module that is
missing or broken fails the worker at start, never silently drops a case type. A new case type
adds its module's ``WORKFLOWS`` here (and its activity classes in ``activities/registry.py``)."""

from __future__ import annotations

from workflows import (
    archiver,
    benefit_claim,
    benefit_period,
    payday,
    period_recheck,
    premium_refund,
    risk_scan,
    service_request,
    skill_alerts,
    skill_subsidy,
    stop_reason_dispute,
    verification,
)

ALL_WORKFLOWS: list[type] = [
    *benefit_claim.WORKFLOWS,
    *benefit_period.WORKFLOWS,
    *payday.WORKFLOWS,
    *period_recheck.WORKFLOWS,
    *stop_reason_dispute.WORKFLOWS,
    *service_request.WORKFLOWS,
    *skill_subsidy.WORKFLOWS,
    *premium_refund.WORKFLOWS,
    *skill_alerts.WORKFLOWS,
    *archiver.WORKFLOWS,
    *verification.WORKFLOWS,
    *risk_scan.WORKFLOWS,
]
