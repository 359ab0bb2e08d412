"""Client for the SMS gateway and the portal message box: how the agency tells a person a decision,
its reason and what to do (notice item 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from activities.gov.base import GovClient, GovModel

Channel = Literal["sms", "portal"]


class MessageReceipt(GovModel):
    message_id: str
    status: Literal["queued", "delivered"]
    accepted_at: datetime


class _BatchAnswer(GovModel):
    count: int
    results: list[dict[str, object]]


class NotifierClient(GovClient):
    system = "notifier"

    async def send(
        self,
        *,
        channel: Channel,
        recipient: str,
        template: str,
        text_zh: str,
        case_ref: str | None = None,
        idempotency_key: str | None = None,
    ) -> MessageReceipt:
        """``recipient`` is a mobile number for sms; for portal, an ID number (the person's inbox) or
        ``staff:<login>`` (a staff member's inbox). Pass an idempotency key
        so that a retried activity does not message the person twice."""
        body = {
            "channel": channel,
            "recipient": recipient,
            "template": template,
            "text_zh": text_zh,
            "case_ref": case_ref,
            "idempotency_key": idempotency_key,
        }
        return await self._call("POST", "/notifier/messages", MessageReceipt, json=body)

    async def send_batch(self, messages: list[dict[str, object]]) -> int:
        """Many messages in one call (each with the fields of ``send``, and its own idempotency
        key); returns how many were accepted."""
        answer = await self._call(
            "POST", "/notifier/messages/batch", _BatchAnswer, json={"messages": messages}
        )
        return sum(1 for r in answer.results if r.get("message_id"))
