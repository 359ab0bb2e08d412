"""The shapes of the review kit (``workflows/review_levels.py``), shared by every case type.

Why a module of its own: a staff decision is taken the same way on every case type (one level for
a claim, three for a stop-reason dispute), so the shapes the kit records and the commands it takes
name no case concept. Case types import them from here; the dispute module re-exports the names
the API still imports from it.

Race-proof commands: a command may name the level (``level``) and the round (``round``: the level's
n-th opening, or the claim's n-th review round) it was made for. Both are optional so that the
commands recorded in older histories still deserialize; a command that names them is refused for
any other level or round (``review.wrong_level`` / ``review.wrong_round``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from models.case import DeadlineInfo
from models.enums import Role
from models.staff import StaffActor


class ReviewLevelSpec(BaseModel):
    """One review level as configured for a case: who may act and how long they have. An input of
    the case workflow, so every case records the limits it was run with."""

    key: str = Field(pattern=r"^[a-z_]{1,16}$", examples=["initial"])
    label_zh: str = Field(min_length=1, max_length=16, examples=["初审"])
    role: Role
    working_days: int = Field(default=5, ge=1, le=60)
    reminder_working_days: int = Field(default=1, ge=0, le=10)


class ReviewAction(StrEnum):
    APPROVE = "approve"  # 通过
    REJECT = "reject"  # 不予通过
    SEND_BACK = "send_back"  # 退回上一级


REVIEW_ACTION_LABELS: dict[ReviewAction, str] = {
    ReviewAction.APPROVE: "通过",
    ReviewAction.REJECT: "不予通过",
    ReviewAction.SEND_BACK: "退回上一级",
}


class DecisionTarget(BaseModel):
    """What a decision was made for, as the deciding person saw the case (optional: see module)."""

    level: str | None = Field(default=None, max_length=16, description="作出决定时所在的审核层级")
    round: int | None = Field(default=None, ge=1, le=1000, description="作出决定时所在的审核轮次")


class ReviewCommand(DecisionTarget):
    """A reviewer's decision at one level (the argument of that level's Update)."""

    actor: StaffActor
    action: ReviewAction
    reason: str = Field(default="", max_length=1000, description="不予通过的理由（告知申请人）")
    note: str = Field(default="", max_length=1000, description="审核意见；退回时写明退回原因")


class ReviewDecision(BaseModel):
    """A decision as taken, kept in the case state for the reviewers and the auditors."""

    seq: int
    level: str
    level_label: str
    pass_no: int  # the level's n-th opening (a send-back reopens a level)
    action: ReviewAction
    by: str
    by_name: str = ""
    by_roles: list[str] = Field(default_factory=list)
    by_region: str
    at: datetime
    reason: str = ""
    note: str = ""


class ReviewLevelState(BaseModel):
    key: str
    label_zh: str
    role: Role
    working_days: int
    reminder_working_days: int
    status: Literal["waiting", "open", "approved", "sent_back", "rejected"] = "waiting"
    passes: int = 0
    opened_at: datetime | None = None
    deadline: DeadlineInfo | None = None
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    reviewers: list[str] = Field(default_factory=list)  # logins who decided at this level


class ReviewChainState(BaseModel):
    levels: list[ReviewLevelState]
    current: str | None = None  # the open level's key; None before the first and after the last
    outcome: Literal["pending", "approved", "rejected"] = "pending"
    decisions: list[ReviewDecision] = Field(default_factory=list)
    overdue: bool = False  # the open level is past its limit
    escalated: bool = False  # some level went past its limit during this case

    def level(self, key: str) -> ReviewLevelState | None:
        return next((lv for lv in self.levels if lv.key == key), None)

    @property
    def open_level(self) -> ReviewLevelState | None:
        return self.level(self.current) if self.current else None
