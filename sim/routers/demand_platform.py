"""The Golden Insurance Project software demand platform (金保工程软件需求平台): where the agency asks
an operations engineer to change a record in the back end when the front end refuses, as the notice
prescribes for stop reasons that cannot otherwise be changed. Engineers act later (admin endpoint)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sim.clock import now_shanghai
from sim.deps import require_credit_code, require_id, system_guard
from sim.state import SimError, SimState, Ticket

router = APIRouter(prefix="/demand-platform", tags=["demand-platform"])
State = Annotated[SimState, Depends(system_guard("demand-platform"))]


class TicketRequest(BaseModel):
    category: Literal["stop_reason_change", "data_correction", "other"]
    title_zh: str = Field(min_length=1, max_length=200)
    description_zh: str = Field(min_length=1, max_length=4000)
    case_ref: str | None = Field(default=None, max_length=128)
    id_number: str | None = None
    employer_credit_code: str | None = None
    requested_stop_reason: str | None = None
    submitted_by: str = Field(min_length=1, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=128)


def ticket_view(t: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": t.ticket_id,
        "category": t.category,
        "status": t.status,
        "case_ref": t.case_ref,
        "resolution": t.resolution,
        "engineer": t.engineer,
        "created_at": t.created_at,
        "resolved_at": t.resolved_at,
    }


@router.post("/tickets")
async def open_ticket(body: TicketRequest, state: State) -> dict[str, Any]:
    if body.idempotency_key and body.idempotency_key in state.ticket_keys:
        return ticket_view(state.ticket_keys[body.idempotency_key])
    id_number = require_id(body.id_number) if body.id_number else None
    employer = require_credit_code(body.employer_credit_code) if body.employer_credit_code else None
    if body.category == "stop_reason_change" and not (id_number and employer and body.requested_stop_reason):
        raise SimError(
            422,
            "ticket.incomplete",
            "停保原因变更工单须填写身份证号码、单位统一社会信用代码和申请变更的停保原因",
        )
    now = now_shanghai()
    t = Ticket(
        ticket_id=f"JB{now:%Y%m%d}{state.next_seq('ticket'):06d}",
        category=body.category,
        title_zh=body.title_zh,
        description_zh=body.description_zh,
        case_ref=body.case_ref,
        id_number=id_number,
        employer_credit_code=employer,
        requested_stop_reason=body.requested_stop_reason,
        submitted_by=body.submitted_by,
        idempotency_key=body.idempotency_key,
        created_at=now,
    )
    state.tickets[t.ticket_id] = t
    if body.idempotency_key:
        state.ticket_keys[body.idempotency_key] = t
    return ticket_view(t)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, state: State) -> dict[str, Any]:
    t = state.tickets.get(ticket_id)
    if t is None:
        raise SimError(404, "ticket.not_found", "工单不存在")
    return ticket_view(t)
