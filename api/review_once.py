"""What the API of a "review once, then pay once" case (the premium refund, the skill subsidy;
``workflows/review_once.py``) shares: the reviewer's decision body, the operations engineer's
unblock body, the applicant's own-person check, and the unblock call. Each type's routes keep their
own paths, summaries and principals (who may call a route is declared in its signature)."""

from __future__ import annotations

import hmac
from typing import Any, Literal

from pydantic import BaseModel, Field

from activities.case_store import write_case_row
from api.errors import ApiError
from api.principals import Principal
from api.temporal_ops import Decider
from core.db import Database
from core.settings import Settings
from models.case import UnblockCommand
from models.review import DecisionTarget
from models.staff import StaffActor


class OnceDecideBody(DecisionTarget):
    """The reviewer's decision: approve, or reject with the reason and the remedy told to the person."""

    action: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=500)
    remedy: str = Field(default="", max_length=1000, description="处置方式：告知申请人下一步怎么办")
    note: str = Field(default="", max_length=500)


class UnblockBody(BaseModel):
    note: str = Field(min_length=1, max_length=500, examples=["外部系统已恢复"])


def own_person(who: Principal, key: str) -> None:
    """An applicant applies only for themselves (the identity provider's person, by applicant key)."""
    if who.applicant_key is None or not hmac.compare_digest(who.applicant_key, key):
        raise ApiError(403, "auth.applicant", "身份证号码与登录人不符，只能为本人办理")


async def unblock_case(
    decide: Decider, case_id: str, update: Any, who: StaffActor, body: UnblockBody
) -> dict[str, str]:
    """The operations engineer's release of a blocked case (the workflow's ``unblock_case``)."""
    msg = await decide.returning(case_id, update, UnblockCommand(actor=who, note=body.note), str)
    return {"message": msg}


async def write_first_row(settings: Settings, db: Database, workflow_cls: Any, inp: Any) -> None:
    """The case's first read-model row, written before the create route answers: the workflow's
    own projection of its first state (``workflow_cls(inp).projection()``, pure until a payment or
    a close), at version 0, so the workflow's first projection replaces it and a late write never
    overwrites a newer one. Without it the case was 404 to its own clerk until the worker caught
    up (a read right after the create, under load). As ``api/routes/service_requests.py`` does."""
    await write_case_row(settings, db, workflow_cls(inp).projection())
