"""The stop-reason dispute (停保原因争议), notice item 5, and the multi-level review it goes through.

A person cannot claim because the former employer recorded the stop-insurance reason as voluntary
resignation (or similar). Either the employer applies on the website, or the person applies at a
counter; staff review at three levels (初审、复审、终审); the record system is then changed, through
an operations ticket if its front end refuses; and the person's claim is re-checked.

The dispute's own shapes live here: application, documents required per channel, workflow
input, state (Query), result, and the ticket outcome (Signal). The review shapes it goes through
are the kit's (``models/review.py``); the names the API and console still import from here are
re-exported below.

Plain pydantic models (temporal-notes §3). No full ID number ever reaches the state, the read
model or a search attribute: the application (encrypted payload) holds it, the state the mask."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from models.case import TimelineEntry, TimelineLabels
from models.enums import CaseType, Channel, Role, StageEnum
from models.person import DocumentRef, PersonFields
from models.review import (
    REVIEW_ACTION_LABELS,
    ReviewAction,
    ReviewChainState,
    ReviewCommand,
    ReviewLevelSpec,
)
from models.staff import StaffActor

__all__ = ["REVIEW_ACTION_LABELS", "ReviewAction", "ReviewCommand"]  # re-exported for api/ (see above)

# =====================================================================================================
# The stop-reason dispute
# =====================================================================================================

# --- the case type's contract -------------------------------------------------------------------

CASE_TYPE = CaseType.STOP_REASON_DISPUTE
DISPUTE_PREFIX = "dispute-"
#: ``dispute-<region>-<applicant key>-<n>``: the applicant key is an HMAC, never the ID number.
DISPUTE_ID_PATTERN = r"^dispute-\d{6}-[0-9a-f]{8,64}-[0-9a-z]{1,16}$"


def dispute_id_for(region_code: str, applicant_key: str, n: int | str) -> str:
    """The workflow id of a person's ``n``-th stop-reason dispute in a district."""
    return f"{DISPUTE_PREFIX}{region_code}-{applicant_key}-{n}"


class DisputeStage(StageEnum):
    """Where a dispute stands (the ``stage`` of its state and read model)."""

    INTAKE = "intake", "受理中"
    REVIEW = "review", "待审核"
    INITIAL_REVIEW = "initial_review", "初审"
    SECOND_REVIEW = "second_review", "复审"
    FINAL_REVIEW = "final_review", "终审"
    APPLYING_CHANGE = "applying_change", "变更停保原因中"
    AWAITING_TICKET = "awaiting_ticket", "待运维工单办结"
    CLOSED = "closed", "已办结"


#: The dispute's Updates (one per review level, through the review kit) and Signals, with the
#: labels the timeline shows; the API calls them by these names.
TIMELINE = TimelineLabels(
    activities={
        "read_stop_reason": ("external", "external", "insurance-record", "查询停保原因记录"),
        "change_stop_reason": ("external", "external", "insurance-record", "变更停保原因"),
        "open_ticket": ("external", "external", "demand-platform", "提交运维工单"),
        "get_ticket": ("external", "external", "demand-platform", "查询运维工单"),
        "find_open_claim": ("check", "system", "uiflow", "查找未办结的申领"),
    },
    updates={"initial_review": "初审", "second_review": "复审", "final_review": "终审"},
)

DISPUTE_LEVELS: tuple[tuple[str, str, Role], ...] = (
    ("initial", "初审", Role.REVIEWER),
    ("second", "复审", Role.SECOND_REVIEWER),
    ("final", "终审", Role.FINAL_REVIEWER),
)


def dispute_review_levels(
    initial_days: int = 5, second_days: int = 5, final_days: int = 5, reminder_days: int = 1
) -> list[ReviewLevelSpec]:
    """The three dispute levels with their working-day limits (configurable per case)."""
    days = (initial_days, second_days, final_days)
    return [
        ReviewLevelSpec(key=k, label_zh=lbl, role=r, working_days=d, reminder_working_days=reminder_days)
        for (k, lbl, r), d in zip(DISPUTE_LEVELS, days, strict=True)
    ]


