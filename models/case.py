"""Shapes every case type shares: deadlines, the read-model projection, notifications,
timeline entries and decision receipts. Shared so that review, deadlines and notifications are
one mechanism across claims, disputes, refunds and subsidies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.enums import CaseType
from models.staff import StaffActor

# Asia/Shanghai: UTC+8 with no daylight saving since 1991, so a fixed offset is exact, and unlike
# ZoneInfo it needs no tz database read inside the workflow sandbox.
BUSINESS_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_date(instant: datetime) -> date:
    """The business day (Asia/Shanghai) of an instant."""
    return instant.astimezone(BUSINESS_TZ).date()


class DeadlineRequest(BaseModel):
    """Ask for a review deadline; computed in an activity so history records the answer and a
    later change of the holiday table cannot change the replay of an old case."""

    start: datetime  # when the clock starts (receipt / registration confirmed / documents complete)
    working_days: int | None = None  # None: the parameter in force
    #: The dated parameter that holds the limit when ``working_days`` is None (a stage with a limit
    #: of its own, e.g. ``risk.verification.working_days``); None: ``review.working_days``.
    parameter: str | None = None
    reminder_working_days: int = 2


class DeadlineInfo(BaseModel):
    start_day: date
    deadline: date  # the last day to decide (Asia/Shanghai)
    deadline_at: datetime  # the instant the case becomes overdue: the end of the deadline day
    reminder_at: datetime | None  # 09:00 on the reminder working day; None if already past
    working_days: int
    calendar_version: str
    parameter_version: str


class CaseProjection(BaseModel):
    """What the read model holds of a case; written by the workflow through an activity."""

    case_id: str
    case_type: CaseType
    status: str
    stage: str = ""
    region_code: str
    applicant_key: str
    applicant_name: str = ""
    applicant_id_masked: str = ""
    #: The full ID number, for the activity to derive the person-search key (ID tail + birth date,
    #: ``core/person_search.py``); never stored. Sealed like every payload; empty in projections
    #: recorded before it existed (the stored key is then kept).
    applicant_id_number: str = ""
    employer_credit_code: str | None = None
    channel: str = ""
    received_at: datetime
    deadline: date | None = None
    overdue: bool = False
    escalated: bool = False
    assigned_to: str | None = None
    rounds: int = 0
    risk_flagged: bool = False
    blocked: bool = False
    summary: dict[str, Any] = Field(default_factory=dict)
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    version: int  # monotonically increasing per case; an older projection never overwrites a newer one


class Notification(BaseModel):
    """A message to the applicant (SMS/portal) or to staff (portal inbox)."""

    case_id: str
    audience: Literal["applicant", "staff", "employer"]
    template: str
    text_zh: str
    phone: str | None = None  # applicant's phone (encrypted in payloads; never logged)
    staff_login: str | None = None
    staff_role: str | None = None
    region_code: str | None = None


class AuditEntry(BaseModel):
    """A staff decision or system action, for the append-only audit log."""

    case_id: str
    actor: str
    actor_role: str | None = None
    actor_region: str | None = None
    action: str
    payload: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class TimelineEntry(BaseModel):
    """One line of the case timeline as the workflow records it (actor, what, evidence)."""

    at: datetime
    actor_kind: Literal["staff", "system", "applicant", "external", "employer"]
    actor: str
    what: str  # stable event code, e.g. "review.approved"
    text_zh: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class DecisionReceipt(BaseModel):
    """What an Update returns to the staff member who decided."""

    case_id: str
    accepted: bool = True
    status: str
    stage: str
    round: int
    message_zh: str
    #: True when the Update answered on acceptance and the case is still applying the decision
    #: (audit, entitlement, next level, projection, notice): ``status``/``stage`` are those before it.
    processing: bool = False


class UnblockCommand(BaseModel):
    """An operations engineer releases a case that stopped on a permanent activity failure."""

    actor: StaffActor
    note: str = Field(min_length=1, max_length=500)


# --- timeline labels -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineLabels:
    """What a case type tells the timeline (``core/timeline.py``) about its history events, declared
    by the type itself beside its Update names. ``activities``: activity name -> (category, actor
    kind, actor, Chinese label); ``updates``: Update name -> Chinese label; ``signals``: Signal name
    -> (actor kind, actor, Chinese label)."""

    activities: Mapping[str, tuple[str, str, str, str]] = field(default_factory=dict)
    updates: Mapping[str, str] = field(default_factory=dict)
    signals: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)


#: The activities and Updates of the shared case mechanics (``workflows/base.py``, the review kit).
TIMELINE = TimelineLabels(
    activities={
        "compute_deadline": ("check", "system", "uiflow", "计算办理时限"),
        "notify": ("notification", "system", "notifier", "发送通知"),
        "issue_notice": ("notification", "system", "uiflow", "出具文书"),
        "project_case": ("bookkeeping", "system", "uiflow", "更新案件台账"),
        "write_audit": ("bookkeeping", "system", "uiflow", "写入审计日志"),
        "archive_closed_cases": ("check", "system", "uiflow-archiver", "归档已办结案件历史"),
    },
    updates={"unblock_case": "解除阻塞"},
)
