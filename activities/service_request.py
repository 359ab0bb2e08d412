"""Activities of a consultation or complaint: the time limits in force for its kind, the link to
the case it names (read model), and the reply and closing report back to the 12333 hotline.

A hotline refusal is non-retryable and sends the request to the blocked path (an engineer looks);
an unavailable hotline is retried without limit, like every external system."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from activities.gov.base import GovClientConfig
from activities.gov.hotline import HotlineClient
from core.db import Database
from core.parameters import parameters_in_force
from core.settings import Settings
from models.case import local_date
from models.service_request import RequestKind, RequestLimits
from models.tables import ServiceRequestLink
from policy.errors import PolicyError
from policy.service_request import request_limits


class LimitsQuery(BaseModel):
    kind: RequestKind
    received_at: datetime


class LinkRequest(BaseModel):
    request_id: str
    case_id: str
    kind: str
    channel: str
    at: datetime


class HotlineReply(BaseModel):
    order_id: str
    case_id: str
    answer_zh: str


class HotlineClose(BaseModel):
    order_id: str
    case_id: str
    result_zh: str
    satisfaction: str | None = None
    within_limit: bool | None = None


class ServiceRequestActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.hotline = HotlineClient(GovClientConfig.from_settings(settings))

    @activity.defn
    async def request_limits(self, q: LimitsQuery) -> RequestLimits:
        """Computed here, not in the workflow, so history records the figures of the day."""
        try:
            return request_limits(
                parameters_in_force(self.settings.params_dir), q.kind, local_date(q.received_at)
            )
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e

    @activity.defn
    async def link_request(self, link: LinkRequest) -> None:
        """Idempotent: a retry finds its own row."""
        async with self.db.session() as s:
            if await s.get(ServiceRequestLink, (link.request_id, link.case_id)) is None:
                s.add(
                    ServiceRequestLink(
                        request_id=link.request_id,
                        case_id=link.case_id,
                        kind=link.kind,
                        channel=link.channel,
                        linked_at=link.at,
                    )
                )
                await s.commit()

    @activity.defn
    async def hotline_reply(self, r: HotlineReply) -> str:
        try:
            ack = await self.hotline.reply(
                r.order_id, case_ref=r.case_id, answer_zh=r.answer_zh, idempotency_key=f"{r.case_id}:reply"
            )
        except ExternalRefused as e:
            raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e
        return ack.status

    @activity.defn
    async def hotline_close(self, r: HotlineClose) -> str:
        try:
            ack = await self.hotline.close_order(
                r.order_id,
                case_ref=r.case_id,
                result_zh=r.result_zh,
                satisfaction=r.satisfaction,
                within_limit=r.within_limit,
                idempotency_key=f"{r.case_id}:close",
            )
        except ExternalRefused as e:
            raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e
        return ack.status


ACTIVITY_CLASSES = [ServiceRequestActivities]
