"""The shapes of a "review once, then pay once" case (the premium refund and the skill subsidy):
one reviewer decision per application round (approve or reject with reason and remedy), then one
payment under the case's idempotency key. ``workflows/review_once.py`` runs them.

Why one module: both case types took the same decision and made the same payment with shapes that
differed only in their names. Each type keeps its own names (``RefundDecision``,
``SubsidyPayment``...) as subclasses without fields of their own, so the JSON a recorded history
holds deserializes unchanged and the API's schemas keep their names."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.review import DecisionTarget
from models.staff import StaffActor

OnceAction = Literal["approve", "reject"]


class OnceDecisionCommand(DecisionTarget):
    """The reviewer's decision as the API sends it (the type's subclass words the descriptions)."""

    actor: StaffActor
    action: OnceAction
    reason: str = Field(default="", max_length=500, description="不予通过的理由")
    remedy: str = Field(default="", max_length=1000, description="处置方式：告知申请人下一步怎么办")
    note: str = Field(default="", max_length=500)


class OnceDecision(BaseModel):
    """The decision as the case records it (the desk hands it to the round)."""

    action: OnceAction
    by: str
    at: datetime
    reason: str = ""
    remedy: str = ""
    note: str = ""


class OncePayRequest(BaseModel):
    """The one payment of a case: the activity keys it by the case (``<prefix><case id>``)."""

    case_id: str
    amount: Decimal
    account_no: str
    account_name: str


class OncePayment(BaseModel):
    key: str
    amount: Decimal
    bank_ref: str
    paid_at: datetime