# --- documents -------------------------------------------------------------------------------------

DOCUMENT_KIND_LABELS: dict[str, str] = {
    "termination_agreement": "解除（终止）劳动合同协议",
    "termination_certificate": "解除（终止）劳动合同证明",
    "reason_change_statement": "单位关于变更停保原因的情况说明",
    "arbitration_award": "劳动人事争议仲裁裁决书",
    "mediation_award": "劳动人事争议调解书",
    "court_document": "人民法院判决书、裁定书或调解书",
    "other": "其他材料",
}


class DocumentRequirement(BaseModel):
    """At least one document of ``kinds`` is needed."""

    key: str
    label_zh: str
    kinds: tuple[str, ...]


#: What each channel must upload (notice item 5): the employer the termination agreement and a
#: statement on the change; the person the agreement or certificate, or an arbitration or
#: mediation award, or court documents (any one of them).
REQUIRED_DOCUMENTS: dict[Channel, tuple[DocumentRequirement, ...]] = {
    Channel.EMPLOYER_WEBSITE: (
        DocumentRequirement(
            key="termination_agreement",
            label_zh=DOCUMENT_KIND_LABELS["termination_agreement"],
            kinds=("termination_agreement",),
        ),
        DocumentRequirement(
            key="reason_change_statement",
            label_zh=DOCUMENT_KIND_LABELS["reason_change_statement"],
            kinds=("reason_change_statement",),
        ),
    ),
    Channel.COUNTER: (
        DocumentRequirement(
            key="basis",
            label_zh="解除（终止）劳动合同协议或证明、劳动人事争议仲裁裁决书或调解书、人民法院文书（至少一项）",
            kinds=(
                "termination_agreement",
                "termination_certificate",
                "arbitration_award",
                "mediation_award",
                "court_document",
            ),
        ),
    ),
}


def missing_documents(channel: Channel, documents: list[DocumentRef]) -> list[DocumentRequirement]:
    """The requirements of ``channel`` that ``documents`` do not meet (empty: complete)."""
    kinds = {d.kind for d in documents}
    return [req for req in REQUIRED_DOCUMENTS.get(channel, ()) if not kinds.intersection(req.kinds)]


# --- application and input ---------------------------------------------------------------------------


class DisputeApplication(PersonFields):
    """What the employer (website) or the clerk (counter) submits. The ID number stays in the
    encrypted workflow input; the state carries the mask only."""

    phone: str = Field(examples=["13912345678"], description="申请人（劳动者）手机号码，用于告知办理结果")
    region_code: str = Field(pattern=r"^15\d{4}$", examples=["150102"], description="参保地（旗县区）代码")
    employer_credit_code: str = Field(pattern=r"^[0-9A-Z]{18}$", examples=["91150100012345678F"])
    requested_reason_code: str = Field(
        pattern=r"^[a-z_]{1,64}$",
        examples=["employer_dismissal"],
        description="申请变更为的停保原因代码（参保记录系统代码表）",
    )
    statement: str = Field(default="", max_length=2000, description="变更停保原因的理由说明")
    documents: list[DocumentRef] = Field(default_factory=list, max_length=20)


class DisputeTimings(BaseModel):
    """Operator-configurable limits, fixed at the start of a dispute so its history records them."""

    levels: list[ReviewLevelSpec] = Field(default_factory=dispute_review_levels, min_length=1)
    #: How often the workflow asks the demand platform about an open ticket, in case the callback
    #: never arrives.
    ticket_recheck_hours: int = Field(default=24, ge=1, le=24 * 30)


class DisputeInput(BaseModel):
    case_id: str
    applicant_key: str
    application: DisputeApplication
    channel: Literal[Channel.EMPLOYER_WEBSITE, Channel.COUNTER]
    received_at: datetime
    #: Who filed it: the clerk, or the employer (login = its credit code, role ``employer``).
    submitted_by: StaffActor
    employer_name: str = ""
    timings: DisputeTimings = Field(default_factory=DisputeTimings)


