"""The medical-premium refund (医保费返还, notice item 4; domain.md F): the case type's contract.

A recipient whose medical premium the agency could not pay on his behalf because he was insured as
a flexible worker and paid it himself may, after the contribution year ends or after his benefit
period ends, ask for it back: month by month for those failed months only,
``min(self-paid per the medical-insurance system, the on-behalf standard of that month)``, never a
month the agency paid, never twice (the refund ledger: one row per person and month). One level of
review (a reviewer of the region) on the kit's ``DecisionDesk``, then one payment under
``premium-refund:<case>`` through the bank path the benefits use.

Shapes only check formats; the ID checksum is the API's."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from models.case import DeadlineInfo, TimelineEntry, TimelineLabels
from models.enums import CaseType, Channel, LabelledEnum, StageEnum
from models.person import ACCOUNT_RE, DocumentRef, PersonFields
from models.review_once import OnceDecision, OnceDecisionCommand, OncePayment, OncePayRequest
from models.rules import YearMonth

# --- the case type's contract -------------------------------------------------------------------

CASE_TYPE = CaseType.PREMIUM_REFUND
REFUND_PREFIX = "refund-"
#: ``refund-<region>-<applicant key>-<n>``: the applicant key is an HMAC, never the ID number.
REFUND_ID_PATTERN = r"^refund-\d{6}-[0-9a-f]{8,64}-[0-9a-z]{1,16}$"
PAYMENT_KEY_PREFIX = "premium-refund:"
ORDER_KIND = "premium_refund"
YEAR_END_PREFIX = "refund-year-end-"
MISSING_STANDARD_PREFIX = "premium-standard-entered-"


def refund_id_for(region_code: str, applicant_key: str, n: int | str) -> str:
    return f"{REFUND_PREFIX}{region_code}-{applicant_key}-{n}"


def payment_key(case_id: str) -> str:
    """The refund's own idempotency key: one payment per case, whatever retries or replays happen."""
    return f"{PAYMENT_KEY_PREFIX}{case_id}"


def year_end_id(year: int) -> str:
    return f"{YEAR_END_PREFIX}{year}"


class RefundStage(StageEnum):
    CHECKS = "checks", "核对缴费记录中"
    REVIEW = "review", "待审核"
    AWAITING_REAPPLICATION = "awaiting_reapplication", "未通过，可重新申请"
    PAYING = "paying", "待发放"
    PAID = "paid", "已返还"
    CLOSED = "closed", "已办结"


class RefundStatus(LabelledEnum):
    CHECKING = "checking"
    UNDER_REVIEW = "under_review"
    REJECTED = "rejected"
    APPROVED = "approved"
    PAID = "paid"
    CLOSED = "closed"


REFUND_STATUS_LABELS = {
    RefundStatus.CHECKING: "核对缴费记录中",
    RefundStatus.UNDER_REVIEW: "待审核",
    RefundStatus.REJECTED: "未通过（可重新申请）",
    RefundStatus.APPROVED: "已核准，待返还",
    RefundStatus.PAID: "已返还",
    RefundStatus.CLOSED: "已办结",
}

#: When the person may apply: after the contribution year ends, or after his benefit period ends.
RefundBasis = Literal["year_end", "period_end"]
BASIS_LABELS: dict[str, str] = {"year_end": "医保缴费年度结束后", "period_end": "领取失业保险金期满后"}

TIMELINE = TimelineLabels(
    activities={
        "refund_window": ("check", "system", "uiflow", "核对可申请返还的时间"),
        "failed_premium_months": ("check", "system", "uiflow", "查询代缴失败月份"),
        "self_payments": ("external", "external", "medical-insurance", "医保系统个人缴费记录查询"),
        "assess_refund": ("check", "system", "uiflow", "逐月核算返还金额"),
        "record_refund": ("check", "system", "uiflow", "登记返还台账"),
        "pay_refund": ("external", "external", "bank", "医保费返还发放"),
        "year_end_run": ("check", "system", "uiflow", "年度可返还人员筛查并逐人告知"),
        "pay_missing_standard": ("external", "external", "medical-insurance", "补缴代缴标准缺失月份"),
    },
    updates={
        "decide_refund": "医保费返还审核",
        "reapply": "重新申请",
    },
)


class ClaimedMonth(BaseModel):
    """A month the person says he paid himself, with the amount on his receipt."""

    month: YearMonth
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)


class RefundApplication(PersonFields):
    """What the clerk (counter, with the receipts) or the signed-in applicant (online) files."""

    region_code: str = Field(pattern=r"^15\d{4}$", examples=["150102"])
    basis: RefundBasis
    #: For ``year_end``: the contribution year that ended. For ``period_end``: ignored (the months
    #: are those of the period that ended).
    year: int | None = Field(default=None, ge=2000, le=2100)
    claimed: list[ClaimedMonth] = Field(default_factory=list, max_length=36)
    receipts: list[DocumentRef] = Field(default_factory=list, max_length=36)
    bank_account: str
    bank_name: str = Field(default="", max_length=64)

    @field_validator("bank_account")
    @classmethod
    def _account(cls, v: str) -> str:
        v = v.replace(" ", "")
        if not ACCOUNT_RE.match(v):
            raise ValueError("银行账号应为12至30位数字")
        return v


