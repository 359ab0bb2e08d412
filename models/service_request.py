"""Consultations and complaints (畅通申诉渠道), notice item 8: the service request's contract.

One case per consultation, complaint, suggestion or request for online guidance, whatever the
channel: the counter, the consultation phone, the 12333 hotline's work orders, online by the
signed-in person, and the 办不成事 window (a request another counter could not get done).

接诉即办: answered at once when the receiver can; otherwise assigned by region and topic with a
first-contact limit in hours and a resolution limit in working days (dated parameters by kind,
``policy/params/service_request.yaml``), reminders and escalation through the shared deadline
mechanics. The person is replied to, asked whether they are satisfied (not satisfied: reopened
once and escalated), and a hotline order gets its closing report back.

Plain pydantic models (temporal-notes §3). The requester's name and phone live only in the
encrypted input; the state and read model carry the masked name."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from models.case import TimelineEntry, TimelineLabels
from models.enums import CaseType, Role, StageEnum
from models.staff import StaffActor

# --- the case type's contract -------------------------------------------------------------------

CASE_TYPE = CaseType.COMPLAINT
REQUEST_PREFIX = "request-"
#: ``request-<region>-<channel>-<ref>``: the ref is random or the hotline's order number, never
#: personal data.
REQUEST_ID_PATTERN = r"^request-\d{6}-[a-z_]{2,24}-[0-9A-Za-z]{4,40}$"
REQUEST_ID_RE = re.compile(REQUEST_ID_PATTERN)


def request_id_for(region_code: str, channel: str, ref: str) -> str:
    """The workflow id of a service request (``ref``: a random token or the hotline order number)."""
    return f"{REQUEST_PREFIX}{region_code}-{channel}-{ref}"


class RequestKind(StrEnum):
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    ONLINE_GUIDANCE = "online_guidance"


KIND_LABELS: dict[RequestKind, str] = {
    RequestKind.CONSULTATION: "咨询",
    RequestKind.COMPLAINT: "投诉",
    RequestKind.SUGGESTION: "建议",
    RequestKind.ONLINE_GUIDANCE: "网上办事指导",
}


class ServiceChannel(StrEnum):
    COUNTER = "counter"
    PHONE = "phone"
    HOTLINE = "hotline"
    ONLINE = "online"
    UNRESOLVED_WINDOW = "unresolved_window"


CHANNEL_LABELS: dict[ServiceChannel, str] = {
    ServiceChannel.COUNTER: "窗口",
    ServiceChannel.PHONE: "咨询电话",
    ServiceChannel.HOTLINE: "12333热线",
    ServiceChannel.ONLINE: "网上",
    ServiceChannel.UNRESOLVED_WINDOW: "办不成事窗口",
}

#: Topics a request is assigned by (with the region).
TOPIC_LABELS: dict[str, str] = {
    "claim": "失业保险金申领",
    "amount": "待遇标准",
    "payment": "待遇发放",
    "refund": "医保费退费",
    "subsidy": "技能提升补贴",
    "stop_reason": "停保原因",
    "service": "服务态度与作风",
    "online": "网上经办系统使用",
    "other": "其他",
}


#: Who takes a request of each topic in its region (the rest: the region's reviewers, who handle
#: the benefit business): a complaint about staff conduct goes to the supervisor, a question about
#: online services to the counter staff who guide people through them.
TOPIC_ROLES: dict[str, Role] = {"service": Role.SUPERVISOR, "online": Role.INTAKE_CLERK}


class RequestStage(StageEnum):
    """Where a request stands (the ``stage`` of its state and read model)."""

    RECEIVED = "received", "已受理"
    ASSIGNED = "assigned", "待联系"
    IN_PROGRESS = "in_progress", "办理中"
    SUPERVISOR = "supervisor", "主管督办"
    AWAITING_FEEDBACK = "awaiting_feedback", "待回访"
    REOPENED = "reopened", "复办中"
    CLOSED = "closed", "已办结"


class RequestStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


STATUS_LABELS: dict[RequestStatus, str] = {
    RequestStatus.OPEN: "办理中",
    RequestStatus.ANSWERED: "已答复",
    RequestStatus.CLOSED: "已办结",
}


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY = "basically"
    NOT_SATISFIED = "not_satisfied"


SATISFACTION_LABELS: dict[Satisfaction, str] = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY: "基本满意",
    Satisfaction.NOT_SATISFIED: "不满意",
}

#: The request's Updates (staff actions through the API's one Update path) and Signals.
TIMELINE = TimelineLabels(
    activities={
        "request_limits": ("check", "system", "uiflow", "查询办理时限"),
        "link_request": ("bookkeeping", "system", "uiflow", "关联案件"),
        "hotline_reply": ("external", "external", "hotline-12333", "向12333热线回复工单"),
        "hotline_close": ("external", "external", "hotline-12333", "向12333热线报送办结"),
    },
    updates={"contact": "联系诉求人", "answer": "答复诉求人", "follow_up": "回访记录"},
    signals={"feedback_reported": ("external", "hotline-12333", "热线回访结果")},
)

# --- input ---------------------------------------------------------------------------------------


class Requester(BaseModel):
    """Who asked (encrypted in the workflow input only). Anonymous hotline callers are allowed."""

    name: str = Field(default="", max_length=32)
    phone: str | None = Field(default=None, pattern=r"^1\d{10}$")
    applicant_key: str = Field(default="", max_length=64)


class RequestLimits(BaseModel):
    """The limits in force for a kind on the day of receipt (history records them)."""

    first_contact_hours: int
    reminder_hours: int
    resolution_working_days: int
    reminder_working_days: int
    follow_up_hours: int
    parameter_version: str


class ServiceRequestInput(BaseModel):
    case_id: str
    kind: RequestKind
    channel: ServiceChannel
    region_code: str = Field(pattern=r"^15\d{4}$")
    topic: str = "other"
    content: str = Field(min_length=2, max_length=4000)
    requester: Requester = Field(default_factory=Requester)
    #: A complaint about a claim, a period or a dispute names it.
    linked_case_id: str | None = Field(default=None, max_length=128)
    #: 办不成事: what went wrong at the other counter.
    problem: str = Field(default="", max_length=2000)
    #: Answered on the spot by the receiver (a consultation closes with the answer recorded).
    answer_on_spot: str = Field(default="", max_length=4000)
    hotline_order_id: str | None = Field(default=None, max_length=40)
    received_at: datetime
    submitted_by: StaffActor


# --- staff actions -------------------------------------------------------------------------------

ActionKind = Literal["contact", "answer", "follow_up"]


class RequestAction(BaseModel):
    """A staff action on a request (one Update each: ``contact``, ``answer``, ``follow_up``)."""

    actor: StaffActor
    note: str = Field(default="", max_length=4000)
    satisfaction: Satisfaction | None = None


class RequestActionRecord(BaseModel):
    kind: ActionKind
    by: str
    at: datetime
    note: str = ""
    satisfaction: Satisfaction | None = None


class FeedbackEvent(BaseModel):
    """Signal: the person's satisfaction from the hotline's return visit (verified callback)."""

    order_id: str
    satisfaction: Satisfaction
    comment: str = ""


# --- state ---------------------------------------------------------------------------------------


class ServiceRequestState(BaseModel):
    case_id: str
    kind: RequestKind
    channel: ServiceChannel
    status: RequestStatus
    stage: RequestStage
    region_code: str
    topic: str
    content: str
    requester_masked: str = ""
    linked_case_id: str | None = None
    problem: str = ""
    hotline_order_id: str | None = None
    received_at: datetime
    answered_at_once: bool = False
    assigned_role: str | None = None
    limits: RequestLimits | None = None
    first_contact_due: datetime | None = None
    resolution_due: date | None = None
    contacted_at: datetime | None = None
    answered_at: datetime | None = None
    answer: str = ""
    within_limit: bool | None = None
    overdue: bool = False
    escalated: bool = False
    reopened: int = 0
    satisfaction: Satisfaction | None = None
    reported_to_hotline: bool = False
    actions: list[RequestActionRecord] = Field(default_factory=list)
    blocked: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)


class ServiceRequestResult(BaseModel):
    case_id: str
    status: RequestStatus
    answered_at_once: bool
    within_limit: bool | None
    satisfaction: Satisfaction | None
    reopened: int
    escalated: bool


def mask_name(name: str) -> str:
    """张三丰 -> 张**: the read model shows who asked without naming them."""
    return (name[:1] + "*" * (len(name) - 1)) if name else ""
