"""Verification of the events the external systems push to our API (registration confirmed, ticket
resolved). Each POST carries ``X-Sim-Signature``: the hex HMAC-SHA256 of the raw body keyed with
the shared token. Verify on the raw bytes *before* parsing, and compare in constant time so the
signature cannot be guessed byte by byte from response timings."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from activities.gov.base import GovModel

SIGNATURE_HEADER = "X-Sim-Signature"


def sign(body: bytes, token: str) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, token: str) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(body, token), signature.strip().lower())


class RegistrationConfirmed(GovModel):
    event: Literal["registration.confirmed"]
    id_number: str
    registration_no: str
    registered_on: date


class TicketResolved(GovModel):
    event: Literal["ticket.resolved"]
    ticket_id: str
    status: Literal["resolved", "rejected"]
    resolution: str | None = None
    engineer: str | None = None
    case_ref: str | None = None
    resolved_at: datetime


CallbackEvent = Annotated[RegistrationConfirmed | TicketResolved, Field(discriminator="event")]
_events: TypeAdapter[RegistrationConfirmed | TicketResolved] = TypeAdapter(CallbackEvent)


def parse_event(body: bytes) -> RegistrationConfirmed | TicketResolved:
    """Parse a verified body; raises ``pydantic.ValidationError`` for an unknown or malformed event."""
    return _events.validate_json(body)
