"""Client for the employer registry: name, region and insured headcount, used by the risk rules on
mass departures and on a high ratio of claimants to insured staff (notice item 7)."""

from __future__ import annotations

from typing import Literal

from activities.gov.base import GovClient, GovModel


class Employer(GovModel):
    credit_code: str
    name: str
    region: str
    insured_headcount: int
    status: Literal["active", "closed"] = "active"


class EmployersClient(GovClient):
    system = "employers"

    async def get(self, credit_code: str) -> Employer:
        return await self._call(
            "GET", "/employers/{credit_code}", Employer, path={"credit_code": credit_code}
        )
