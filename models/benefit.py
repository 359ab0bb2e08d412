"""The benefit period (失业保险金按月发放) after approval: inputs, state, staff commands (Updates),
external events (Signals) and the shapes the
payment activities exchange.

Why the months are data: a period runs for two years and more, is suspended and resumed, and may
be extended at expiry (续发, the transitional rule). Holding the benefit months as a schedule (the
entitlement's months, moved by a suspension, extended at expiry) lets the workflow pay each month
when its pay day comes relative to ``workflow.now()``, pay overdue months at once, and never
confuse "which benefit month" (the rate) with "which calendar month" (the base and the key).

Personal data (ID number, name, phone, account) lives only in ``PaymentDetails``, which travels
in encrypted payloads and is never copied into the state that staff query, the read model, search
attributes or logs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from models.case import TimelineEntry, TimelineLabels
from models.claim import ACCOUNT_RE, ClaimEntitlement, ClaimInput
from models.person import DocumentRef
from models.rules import NearRetirementOutcome, RetirementCategory, StopCondition, YearMonth
from models.staff import StaffActor

PERIOD_PREFIX = "period-"
BENEFIT_ORDER_KIND = "benefit"


def period_id_for(claim_case_id: str) -> str:
    """``claim-<region>-<applicant key>-<n>`` → ``period-<region>-<applicant key>-<n>``: no
    personal data, and one period per approved claim."""
    return PERIOD_PREFIX + claim_case_id.removeprefix("claim-")


LEGACY_SUFFIX = "legacy"


def legacy_period_id(region_code: str, applicant_key: str) -> str:
    """The period of a person brought in from the legacy system (``uiflow import periods``): one
    per person, so importing the same file twice starts nothing new (the id is reused)."""
    return f"{PERIOD_PREFIX}{region_code}-{applicant_key}-{LEGACY_SUFFIX}"


def benefit_order_key(case_id: str, pay_month: YearMonth) -> str:
    """The payment order's idempotency key (case, benefit month). Keyed by the calendar month paid,
    so that whatever moves a benefit month (a suspension), one calendar month is never paid twice."""
    return f"{BENEFIT_ORDER_KIND}:{case_id}:{pay_month}"


def premium_key(case_id: str, month: YearMonth) -> str:
    return f"premium:{case_id}:{month}"


def mask_account(account_no: str) -> str:
    return "****" + account_no[-4:] if len(account_no) >= 4 else "****"


# --- input -----------------------------------------------------------------------------------------


class PaymentDetails(BaseModel):
    """Where and to whom the money goes, and how to reach the person. Encrypted in payloads."""

    id_number: str = Field(pattern=r"^\d{17}[\dX]$")  # the medical-insurance system is keyed by it
    name: str = Field(min_length=1, max_length=64)  # the bank checks the account holder's name
    phone: str
    account_no: str
    bank_name: str = ""

    @field_validator("account_no")
    @classmethod
    def _account(cls, v: str) -> str:
        v = v.replace(" ", "")
        if not ACCOUNT_RE.match(v):
            raise ValueError("银行账号应为12至30位数字")
        return v


class PeriodTimings(BaseModel):
    """Operator-configurable timings, fixed at the start of a period so that its history records
    them (as ``ClaimTimings`` for the claim)."""

    pay_day: int = Field(default=10, ge=1, le=28)  # the region's pay day of each month
    pay_hour: int = Field(default=9, ge=0, le=23)  # the batch is released at this hour (Asia/Shanghai)
    # Continue-as-new after this many paid months in one run (one benefit year), or earlier when
    # the server suggests it.
    months_per_run: int = Field(default=12, ge=1)
    # How long the transitional rule's offer stays open for the person's application (UNCONFIRMED:
    # the notice gives no time limit).
    application_window_days: int = Field(default=365, ge=1)


class BenefitPeriodInput(BaseModel):
    """The hand-off from an approved claim. ``carry`` is set only by continue-as-new."""

    case_id: str
    claim_case_id: str
    applicant_key: str
    region_code: str = Field(pattern=r"^15\d{4}$")
    person: PaymentDetails
    entitlement: ClaimEntitlement
    category: RetirementCategory
    birth_month: YearMonth
    # None: derived from the benefit months and the parameter
    # ``near_retirement.transitional_receiving_date`` when the period reaches its last month.
    receiving_on_2024_12_31: bool | None = None
    approved_at: datetime
    timings: PeriodTimings = Field(default_factory=PeriodTimings)
    carry: PeriodCarry | None = None
    # A person already receiving in the legacy system (issue 14): what was paid there. The
    # entitlement's schedule then holds only the months still to pay. None for a claim's period.
    imported: ImportedHistory | None = None

    @classmethod
    def from_claim(
        cls,
        inp: ClaimInput,
        ent: ClaimEntitlement,
        approved_at: datetime,
        category: RetirementCategory | None = None,
    ) -> BenefitPeriodInput:
        """``category`` is the one the claim's checks used (None only in histories recorded before
        the claim took it from the record or the clerk)."""
        app = inp.application
        return cls(
            case_id=period_id_for(inp.case_id),
            claim_case_id=inp.case_id,
            applicant_key=inp.applicant_key,
            region_code=app.region_code,
            person=PaymentDetails(
                id_number=app.id_number,
                name=app.name,
                phone=app.phone,
                account_no=app.bank_account,
                bank_name=app.bank_name,
            ),
            entitlement=ent,
            category=category or app.category(),
            birth_month=YearMonth(int(app.id_number[6:10]), int(app.id_number[10:12])),
            approved_at=approved_at,
        )


class ImportedHistory(BaseModel):
    """A legacy recipient's history as the import file states it (docs/import.md): months paid by
    the legacy system, their total, the ordinary entitlement, and any 续发 or transitional
    extension already granted there (with the near-retirement view it implies, so it is not
    assessed again)."""

    source_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    line: int = Field(ge=2)
    ordinary_months: int = Field(ge=1, le=24)
    months_paid: int = Field(ge=0)
    paid_through: YearMonth | None = None
    total_paid: Decimal = Field(ge=0)
    continuation: Literal["none", "continuation", "transitional"] = "none"
    continuation_through: YearMonth | None = None
    near_retirement: NearRetirementView | None = None

    def basis(self, month_index: int) -> MonthBasis:
        if month_index <= self.ordinary_months or self.continuation == "none":
            return "ordinary"
        return self.continuation


# --- state -----------------------------------------------------------------------------------------


class PeriodStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    AWAITING_ACCOUNT = "awaiting_account"
    AWAITING_APPLICATION = "awaiting_application"
    CLOSED = "closed"


PERIOD_STATUS_LABELS = {
    PeriodStatus.ACTIVE: "按月发放中",
    PeriodStatus.SUSPENDED: "暂停发放",
    PeriodStatus.AWAITING_ACCOUNT: "待变更收款账户",
    PeriodStatus.AWAITING_APPLICATION: "待本人申请过渡期发放",
    PeriodStatus.CLOSED: "已办结",
}

MonthBasis = Literal["ordinary", "continuation", "transitional"]
BASIS_LABELS: dict[str, str] = {"ordinary": "核定期限", "continuation": "续发", "transitional": "过渡期发放"}


class ScheduledMonth(BaseModel):
    """One benefit month. ``month_index`` fixes the rate (months 1–12 higher); ``pay_month`` is the
    calendar month it is paid for (the base, the premium month and the idempotency key)."""

    month_index: int = Field(ge=1)
    pay_month: YearMonth
    basis: MonthBasis = "ordinary"
    status: Literal["scheduled", "paid", "stopped"] = "scheduled"
    pay_date: date | None = None  # the business day it falls due (None until known)
    moved_from: YearMonth | None = None  # the original month, when a suspension moved it


class MonthPayment(BaseModel):
    month_index: int
    pay_month: YearMonth
    basis: MonthBasis
    amount: Decimal
    rate: Decimal
    base: Decimal
    parameter_version: str
    order_key: str
    bank_ref: str
    paid_at: datetime
    batch_id: str | None = None


class PremiumRecord(BaseModel):
    """A month's medical premium paid on the person's behalf (代缴), or why not (notice item 4)."""

    month: YearMonth
    status: Literal["paid", "failed"]
    total: Decimal = Decimal("0")
    payment_no: str | None = None
    reason_code: str | None = None
    reason_zh: str | None = None
    missing_items: list[str] = Field(default_factory=list)  # items with no standard configured


class StopReason(StrEnum):
    """Why payment stops: the statutory list (社保法 Art. 51; 条例 Art. 15), plus death (Art. 49)."""

    REEMPLOYED = "reemployed"
    MILITARY_SERVICE = "military_service"
    EMIGRATED = "emigrated"
    PENSION = "pension"
    IMPRISONED = "imprisoned"
    REFUSED_JOB_OR_TRAINING = "refused_job_or_training"
    OTHER_STATUTORY = "other_statutory"
    DEATH = "death"

    @property
    def label_zh(self) -> str:
        return "死亡" if self is StopReason.DEATH else StopCondition(self.value).label

    @property
    def legal_basis(self) -> str:
        return "社会保险法第四十九条" if self is StopReason.DEATH else StopCondition(self.value).legal_basis


class StopRecord(BaseModel):
    reason: StopReason
    label: str
    legal_basis: str
    on: date  # the day the event happened
    effective_from: YearMonth  # the first month no longer paid
    source: str  # the system that told us, or the staff login
    by_staff: bool
    reference: str = ""
    note: str = ""
    recorded_at: datetime
    unused_months: int  # ordinary months left unpaid (kept for a later claim's carry-over)
    overpaid_months: list[YearMonth] = Field(default_factory=list)  # paid before we heard: to recover


class Suspension(BaseModel):
    ref: str
    reason_zh: str
    source: str
    since: date
    opened_at: datetime
    lifted_on: date | None = None
    lifted_by: str | None = None
    months_moved: int = 0


class NearRetirementView(BaseModel):
    """What ``policy.near_retirement`` said at expiry, recorded as the activity returned it."""

    expiry: YearMonth
    outcome: NearRetirementOutcome
    pay_through: YearMonth | None
    requires_application: bool
    retirement_month: YearMonth
    original_retirement_month: YearMonth
    months_to_retirement: int
    months_to_original_retirement: int
    pension_support_from: YearMonth | None
    pension_support_through: YearMonth | None
    receiving_on_2024_12_31: bool
    parameter_version: str


class PeriodState(BaseModel):
    """What staff query, and what continue-as-new carries. No personal data beyond the masked
    ID number and the name the claim's read model already shows."""

    case_id: str
    claim_case_id: str
    region_code: str
    status: PeriodStatus = PeriodStatus.ACTIVE
    stage: str = "scheduled"
    applicant_name: str
    applicant_id_masked: str
    account_masked: str
    account_version: int = 1
    schedule: list[ScheduledMonth]
    payments: list[MonthPayment] = Field(default_factory=list)
    premiums: list[PremiumRecord] = Field(default_factory=list)
    stops: list[StopRecord] = Field(default_factory=list)
    suspensions: list[Suspension] = Field(default_factory=list)
    near_retirement: NearRetirementView | None = None
    application_deadline: datetime | None = None  # the transitional offer stays open until then
    extension_applied_at: datetime | None = None
    rejected_account_version: int | None = None  # the account the bank refused, while awaiting a new one
    close_reason: str | None = None
    closed_at: datetime | None = None
    run: int = 1  # 1 + the number of continue-as-new so far
    blocked: str | None = None
    # Events received but not yet applied (applied between payments, never half way through one).
    pending_stops: list[StopRecord] = Field(default_factory=list)
    pending_suspensions: list[Suspension] = Field(default_factory=list)
    pending_resumptions: list[ResumeEvent] = Field(default_factory=list)
    transitional_application: TransitionalApplication | None = None
    continuation_application: ContinuationApplication | None = None
    transfers: list[TransferRecord] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @property
    def months_paid(self) -> int:
        return len(self.payments)

    @property
    def total_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0"))

    @property
    def open_suspensions(self) -> list[Suspension]:
        return [s for s in self.suspensions if s.lifted_on is None]

    @property
    def unused_months(self) -> int:
        """Ordinary months stopped before they were paid: a later claim carries them (A3)."""
        return sum(1 for m in self.schedule if m.status == "stopped" and m.basis == "ordinary")


