"""Client for the contribution records: cumulative months decide the benefit duration (12/18/24),
the last consecutive run feeds the "fewer than 3 consecutive months" risk rule."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from activities.gov.base import GovClient, GovModel
from models.rules import RetirementCategory

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class MonthRecord(GovModel):
    month: str = Field(pattern=MONTH_PATTERN)
    paid: bool
    employer_credit_code: str | None = None
    base: Decimal | None = None


class EmployerRef(GovModel):
    credit_code: str
    name: str | None = None


class ContributionRecord(GovModel):
    id_number: str
    insured_region: str
    cumulative_months: int
    last_consecutive_months: int
    last_employer: EmployerRef
    last_contribution_month: str = Field(pattern=MONTH_PATTERN)
    records: list[MonthRecord] = Field(description="the last 36 months, oldest first")
    # 原法定退休年龄类别 as the record holds it (male / female-55 / female-50); None when not kept.
    retirement_category: RetirementCategory | None = None


class ContributionsClient(GovClient):
    system = "contributions"

    async def get_record(self, id_number: str) -> ContributionRecord:
        return await self._call(
            "GET", "/contributions/persons/{id_number}", ContributionRecord, path={"id_number": id_number}
        )
