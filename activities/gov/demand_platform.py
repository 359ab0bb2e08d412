"""Client for the Golden Insurance Project software demand platform (金保工程软件需求平台): when
the record system refuses a stop-reason change, the agency raises a ticket and an operations
engineer makes the change in the back end (notice item 5). Resolution arrives as a signed
``ticket.resolved`` callback, or by polling ``get_ticket``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from activities.gov.base import GovClient, GovModel

TicketCategory = Literal["stop_reason_change", "data_correction", "other"]


class Ticket(GovModel):
    ticket_id: str
    category: TicketCategory
    status: Literal["open", "resolved", "rejected"]
    case_ref: str | None = None
    resolution: str | None = None
    engineer: str | None = None
    created_at: datetime
    resolved_at: datetime | None = None


class DemandPlatformClient(GovClient):
    system = "demand-platform"

    async def open_ticket(
        self,
        *,
        category: TicketCategory,
        title_zh: str,
        description_zh: str,
        submitted_by: str,
        case_ref: str | None = None,
        id_number: str | None = None,
        employer_credit_code: str | None = None,
        requested_stop_reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Ticket:
        """Open a ticket (status ``open``). With an idempotency key a retry returns the same ticket."""
        body = {
            "category": category,
            "title_zh": title_zh,
            "description_zh": description_zh,
            "submitted_by": submitted_by,
            "case_ref": case_ref,
            "id_number": id_number,
            "employer_credit_code": employer_credit_code,
            "requested_stop_reason": requested_stop_reason,
            "idempotency_key": idempotency_key,
        }
        return await self._call("POST", "/demand-platform/tickets", Ticket, json=body)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        return await self._call(
            "GET", "/demand-platform/tickets/{ticket_id}", Ticket, path={"ticket_id": ticket_id}
        )
