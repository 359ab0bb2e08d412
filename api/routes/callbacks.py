"""Events from the external government systems (the registration platform's confirmations, the
demand platform's ticket outcomes). Each must carry its system's own signature over method, path,
timestamp, nonce and body (activities/gov/callbacks.py), be at most 5 minutes old, and not have
been delivered before (its nonce is recorded in the same transaction as its effects, so a delivery
that failed here can be retried, and a replay is refused). Then it is routed to the waiting
workflow as a Signal; anything else is refused before the body is even parsed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.gov.callbacks import (
    EVENTS_OF_SYSTEM,
    AnyEvent,
    CallbackRefused,
    PersonEvent,
    RegistrationConfirmed,
    TicketResolved,
    VerifiedCallback,
    parse_event,
    verify,
)
from api.deps import get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.routes.claims import open_claims_of
from api.routes.period_events import PersonEventAck, deliver_person_event
from api.temporal_ops import call_workflow
from core.applicant import applicant_key
from core.settings import Settings
from models.claim import ClaimStatus, RegistrationEvent
from models.tables import CallbackNonce
from workflows.benefit_claim import BenefitClaimWorkflow

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
log = logging.getLogger("uiflow.callbacks")


class CallbackAck(BaseModel):
    event: str
    delivered_to: int


async def _signal_registration(client: Client, case_id: str, ev: RegistrationEvent) -> None:
    handle = client.get_workflow_handle_for(BenefitClaimWorkflow.run, case_id)
    await call_workflow(lambda: handle.signal(BenefitClaimWorkflow.registration_confirmed, ev))


@router.post("/gov", response_model=CallbackAck | PersonEventAck, summary="外部系统事件回调（签名校验）")
async def gov_callback(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    client: Annotated[Client, Depends(get_temporal)],
) -> CallbackAck | PersonEventAck:
    event = await verified_event(request, session, settings)
    if isinstance(event, PersonEvent):  # a stop condition learnt elsewhere (issue 14)
        return await deliver_person_event(event, session, settings, client)
    if isinstance(event, RegistrationConfirmed):
        key = applicant_key(settings, event.id_number)
        cases = await open_claims_of(session, key, status=ClaimStatus.AWAITING_REGISTRATION)
        ev = RegistrationEvent(registration_no=event.registration_no, registered_on=event.registered_on)
        for case_id in cases:
            await _signal_registration(client, case_id, ev)
        log.info("registration callback delivered to %d case(s)", len(cases))
        await session.commit()  # the nonce, with the effects
        return CallbackAck(event="registration.confirmed", delivered_to=len(cases))
    handler = getattr(request.app.state, "ticket_callback", None)
    if handler is not None:
        n = await handler(event, session, client)
        await session.commit()
        return CallbackAck(event="ticket.resolved", delivered_to=int(n))
    await session.commit()
    return CallbackAck(event=type(event).__name__, delivered_to=0)


async def verified_event(request: Request, session: AsyncSession, settings: Settings) -> AnyEvent:
    """The event of a callback whose signature, time and system are good, with its nonce recorded
    in ``session`` (the caller commits after acting on it; a replay waits for, then fails on, the
    first delivery's nonce). Refusals are 401 (signature, time), 409 (replay), 422 (content)."""
    body = await request.body()
    try:
        v = verify(request.headers, request.method, request.url.path, body, settings.callback_keyrings())
    except CallbackRefused as e:
        raise ApiError(e.status, e.code, e.message_zh) from None
    await record_nonce(session, v)
    try:
        event = parse_event(body)
    except ValueError as e:
        raise ApiError(422, "callback.invalid", "回调内容无法识别") from e
    if EVENTS_OF_SYSTEM.get(v.system) != event.event:
        raise ApiError(422, "callback.unsupported", "该系统无权发送此类回调")
    return event


async def record_nonce(session: AsyncSession, v: VerifiedCallback) -> None:
    now = datetime.now(UTC)
    await session.exec(delete(CallbackNonce).where(CallbackNonce.expires_at < now))  # type: ignore[call-overload,arg-type]
    session.add(CallbackNonce(system=v.system, nonce=v.nonce, expires_at=v.expires_at))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise ApiError(409, "callback.replayed", "该回调已处理过（重复的请求编号），不再受理") from None


__all__ = ["TicketResolved", "router", "verified_event"]
