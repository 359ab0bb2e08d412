"""Verification of the events the external systems push to our API (registration confirmed, ticket
resolved), so that a forged or replayed callback cannot move a case (issue 12 item 6).

Why each piece:

- **Own secret per system, rotatable.** A callback is signed with a secret of the sending system
  (settings ``callback_keys_<system>``: ``kid:secret,kid2:secret2``), never with the bearer token
  we send on every outbound call (anyone who sees one outbound request would otherwise be able to
  forge events). The sender names the key id, so a new key can be added, the sender switched, and
  the old key removed, without a moment in which callbacks fail.
- **Signed timestamp and nonce.** The signature covers the method, the path, the timestamp, the
  nonce and the SHA-256 of the body; a request outside a 5-minute window is refused, and each
  nonce is accepted once (``callback_nonce`` table, kept until the window has passed).
- **The event must be the system's own.** The registration platform cannot report a ticket, nor
  the demand platform a registration.

Verify on the raw bytes before parsing, and compare in constant time. The simulators sign the same
way in their own code (sim/deps.py): two implementations agreeing is part of the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from activities.gov.base import GovModel
from models.period_events import EVENT_OF_SYSTEM

SYSTEM_HEADER = "X-Callback-System"
KEY_ID_HEADER = "X-Callback-Key-Id"
TIMESTAMP_HEADER = "X-Callback-Timestamp"
NONCE_HEADER = "X-Callback-Nonce"
SIGNATURE_HEADER = "X-Callback-Signature"
WINDOW = timedelta(minutes=5)

# Which event each system may send.
EVENTS_OF_SYSTEM: dict[str, str] = {
    "registration": "registration.confirmed",
    "demand_platform": "ticket.resolved",
    # the systems that learn of a stop condition: one event each (models/period_events.py)
    **EVENT_OF_SYSTEM,
}


class CallbackRefused(Exception):
    """A callback that must not be acted on; ``status`` and ``code`` for the HTTP answer."""

    def __init__(self, status: int, code: str, message_zh: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message_zh = message_zh


def signing_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    msg = signing_string(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def signed_headers(
    system: str,
    kid: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    *,
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of a signed callback (for clients of our API and for tests)."""
    ts = str(int((now or datetime.now(UTC)).timestamp()))
    n = nonce or secrets.token_hex(16)
    return {
        SYSTEM_HEADER: system,
        KEY_ID_HEADER: kid,
        TIMESTAMP_HEADER: ts,
        NONCE_HEADER: n,
        SIGNATURE_HEADER: sign(secret, method, path, ts, n, body),
    }


@dataclass(frozen=True)
class VerifiedCallback:
    """A callback whose signature and time are good; its nonce is still to be recorded once."""

    system: str
    nonce: str
    expires_at: datetime


def _ascii(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower(), "").strip()
    if not value or not value.isascii() or not value.isprintable():
        raise CallbackRefused(401, "callback.signature", "回调缺少签名信息或签名信息格式不正确")
    return value


def verify(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    keyrings: Mapping[str, Mapping[str, str]],
    *,
    now: datetime | None = None,
) -> VerifiedCallback:
    """Check the system, key id, signature and time of a callback; raise ``CallbackRefused``."""
    headers = {k.lower(): v for k, v in headers.items()}  # HTTP header names are case-insensitive
    system = _ascii(headers, SYSTEM_HEADER)
    kid = _ascii(headers, KEY_ID_HEADER)
    ts = _ascii(headers, TIMESTAMP_HEADER)
    nonce = _ascii(headers, NONCE_HEADER)
    signature = _ascii(headers, SIGNATURE_HEADER).lower()
    secret = keyrings.get(system, {}).get(kid)
    expected = sign(secret or "", method, path, ts, nonce, body)
    # compare even for an unknown key, so timing does not tell which key ids exist
    good = hmac.compare_digest(expected, signature)
    if secret is None or not good:
        raise CallbackRefused(401, "callback.signature", "回调签名无效")
    if not ts.isdigit() or not 16 <= len(nonce) <= 64:
        raise CallbackRefused(401, "callback.signature", "回调签名信息格式不正确")
    at = datetime.fromtimestamp(int(ts), UTC)
    current = now or datetime.now(UTC)
    if abs(current - at) > WINDOW:
        raise CallbackRefused(401, "callback.expired", "回调时间戳超出5分钟有效期，请重新发送")
    return VerifiedCallback(system=system, nonce=nonce, expires_at=at + WINDOW)


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


class PersonEvent(GovModel):
    """A stop condition learnt by its system (models/period_events.py). ``event_id`` is the
    sender's own id of the event: a second delivery of it (a new nonce) acts on nothing."""

    event: Literal["person.reemployed", "person.pension_started", "person.died", "person.benefit_elsewhere"]
    event_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    id_number: str
    on: date
    detail: str | None = Field(default=None, max_length=200)  # employer, province (for the record)


AnyEvent = RegistrationConfirmed | TicketResolved | PersonEvent
CallbackEvent = Annotated[AnyEvent, Field(discriminator="event")]
_events: TypeAdapter[AnyEvent] = TypeAdapter(CallbackEvent)


def parse_event(body: bytes) -> AnyEvent:
    """Parse a verified body; raises ``pydantic.ValidationError`` for an unknown or malformed event."""
    return _events.validate_json(body)