class PeriodCarry(BaseModel):
    """What continue-as-new hands to the next run besides the (possibly changed) input."""

    state: PeriodState
    projection_version: int


class PeriodResult(BaseModel):
    case_id: str
    status: PeriodStatus
    close_reason: str | None
    months_paid: int
    total_paid: Decimal
    unused_months: int
    extension: NearRetirementOutcome | None = None


# --- events (Signals) and staff commands (Updates) ---------------------------------------------------


class StopEvent(BaseModel):
    """From another system (employment registration, pension, civil affairs, public security)."""

    reason: StopReason
    on: date
    source: str = Field(min_length=1, max_length=64, examples=["employment-registry"])
    reference: str = Field(default="", max_length=128)


class StaffStopCommand(BaseModel):
    actor: StaffActor
    reason: StopReason
    on: date
    note: str = Field(min_length=2, max_length=500, description="核实情况说明")
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class SuspendEvent(BaseModel):
    """A verification opened elsewhere (e.g. a risk check) that holds payment until it closes."""

    ref: str = Field(min_length=1, max_length=128)
    reason_zh: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=64)
    on: date


class ResumeEvent(BaseModel):
    ref: str = Field(min_length=1, max_length=128)
    on: date
    by: str = ""
    note: str = Field(default="", max_length=500)


