"""The skill-upgrade subsidy (技能提升补贴, notice item 6; domain.md E): the case type's contract.

One case per certificate application: automatic checks (each an activity), a one-level review on
the kit's ``DecisionDesk`` within 10 working days of a complete application (经办条例 Art. 24),
reject → re-application like the claim, then one payment under the key ``subsidy:<case>``.

Shapes only check formats; the ID checksum is the API's (as for the claim)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from models.case import DeadlineInfo, TimelineEntry, TimelineLabels
from models.enums import CaseType, Channel, LabelledEnum, StageEnum
from models.person import ACCOUNT_RE, DocumentRef, PersonFields
from models.review_once import OnceDecision, OnceDecisionCommand, OncePayment, OncePayRequest
from models.rules import ApplicantKind, CertificateLevel
from models.staff import StaffActor

# --- the case type's contract -------------------------------------------------------------------

CASE_TYPE = CaseType.SKILL_SUBSIDY
SUBSIDY_PREFIX = "subsidy-"
#: ``subsidy-<region>-<applicant key>-<n>``: the applicant key is an HMAC, never the ID number.
SUBSIDY_ID_PATTERN = r"^subsidy-\d{6}-[0-9a-f]{8,64}-[0-9a-z]{1,16}$"
#: The payment's idempotency key: one payment per case, whatever retries or replays happen.
PAYMENT_KEY_PREFIX = "subsidy:"
ORDER_KIND = "skill_subsidy"


def subsidy_id_for(region_code: str, applicant_key: str, n: int | str) -> str:
    return f"{SUBSIDY_PREFIX}{region_code}-{applicant_key}-{n}"


def payment_key(case_id: str) -> str:
    return f"{PAYMENT_KEY_PREFIX}{case_id}"


class SubsidyStage(StageEnum):
    CHECKS = "checks", "自动核验中"
    REVIEW = "review", "待审核"
    AWAITING_REAPPLICATION = "awaiting_reapplication", "未通过，可重新申请"
    PAYING = "paying", "待发放"
    PAID = "paid", "已发放"
    RECOVERY = "recovery", "追回中"
    CLOSED = "closed", "已办结"


class SubsidyStatus(LabelledEnum):
    CHECKING = "checking"
    UNDER_REVIEW = "under_review"
    REJECTED = "rejected"
    APPROVED = "approved"
    PAID = "paid"
    CLOSED = "closed"


SUBSIDY_STATUS_LABELS = {
    SubsidyStatus.CHECKING: "自动核验中",
    SubsidyStatus.UNDER_REVIEW: "待审核",
    SubsidyStatus.REJECTED: "未通过（可重新申请）",
    SubsidyStatus.APPROVED: "已核准，待发放",
    SubsidyStatus.PAID: "已发放",
    SubsidyStatus.CLOSED: "已办结",
}

TIMELINE = TimelineLabels(
    activities={
        "verify_certificate": ("external", "external", "certificates", "技能人才评价证书联网查询"),
        "insurance_status": ("external", "external", "contribution-records", "参保缴费或领金状态核查"),
        "prior_subsidies": ("check", "system", "uiflow", "查询以往技能提升补贴"),
        "training_subsidy": ("external", "external", "training-subsidies", "职业培训补贴重复享受核查"),
        "assess_subsidy": ("check", "system", "uiflow", "技能提升补贴资格评估"),
        "record_grant": ("check", "system", "uiflow", "登记补贴核准"),
        "pay_subsidy": ("external", "external", "bank", "补贴发放"),
    },
    updates={
        "decide_subsidy": "技能提升补贴审核",
        "reapply": "重新申请",
    },
)


class SubsidyApplication(PersonFields):
    """What the applicant (online), the clerk (counter) or the employer (batch row) files."""

    applicant_kind: ApplicantKind
    region_code: str = Field(pattern=r"^15\d{4}$", examples=["150102"])
    cert_no: str = Field(pattern=r"^[0-9A-Z]{6,32}$", description="证书编号")
    occupation_code: str = Field(pattern=r"^\d-\d{2}-\d{2}-\d{2}$", examples=["6-31-01-03"])
    occupation: str = Field(min_length=1, max_length=64, examples=["电工"])
    level: CertificateLevel
    issued_on: date
    bank_account: str
    bank_name: str = Field(default="", max_length=64)
    employer_credit_code: str | None = Field(default=None, pattern=r"^[0-9A-Z]{18}$")
    #: 证岗相适: the employer's stamped statement (employees only; recipients need none).
    fit_statement: DocumentRef | None = None

    @field_validator("cert_no")
    @classmethod
    def _cert(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("bank_account")
    @classmethod
    def _account(cls, v: str) -> str:
        v = v.replace(" ", "")
        if not ACCOUNT_RE.match(v):
            raise ValueError("银行账号应为12至30位数字")
        return v


class SubsidyTimings(BaseModel):
    reminder_working_days: int = 2
    review_working_days: int = 10  # 经办条例 Art. 24
    reapply_window_days: int = 60


class SubsidyInput(BaseModel):
    case_id: str
    applicant_key: str
    application: SubsidyApplication
    channel: Channel
    received_at: datetime
    submitted_by: str  # clerk login, "applicant", or the employer's login for a batch row
    batch_id: str | None = None
    timings: SubsidyTimings = Field(default_factory=SubsidyTimings)


# --- results of the automatic checks ------------------------------------------------------------


class CertificateCheck(BaseModel):
    """``found``: on the national site and matching; ``mismatch``: found, but holder, level,
    occupation or date differ (listed); ``not_found``: the site answered that it has no such
    certificate. A site that is down never becomes "not found": the activity retries, then the
    case is blocked."""

    outcome: Literal["found", "not_found", "mismatch"]
    mismatches: list[str] = Field(default_factory=list)
    issuer: str | None = None
    issuer_region: str | None = None


class InsuranceStatus(BaseModel):
    kind: ApplicantKind
    contribution_months: int = 0
    insured_region: str | None = None
    benefit_period_id: str | None = None  # recipients: the running period found
    benefit_region: str | None = None


class PriorGrant(BaseModel):
    case_id: str
    occupation_code: str
    level: CertificateLevel
    applied_on: date
    shortage: bool = False


class RuleUsed(BaseModel):
    """A dated parameter the decision depended on, with its status (the 2026 rules are
    unconfirmed), so the case says which rule version decided it."""

    name: str
    value: str
    effective_from: date
    status: str
    source: str


class SubsidyAssessment(BaseModel):
    eligible: bool
    amount: Decimal
    reasons: list[tuple[str, str]] = Field(default_factory=list)  # (code, Chinese text)
    application_deadline: date
    shortage_occupation: bool
    parameter_version: str
    rules: list[RuleUsed] = Field(default_factory=list)


class SubsidyCheckReport(BaseModel):
    checked_at: datetime
    certificate: CertificateCheck
    insurance: InsuranceStatus
    prior: list[PriorGrant] = Field(default_factory=list)
    training_subsidy_paid: bool = False
    assessment: SubsidyAssessment


# --- staff decisions (one Update, like the dispute's levels) ------------------------------------


class SubsidyDecisionCommand(OnceDecisionCommand):
    pass


class SubsidyReapply(BaseModel):
    by: str
    documents: list[DocumentRef] = Field(default_factory=list)
    #: A new fit statement (an employee's application refused for lack of one).
    fit_statement: DocumentRef | None = None
    note: str = Field(default="", max_length=500)


class SubsidyDecision(OnceDecision):
    pass


class SubsidyRound(BaseModel):
    n: int
    started_at: datetime
    deadline: DeadlineInfo | None = None
    report: SubsidyCheckReport | None = None
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    decision: SubsidyDecision | None = None


class SubsidyPayment(OncePayment):
    pass


class SubsidyState(BaseModel):
    case_id: str
    status: SubsidyStatus
    stage: str
    region_code: str
    channel: Channel
    received_at: datetime
    applicant_name: str
    applicant_id_masked: str
    applicant_kind: ApplicantKind
    cert_no: str
    occupation_code: str
    occupation: str
    level: CertificateLevel
    issued_on: date
    batch_id: str | None = None
    fit_statement_sha256: str | None = None
    overdue: bool = False
    escalated: bool = False
    rounds: list[SubsidyRound] = Field(default_factory=list)
    payment: SubsidyPayment | None = None
    close_reason: str | None = None
    blocked: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @property
    def current_round(self) -> SubsidyRound | None:
        return self.rounds[-1] if self.rounds else None


class SubsidyResult(BaseModel):
    case_id: str
    status: SubsidyStatus
    close_reason: str | None = None
    amount: Decimal | None = None
    rounds: int


# --- activity inputs ----------------------------------------------------------------------------


class CertificateQuery(BaseModel):
    cert_no: str
    id_number: str
    occupation_code: str
    level: CertificateLevel
    issued_on: date


class InsuranceQuery(BaseModel):
    id_number: str
    applicant_key: str
    kind: ApplicantKind


class PriorQuery(BaseModel):
    applicant_key: str
    case_id: str


class AssessSubsidyRequest(BaseModel):
    case_id: str
    applicant_kind: ApplicantKind
    applied_on: date
    occupation_code: str
    level: CertificateLevel
    issued_on: date
    certificate_found: bool
    contribution_months: int
    fit_statement: bool
    training_subsidy_paid: bool
    prior: list[PriorGrant] = Field(default_factory=list)


class GrantRecord(BaseModel):
    case_id: str
    applicant_key: str
    cert_no: str
    occupation_code: str
    level: CertificateLevel
    applied_on: date
    shortage: bool
    amount: Decimal
    region_code: str


class PayRequest(OncePayRequest):
    pass


# --- anomaly alerts (notice item 6) -------------------------------------------------------------

ALERT_PREFIX = "skill-alert-"
AlertKind = Literal["payout_surge", "issuer_burst", "out_of_region"]
ALERT_KIND_LABELS: dict[str, str] = {
    "payout_surge": "补贴发放额快速增长",
    "issuer_burst": "评价机构短期集中发证",
    "out_of_region": "异地取证",
}


class SkillAlert(BaseModel):
    """One anomaly, explained in Chinese with the figures behind it. ``key`` is stable for the same
    finding (kind, subject, period), so a daily run never raises it twice."""

    key: str = Field(pattern=r"^[0-9a-z_.-]{1,80}$")
    kind: AlertKind
    region_code: str  # the league (or the region) whose supervisors see it
    text_zh: str
    figures: dict[str, str] = Field(default_factory=dict)
    case_ids: list[str] = Field(default_factory=list)  # the subsidies it concerns (recovery)


class AlertStatus(LabelledEnum):
    OPEN = "open"
    REFERRED = "referred"
    RECOVERY = "recovery"
    CLOSED = "closed"


ALERT_STATUS_LABELS = {
    AlertStatus.OPEN: "待处理",
    AlertStatus.REFERRED: "已移交技能鉴定部门",
    AlertStatus.RECOVERY: "经认定违规，追回补贴",
    AlertStatus.CLOSED: "已排除，办结",
}


class AlertScanInput(BaseModel):
    lookback_days: int = Field(default=365, ge=30)


class AlertScanRequest(BaseModel):
    as_of: date
    lookback_days: int = 365


class AlertScanResult(BaseModel):
    raised: list[str] = Field(default_factory=list)  # alert case ids started by this run
    already: int = 0


class AlertInput(BaseModel):
    case_id: str
    alert: SkillAlert
    raised_at: datetime


class ReferAlert(BaseModel):
    actor: StaffActor
    note: str = Field(default="", max_length=500)


class AppraisalResponse(BaseModel):
    """The skill-appraisal department's answer, entered by the staff member who received it."""

    actor: StaffActor
    outcome: Literal["confirmed", "cleared"]
    note: str = Field(min_length=2, max_length=1000)


class AlertState(BaseModel):
    case_id: str
    alert: SkillAlert
    status: AlertStatus
    referred_by: str | None = None
    response: Literal["confirmed", "cleared"] | None = None
    recovered: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)


class RecoveryRequest(BaseModel):
    alert_id: str
    case_ids: list[str]