# --- state --------------------------------------------------------------------------------------------


class DisputeStatus(StrEnum):
    UNDER_REVIEW = "under_review"
    APPLYING_CHANGE = "applying_change"
    AWAITING_TICKET = "awaiting_ticket"
    CHANGED = "changed"
    REJECTED = "rejected"
    CHANGE_FAILED = "change_failed"
    CLOSED = "closed"


DISPUTE_STATUS_LABELS: dict[DisputeStatus, str] = {
    DisputeStatus.UNDER_REVIEW: "审核中",
    DisputeStatus.APPLYING_CHANGE: "变更停保原因中",
    DisputeStatus.AWAITING_TICKET: "待运维工单办结",
    DisputeStatus.CHANGED: "已变更停保原因",
    DisputeStatus.REJECTED: "未通过审核",
    DisputeStatus.CHANGE_FAILED: "停保原因未能变更",
    DisputeStatus.CLOSED: "已办结",
}
TERMINAL_DISPUTE_STATUSES = frozenset(
    {DisputeStatus.CHANGED, DisputeStatus.REJECTED, DisputeStatus.CHANGE_FAILED, DisputeStatus.CLOSED}
)
OPEN_DISPUTE_STATUSES = frozenset(s.value for s in DisputeStatus if s not in TERMINAL_DISPUTE_STATUSES)


class StopReasonView(BaseModel):
    """A stop reason as the record system's code table describes it."""

    code: str
    label: str
    involuntary: bool | None = None


class StopReasonSnapshot(BaseModel):
    """What the record system shows for the person and employer, and what the requested code means
    in its code table."""

    found: bool
    current: StopReasonView | None = None
    requested: StopReasonView
    requested_known: bool


class ChangeOutcome(BaseModel):
    """The record system's answer to the change: done, or refused because only an engineer may
    change the record (``record.locked``)."""

    changed: bool
    record: StopReasonView | None = None
    refusal_code: str | None = None
    refusal_message: str | None = None


class TicketView(BaseModel):
    ticket_id: str
    status: Literal["open", "resolved", "rejected"]
    opened_at: datetime
    resolved_at: datetime | None = None
    engineer: str | None = None
    resolution: str | None = None
    via: Literal["callback", "recheck"] | None = None
    rechecks: int = 0


class TicketOutcome(BaseModel):
    """Signal: the demand platform closed the ticket (from the API's signed callback)."""

    ticket_id: str
    status: Literal["resolved", "rejected"]
    resolution: str | None = None
    engineer: str | None = None
    resolved_at: datetime | None = None


class ReasonChange(BaseModel):
    """Who changed what: the record of the change itself."""

    via: Literal["front_end", "ops_ticket"]
    old: StopReasonView | None
    new: StopReasonView
    changed_by: str  # the final reviewer (front end) or the operations engineer (ticket)
    ticket_id: str | None = None
    at: datetime


class DisputeState(BaseModel):
    case_id: str
    status: DisputeStatus
    stage: str
    region_code: str
    channel: Channel
    received_at: datetime
    submitted_by: str
    applicant_name: str
    applicant_id_masked: str
    employer_credit_code: str
    employer_name: str = ""
    requested_reason: StopReasonView
    current_reason: StopReasonView | None = None
    statement: str = ""
    documents: list[DocumentRef] = Field(default_factory=list)
    review: ReviewChainState
    ticket: TicketView | None = None
    change: ReasonChange | None = None
    claim_id: str | None = None
    claim_action: Literal["signalled", "apply_now"] | None = None
    close_reason: str | None = None
    blocked: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)


class DisputeResult(BaseModel):
    case_id: str
    status: DisputeStatus
    change: ReasonChange | None = None
    ticket_id: str | None = None
    claim_id: str | None = None
    close_reason: str | None = None