class StaffSuspendCommand(BaseModel):
    actor: StaffActor
    reason_zh: str = Field(min_length=2, max_length=200)
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class StaffResumeCommand(BaseModel):
    actor: StaffActor
    ref: str | None = None  # None: every open suspension
    note: str = Field(default="", max_length=500)
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class AccountChangeCommand(BaseModel):
    """Counter staff enter the person's new account (after the bank refused the old one, or on
    request); the name must be the person's own (the bank checks it)."""

    actor: StaffActor
    account_no: str
    bank_name: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=500)
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)

    @field_validator("account_no")
    @classmethod
    def _account(cls, v: str) -> str:
        v = v.replace(" ", "")
        if not ACCOUNT_RE.match(v):
            raise ValueError("银行账号应为12至30位数字")
        return v


class TransitionalApplication(BaseModel):
    """The person applies to keep receiving to the pre-reform retirement month (notice item 3):
    online (``by="applicant"``) or at a counter (``actor`` is the clerk)."""

    by: str = "applicant"
    actor: StaffActor | None = None
    note: str = Field(default="", max_length=500)
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class ContinuationApplication(BaseModel):
    """The person applies at a counter for 续发 to retirement (domain.md C6 Rule 1). The rule itself
    needs no application (agencies find these people by data matching, and the period extends at
    expiry by itself); a person who asks is recorded, told where their case stands, and their
    declaration (still unemployed) is kept with its evidence for the 核定续发 at expiry."""

    actor: StaffActor
    note: str = Field(default="", max_length=500)
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class TransferCommand(BaseModel):
    """The person moved to another district of Inner Mongolia: the one period moves with them (its
    region, its schedule rows, its pay day), never a second period (core/benefits.py)."""

    actor: StaffActor
    to_region: str = Field(pattern=r"^15\d{4}$")
    note: str = Field(default="", max_length=500)
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class TransferRecord(BaseModel):
    from_region: str
    to_region: str
    by: str
    at: datetime
    note: str = ""


