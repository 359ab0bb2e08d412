"""The 12333 hotline's work-order system (12333热线工单系统): a caller's consultation or complaint
becomes a work order that the hotline pushes to the agency (a signed ``hotline.order`` callback,
the same signing scheme as the other systems' callbacks); the agency answers it (``reply``) and
reports it closed (``close``), both recorded here so tests can read them. The hotline's own return
visit to the caller arrives as a signed ``hotline.feedback`` callback.

Admin endpoints (no token, like ``/admin``) stand for the hotline operator: take a call, record the
return visit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sim.clock import now_shanghai
from sim.deps import deliver_callback, get_state, system_guard
from sim.state import SimError, SimState

router = APIRouter(prefix="/hotline", tags=["hotline"])
admin_router = APIRouter(prefix="/admin/hotline", tags=["admin"])
State = Annotated[SimState, Depends(system_guard("hotline"))]


class ReplyBody(BaseModel):
    case_ref: str = Field(min_length=1, max_length=128)
    answer_zh: str = Field(min_length=1, max_length=4000)
    idempotency_key: str = Field(min_length=1, max_length=160)


class CloseBody(BaseModel):
    case_ref: str = Field(min_length=1, max_length=128)
    result_zh: str = Field(default="", max_length=4000)
    satisfaction: Literal["satisfied", "basically", "not_satisfied"] | None = None
    within_limit: bool | None = None
    idempotency_key: str = Field(min_length=1, max_length=160)


def _order(state: SimState, order_id: str) -> dict[str, Any]:
    order = state.hotline_orders.get(order_id)
    if order is None:
        raise SimError(404, "order.not_found", "热线工单不存在")
    return order


def _ack(order: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": order["order_id"], "status": order["status"], "at": now_shanghai()}


@router.post("/orders/{order_id}/reply")
async def reply(order_id: str, body: ReplyBody, state: State) -> dict[str, Any]:
    order = _order(state, order_id)
    if order["status"] == "closed":
        raise SimError(409, "order.closed", "工单已办结，不能再答复")
    if not any(r["idempotency_key"] == body.idempotency_key for r in order["replies"]):
        order["replies"].append({**body.model_dump(), "at": now_shanghai().isoformat()})
    order["status"] = "replied"
    return _ack(order)


@router.post("/orders/{order_id}/close")
async def close(order_id: str, body: CloseBody, state: State) -> dict[str, Any]:
    order = _order(state, order_id)
    if order["closing_report"] is None:
        order["closing_report"] = {**body.model_dump(), "at": now_shanghai().isoformat()}
    order["status"] = "closed"
    return _ack(order)


@router.get("/orders/{order_id}")
async def get_order(order_id: str, state: State) -> dict[str, Any]:
    return _order(state, order_id)


# --- the operator's side ---------------------------------------------------------------------------


class NewOrder(BaseModel):
    kind: Literal["consultation", "complaint", "suggestion", "online_guidance"] = "consultation"
    region_code: str = Field(pattern=r"^15\d{4}$")
    topic: str = Field(default="other", max_length=32)
    content: str = Field(min_length=2, max_length=4000)
    caller_name: str = Field(default="", max_length=32)
    caller_phone: str | None = Field(default=None, pattern=r"^1\d{10}$")
    linked_case_id: str | None = Field(default=None, max_length=128)


class Feedback(BaseModel):
    satisfaction: Literal["satisfied", "basically", "not_satisfied"]
    comment: str = Field(default="", max_length=500)


@admin_router.post("/orders")
async def take_call(body: NewOrder, request: Request) -> dict[str, Any]:
    """The operator turns a call into a work order and pushes it, signed, to the agency."""
    state = get_state(request)
    now = now_shanghai()
    order_id = f"GD{now:%Y%m%d}{state.next_seq('hotline'):06d}"
    order: dict[str, Any] = {
        "order_id": order_id,
        "status": "open",
        "created_at": now.isoformat(),
        **body.model_dump(),
        "replies": [],
        "closing_report": None,
        "feedback": None,
    }
    state.hotline_orders[order_id] = order
    callback = await deliver_callback(state, {"event": "hotline.order", **_pushed(order)}, _target(state))
    return {"order": order, "callback": _delivery(callback)}


@admin_router.post("/orders/{order_id}/feedback")
async def return_visit(order_id: str, body: Feedback, request: Request) -> dict[str, Any]:
    """The hotline's return visit to the caller, pushed to the agency."""
    state = get_state(request)
    order = _order(state, order_id)
    order["feedback"] = body.model_dump()
    event = {
        "event": "hotline.feedback",
        "order_id": order_id,
        "region_code": order["region_code"],
        **body.model_dump(),
    }
    callback = await deliver_callback(state, event, _target(state))
    return {"order": order, "callback": _delivery(callback)}


@admin_router.get("/orders")
async def list_orders(request: Request) -> dict[str, Any]:
    return {"orders": list(get_state(request).hotline_orders.values())}


GOV_CALLBACK_PATH = "/api/v1/callbacks/gov"
HOTLINE_CALLBACK_PATH = "/api/v1/service-requests/callbacks/hotline"


def _target(state: SimState) -> str | None:
    """The hotline pushes to the agency's hotline endpoint: with the callback URL configured as the
    general government endpoint (``make dev``), the hotline endpoint beside it; otherwise as set."""
    url = state.config.callback_url
    if url and url.endswith(GOV_CALLBACK_PATH):
        return url.removesuffix(GOV_CALLBACK_PATH) + HOTLINE_CALLBACK_PATH
    return url


def _pushed(order: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "order_id",
        "kind",
        "region_code",
        "topic",
        "content",
        "caller_name",
        "caller_phone",
        "linked_case_id",
        "created_at",
    )
    return {k: order[k] for k in keys}


def _delivery(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("url", "delivered", "attempts", "status")}
