"""Every workflow the worker runs."""

from __future__ import annotations

from workflows.benefit_claim import BenefitClaimWorkflow

ALL_WORKFLOWS: list[type] = [BenefitClaimWorkflow]