class AccountHolderCheck(BaseModel):
    """The bank's holder-name check of an account before it is used (activity input)."""

    account_no: str
    name: str


class AccountHolderResult(BaseModel):
    match: bool
    code: str = ""
    message_zh: str = ""


class MoveScheduleRequest(BaseModel):
    """A transfer: the period's open schedule rows go to the new region's pay day."""

    case_id: str
    to_region: str
    pay_day: int


class PeriodReceipt(BaseModel):
    case_id: str
    status: str
    stage: str
    message_zh: str


# --- activity requests and results -------------------------------------------------------------------


class NearRetirementRequest(BaseModel):
    category: RetirementCategory
    birth_month: YearMonth
    expiry: YearMonth
    receiving_on_2024_12_31: bool | None
    benefit_months: list[YearMonth]  # histories before paid_months: receipt derived from these
    # The calendar months paid for (ordinary and 续发): "receiving on 2024-12-31" means paid for
    # that month (policy.near_retirement.receiving_on). None in histories recorded before.
    paid_months: list[YearMonth] | None = None


ImportedHistory.model_rebuild()
BenefitPeriodInput.model_rebuild()
PeriodState.model_rebuild()


#: The benefit period's and the pay-day run's activities and Updates, with the labels the
#: timeline shows (``core/timeline.py`` reads them from here).
TIMELINE = TimelineLabels(
    activities={
        "pay_date": ("check", "system", "uiflow", "计算发放日"),
        "enrol_in_payroll": ("check", "system", "uiflow", "登记发放批次"),
        "prepare_payment": ("check", "system", "uiflow", "生成支付指令"),
        "disburse": ("external", "external", "bank", "银行代发"),
        "pay_premium": ("external", "external", "medical-insurance", "代缴医疗保险费"),
        "near_retirement_outcome": ("check", "system", "uiflow", "临近退休政策判定"),
        "record_payroll_batch": ("bookkeeping", "system", "uiflow", "记录发放批次"),
        # the set-based pay day (docs/payments.md §0); the labels above stay for archived histories
        "sync_schedule": ("check", "system", "uiflow", "写入发放计划"),
        "period_ledger": ("check", "system", "uiflow", "查询发放台账"),
        "verify_account_holder": ("external", "external", "bank", "银行账户户名核验"),
        "move_schedule_region": ("check", "system", "uiflow", "发放计划转入新发放地"),
        "payday_cutoff": ("check", "system", "uiflow", "发放日截止"),
        "pay_chunk": ("external", "external", "bank", "批量代发（分片）"),
        "payday_reconcile": ("check", "system", "uiflow", "发放对账与通知"),
        "payday_next": ("check", "system", "uiflow", "安排下一发放日"),
    },
    updates={
        "stop_by_staff": "停发",
        "suspend_by_staff": "暂停发放",
        "resume_by_staff": "恢复发放",
        "change_account": "变更银行账户",
        "apply_transitional": "申请过渡期待遇",
        "apply_continuation": "申请续发",
        "transfer_region": "转移发放地",
    },
)
