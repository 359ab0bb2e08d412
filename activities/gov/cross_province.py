"""Client for the national cross-province check: duplicate receipt across provinces is one of the
risks the notice (item 7) tells agencies to cross-check before paying."""

from __future__ import annotations

from datetime import date

from activities.gov.base import GovClient, GovModel


class CrossProvinceReceipt(GovModel):
    id_number: str
    receiving_elsewhere: bool
    province_code: str | None = None
    province: str | None = None
    period_start: date | None = None
    period_end: date | None = None


class CrossProvinceClient(GovClient):
    system = "cross-province"

    async def check(self, id_number: str) -> CrossProvinceReceipt:
        return await self._call(
            "GET", "/cross-province/persons/{id_number}", CrossProvinceReceipt, path={"id_number": id_number}
        )
