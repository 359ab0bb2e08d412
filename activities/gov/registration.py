"""Client for the unemployment-registration platform (失业登记).

Review of a benefit claim starts only once registration is confirmed (notice item 2): the workflow
asks here first, registers the person at a counter when staff do it on the spot, and otherwise
waits for the platform's ``registration.confirmed`` callback."""

from __future__ import annotations

from datetime import date
from typing import Literal

from activities.gov.base import GovClient, GovModel


class RegistrationStatus(GovModel):
    id_number: str
    registered: bool
    registered_on: date | None = None
    registration_no: str | None = None
    region: str | None = None
    channel: Literal["online", "counter"] | None = None


class RegistrationClient(GovClient):
    system = "registration"

    async def get_status(self, id_number: str) -> RegistrationStatus:
        return await self._call(
            "GET", "/registration/persons/{id_number}", RegistrationStatus, path={"id_number": id_number}
        )

    async def register_at_counter(
        self,
        *,
        id_number: str,
        name: str,
        region: str,
        operator_id: str,
        registered_on: date | None = None,
    ) -> RegistrationStatus:
        """Register at a service-hall counter. Safe to retry: an existing registration is returned."""
        body = {
            "id_number": id_number,
            "name": name,
            "region": region,
            "operator_id": operator_id,
            "registered_on": registered_on.isoformat() if registered_on else None,
        }
        return await self._call("POST", "/registration/registrations", RegistrationStatus, json=body)