class RefundTimings(BaseModel):
    reapply_window_days: int = 60


class RefundInput(BaseModel):
    case_id: str
    applicant_key: str
    application: RefundApplication
    channel: Channel
    received_at: datetime
    submitted_by: str  # clerk login or "applicant"
    timings: RefundTimings = Field(default_factory=RefundTimings)


# --- checks -------------------------------------------------------------------------------------


class WindowQuery(BaseModel):
    applicant_key: str
    basis: RefundBasis
    year: int | None = None
    applied_on: date


class RefundWindow(BaseModel):
    """Whether the person may apply now; if not, from which date. ``months`` is the scope: the
    contribution year's months, or the ended period's."""

    open: bool
    apply_from: date | None = None
    apply_until: date | None = None
    months: list[YearMonth] = Field(default_factory=list)
    reason_zh: str = ""
    period_id: str | None = None
    review_working_days: int = 10  # refund.review_working_days, read with the window
    reminder_working_days: int = 2


class FailedMonthsQuery(BaseModel):
    applicant_key: str
    months: list[YearMonth]


class FailedMonth(BaseModel):
    """A benefit month whose on-behalf payment failed, as the pay day recorded it."""

    month: YearMonth
    period_id: str
    reason_code: str | None = None
    reason_zh: str | None = None
    refundable: bool
    refunded_by: str | None = None  # the case that already refunded it (ledger)


class SelfPaymentsQuery(BaseModel):
    id_number: str
    months: list[YearMonth]


class SelfPayment(BaseModel):
    """What the medical-insurance system holds as paid by the person himself for a month."""

    month: YearMonth
    amount: Decimal
    receipt_no: str


class AssessRefundRequest(BaseModel):
    case_id: str
    months: list[YearMonth]
    failed: list[FailedMonth]
    self_paid: list[SelfPayment]
    claimed: list[ClaimedMonth]


class RefundLineView(BaseModel):
    month: YearMonth
    claimed: Decimal | None = None
    recorded: Decimal | None = None
    standard: Decimal | None = None
    refund: Decimal = Decimal("0")
    note_zh: str = ""  # why nothing, or the difference between claimed and recorded


class RefundAssessment(BaseModel):
    lines: list[RefundLineView]
    total: Decimal
    differences: int
    parameter_version: str


class RefundCheckReport(BaseModel):
    checked_at: datetime
    window: RefundWindow
    assessment: RefundAssessment | None = None


# --- staff decisions ----------------------------------------------------------------------------


class RefundDecisionCommand(OnceDecisionCommand):
    reason: str = Field(default="", max_length=500, description="不予返还的理由")


class RefundReapply(BaseModel):
    by: str
    claimed: list[ClaimedMonth] | None = None
    receipts: list[DocumentRef] = Field(default_factory=list)
    note: str = Field(default="", max_length=500)


class RefundDecision(OnceDecision):
    pass


class RefundRound(BaseModel):
    n: int
    started_at: datetime
    deadline: DeadlineInfo | None = None
    report: RefundCheckReport | None = None
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    decision: RefundDecision | None = None


class LedgerRequest(BaseModel):
    case_id: str
    applicant_key: str
    region_code: str
    lines: list[RefundLineView]


class RefundPayment(OncePayment):
    months: list[RefundLineView] = Field(default_factory=list)


class PayRefundRequest(OncePayRequest):
    pass


class RefundState(BaseModel):
    case_id: str
    status: RefundStatus
    stage: str
    region_code: str
    channel: Channel
    basis: RefundBasis
    year: int | None = None
    received_at: datetime
    applicant_name: str
    applicant_id_masked: str
    receipts: list[str] = Field(default_factory=list)  # sha256 of the receipt documents
    overdue: bool = False
    escalated: bool = False
    rounds: list[RefundRound] = Field(default_factory=list)
    ledger: list[RefundLineView] = Field(default_factory=list)  # months this case refunds
    payment: RefundPayment | None = None
    close_reason: str | None = None
    blocked: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @property
    def current_round(self) -> RefundRound | None:
        return self.rounds[-1] if self.rounds else None


class RefundResult(BaseModel):
    case_id: str
    status: RefundStatus
    close_reason: str | None = None
    amount: Decimal | None = None
    rounds: int


# --- the year-end run and the late standard -------------------------------------------------------


class YearEndInput(BaseModel):
    """Started by the Schedule after each contribution year end; ``year`` None means the year that
    ended most recently before the run."""

    year: int | None = None


class YearEndRequest(BaseModel):
    year: int | None = None
    as_of: date


class YearEndPerson(BaseModel):
    applicant_key: str
    region_code: str
    months: list[YearMonth]
    estimate: Decimal


class YearEndDistrict(BaseModel):
    region_code: str
    people: int
    months: int
    estimate: Decimal


class YearEndReport(BaseModel):
    year: int
    apply_until: date
    people: int
    months: int
    estimate: Decimal
    districts: list[YearEndDistrict] = Field(default_factory=list)
    notified: int = 0


class MissingStandardRequest(BaseModel):
    """Months that failed as "standard missing", paid now that an operator entered the standard."""

    as_of: date


class MissingStandardResult(BaseModel):
    paid: int = 0
    still_waiting: int = 0
    beyond_limit: int = 0
    notified: int = 0
