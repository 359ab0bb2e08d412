"""Events from the external government systems (the registration platform's confirmations, the
demand platform's ticket outcomes), signed with the shared token. Each is routed to the waiting
workflow as a Signal; an unsigned or unknown event is refused."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.gov.callbacks import SIGNATURE_HEADER, RegistrationConfirmed, parse_event, verify
from api.deps import get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.routes.claims import open_claims_of
from api.temporal_ops import call_workflow
from core.applicant import applicant_key
from core.settings import Settings
from models.claim import ClaimStatus, RegistrationEvent
from workflows.benefit_claim import BenefitClaimWorkflow

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
log = logging.getLogger("uiflow.callbacks")


class CallbackAck(BaseModel):
    event: str
    delivered_to: int


async def _signal_registration(client: Client, case_id: str, ev: RegistrationEvent) -> None:
    handle = client.get_workflow_handle_for(BenefitClaimWorkflow.run, case_id)
    await call_workflow(lambda: handle.signal(BenefitClaimWorkflow.registration_confirmed, ev))


@router.post("/gov", response_model=CallbackAck, summary="外部系统事件回调（签名校验）")
async def gov_callback(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    client: Annotated[Client, Depends(get_temporal)],
) -> CallbackAck:
    body = await request.body()
    if not verify(body, request.headers.get(SIGNATURE_HEADER, ""), settings.sim_token):
        raise ApiError(401, "callback.signature", "回调签名无效")
    try:
        event = parse_event(body)
    except ValueError as e:
        raise ApiError(422, "callback.invalid", "回调内容无法识别") from e
    if isinstance(event, RegistrationConfirmed):
        key = applicant_key(settings, event.id_number)
        cases = await open_claims_of(session, key, status=ClaimStatus.AWAITING_REGISTRATION)
        ev = RegistrationEvent(registration_no=event.registration_no, registered_on=event.registered_on)
        for case_id in cases:
            await _signal_registration(client, case_id, ev)
        log.info("registration callback delivered to %d case(s)", len(cases))
        return CallbackAck(event="registration.confirmed", delivered_to=len(cases))
    handler = getattr(request.app.state, "ticket_callback", None)
    if handler is not None:
        n = await handler(event, session, client)
        return CallbackAck(event="ticket.resolved", delivered_to=int(n))
    return CallbackAck(event=type(event).__name__, delivered_to=0)
