"""The SMS gateway and the government-service portal's message box. An optional idempotency key
stops a retried notification from reaching the person twice."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sim.clock import now_shanghai
from sim.deps import require_id, system_guard
from sim.state import Message, SimError, SimState

router = APIRouter(prefix="/notifier", tags=["notifier"])
State = Annotated[SimState, Depends(system_guard("notifier"))]

_PHONE = re.compile(r"^1[3-9]\d{9}$")
#: Staff inboxes on the portal are addressed by login; people by ID number.
_STAFF = re.compile(r"^staff:[A-Za-z0-9._-]{1,64}$")


class MessageRequest(BaseModel):
    channel: Literal["sms", "portal"]
    recipient: str = Field(description="手机号（sms）；身份证号码或 staff:<登录名>（portal）")
    template: str = Field(min_length=1, max_length=64)
    text_zh: str = Field(min_length=1, max_length=1000)
    case_ref: str | None = Field(default=None, max_length=128)
    idempotency_key: str | None = Field(default=None, max_length=128)


def _view(m: Message) -> dict[str, Any]:
    return {"message_id": m.message_id, "status": m.status, "accepted_at": m.accepted_at}


@router.post("/messages")
async def send(body: MessageRequest, state: State) -> dict[str, Any]:
    return _view(_send(state, body))


class BatchMessages(BaseModel):
    """Many messages in one call (a pay day's notices); each keeps its own idempotency key."""

    messages: list[MessageRequest] = Field(min_length=1, max_length=5000)


@router.post("/messages/batch")
async def send_batch(body: BatchMessages, state: State) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for m in body.messages:
        try:
            results.append(_view(_send(state, m)))
        except SimError as e:
            results.append({"status": "failed", "code": e.code, "message": e.message_zh})
    return {"count": len(results), "results": results}


def _send(state: SimState, body: MessageRequest) -> Message:
    if body.idempotency_key and body.idempotency_key in state.message_keys:
        return state.message_keys[body.idempotency_key]
    if body.channel == "sms":
        if not _PHONE.match(body.recipient):
            raise SimError(422, "recipient.invalid", "手机号码格式不正确")
        recipient = body.recipient
    elif _STAFF.match(body.recipient):
        recipient = body.recipient
    else:
        recipient = require_id(body.recipient)
    now = now_shanghai()
    m = Message(
        message_id=f"MSG{now:%Y%m%d}{state.next_seq('message'):08d}",
        channel=body.channel,
        recipient=recipient,
        template=body.template,
        text_zh=body.text_zh,
        case_ref=body.case_ref,
        idempotency_key=body.idempotency_key,
        accepted_at=now,
    )
    state.messages.append(m)
    if body.idempotency_key:
        state.message_keys[body.idempotency_key] = m
    return m
