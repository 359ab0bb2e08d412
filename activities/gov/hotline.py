"""Client for the 12333 hotline's work-order system (12333热线工单系统): the hotline pushes work
orders to our signed callback; we answer each order with a reply (答复) and, once the request is
closed, a closing report (办结报告) with the person's satisfaction, as the real 12345/12333
platforms expect. Both calls carry an idempotency key, so a retried activity reports once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, field_validator

from activities.gov.base import GovClient, GovModel
from policy.regions import RegionError, get_region


class OrderAck(GovModel):
    order_id: str
    status: Literal["open", "replied", "closed"]
    at: datetime


class HotlineClient(GovClient):
    system = "hotline"

    async def reply(self, order_id: str, *, case_ref: str, answer_zh: str, idempotency_key: str) -> OrderAck:
        body = {"case_ref": case_ref, "answer_zh": answer_zh, "idempotency_key": idempotency_key}
        return await self._call(
            "POST", "/hotline/orders/{order_id}/reply", OrderAck, path={"order_id": order_id}, json=body
        )

    async def close_order(
        self,
        order_id: str,
        *,
        case_ref: str,
        result_zh: str,
        satisfaction: str | None,
        within_limit: bool | None,
        idempotency_key: str,
    ) -> OrderAck:
        body = {
            "case_ref": case_ref,
            "result_zh": result_zh,
            "satisfaction": satisfaction,
            "within_limit": within_limit,
            "idempotency_key": idempotency_key,
        }
        return await self._call(
            "POST", "/hotline/orders/{order_id}/close", OrderAck, path={"order_id": order_id}, json=body
        )


# --- what the hotline pushes to our callback (signed like every government callback) ---------------


class HotlineOrder(GovModel):
    event: Literal["hotline.order"]
    order_id: str = Field(pattern=r"^[0-9A-Za-z]{4,40}$")
    kind: Literal["consultation", "complaint", "suggestion", "online_guidance"]
    region_code: str = Field(pattern=r"^15\d{4}$")
    topic: str = Field(default="other", max_length=32)
    content: str = Field(min_length=2, max_length=4000)
    caller_name: str = Field(default="", max_length=32)
    caller_phone: str | None = Field(default=None, pattern=r"^1\d{10}$")
    linked_case_id: str | None = Field(default=None, max_length=128)

    @field_validator("region_code")
    @classmethod
    def _known_region(cls, v: str) -> str:
        try:
            return get_region(v).code
        except RegionError as e:
            raise ValueError(e.message_zh) from None


class HotlineFeedback(GovModel):
    event: Literal["hotline.feedback"]
    order_id: str = Field(pattern=r"^[0-9A-Za-z]{4,40}$")
    region_code: str = Field(pattern=r"^15\d{4}$")
    satisfaction: Literal["satisfied", "basically", "not_satisfied"]
    comment: str = Field(default="", max_length=500)


HotlineEvent = Annotated[HotlineOrder | HotlineFeedback, Field(discriminator="event")]
_events: TypeAdapter[HotlineOrder | HotlineFeedback] = TypeAdapter(HotlineEvent)


def parse_hotline_event(body: bytes) -> HotlineOrder | HotlineFeedback:
    """Parse a verified body; raises ``pydantic.ValidationError`` for an unknown or malformed event."""
    return _events.validate_json(body)
