"""The benefit claim (失业保险金申领): application, checks, review rounds, decisions.

Workflow inputs and outputs are plain pydantic models (temporal-notes §3). The shapes here check
formats only; the checksum and region rules (policy/) are applied by the API's request schema
(api/schemas.py), which subclasses these, so bad input is refused field by field before any
workflow starts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from models.case import DeadlineInfo, TimelineEntry, TimelineLabels
from models.enums import CaseType, Channel, LabelledEnum, StageEnum
from models.person import ACCOUNT_RE as ACCOUNT_RE
from models.person import PHONE_RE as PHONE_RE  # re-exported: api/ imports it from here
from models.person import DocumentRef as DocumentRef
from models.person import PersonFields
from models.review import DecisionTarget
from models.rules import RetirementCategory, YearMonth
from models.staff import StaffActor

# --- the case type's contract -------------------------------------------------------------------

CASE_TYPE = CaseType.BENEFIT_CLAIM
CLAIM_PREFIX = "claim-"
#: ``claim-<region>-<applicant key>-<n>``: the applicant key is an HMAC, never the ID number.
CLAIM_ID_PATTERN = r"^claim-\d{6}-[0-9a-f]{8,64}-[0-9a-z]{1,16}$"


def claim_id_for(region_code: str, applicant_key: str, n: int | str) -> str:
    """The workflow id of a person's ``n``-th claim in a district."""
    return f"{CLAIM_PREFIX}{region_code}-{applicant_key}-{n}"


def applicant_key_of(claim_case_id: str) -> str:
    """The applicant key inside a claim id (``claim-<region>-<applicant key>-<n>``)."""
    return claim_case_id.split("-")[2]


class ClaimStage(StageEnum):
    """Where a claim stands (``ClaimState.stage``, the ``CaseStage`` search attribute)."""

    REGISTRATION = "registration", "待失业登记"
    REGISTRATION_NOT_FOUND = "registration_not_found", "登记平台未查到该人员，待受理人核实"
    CHECKS = "checks", "自动核验中"
    AWAITING_CATEGORY = "awaiting_category", "待受理人确定退休人员类别"
    RISK_VERIFICATION = "risk_verification", "风险核查中（待风险稽核员核查）"
    REVIEW = "review", "待审核"
    AWAITING_DOCUMENTS = "awaiting_documents", "待补正材料"
    AWAITING_REAPPLICATION = "awaiting_reapplication", "未通过，可重新申请"
    APPROVED = "approved", "已核准"
    CLOSED = "closed", "已办结"


#: The claim's Updates (staff decisions through the review kit, applicant requests) and Signals,
#: with the labels the timeline shows; the API calls them by these names.
TIMELINE = TimelineLabels(
    activities={
        "check_registration": ("external", "external", "registration-platform", "查询失业登记"),
        "register_at_counter": ("external", "external", "registration-platform", "窗口办理失业登记"),
        "fetch_contributions": ("external", "external", "contribution-records", "查询缴费记录"),
        "fetch_stop_reason": ("external", "external", "insurance-record", "查询停保原因"),
        "check_cross_province": ("external", "external", "cross-province", "跨省重复领取核查"),
        "check_pension": ("external", "external", "insurance-record", "养老待遇核查"),
        "employer_risk_inputs": ("external", "external", "employer-registry", "用人单位风险数据"),
        "unused_months": ("check", "system", "uiflow", "查询以往未领月数"),
        "assess_claim": ("check", "system", "uiflow", "资格与风险评估"),
        "compute_entitlement": ("check", "system", "uiflow", "核定待遇"),
        "link_documents": ("check", "system", "uiflow", "关联并校验申请材料"),
    },
    updates={
        "approve": "审核通过",
        "reject": "审核不通过",
        "request_documents": "要求补正材料",
        "recheck": "要求重新核验",
        "assign": "分派审核",
        "reapply": "重新申请",
        "supply_documents": "补正材料",
        "record_risk_finding": "风险核查结论",
        "set_retirement_category": "确定退休人员类别",
    },
    signals={
        "registration_confirmed": ("external", "registration-platform", "失业登记确认"),
        "stop_reason_changed": ("external", "stop-reason-dispute", "停保原因变更"),
    },
)


class ClaimApplication(PersonFields):
    """What the applicant (online) or the clerk (counter) submits."""

    bank_account: str = Field(examples=["6217000123456789012"])
    bank_name: str = Field(default="", max_length=64, examples=["中国建设银行呼和浩特新城支行"])
    region_code: str = Field(
        pattern=r"^15\d{4}$", examples=["150102"], description="申领地（旗县区）行政区划代码"
    )
    employer_credit_code: str = Field(pattern=r"^[0-9A-Z]{18}$", examples=["91150100012345678F"])
    separation_date: date = Field(examples=["2025-03-31"])
    retirement_category: RetirementCategory | None = Field(
        default=None,
        description="原法定退休年龄类别（male、female-55、female-50）；不填时取缴费记录中的类别，"
        "记录中也没有的，由受理人确定后再审核，不按性别推定",
    )
    documents: list[DocumentRef] = Field(default_factory=list)

    @field_validator("bank_account")
    @classmethod
    def _account(cls, v: str) -> str:
        v = v.replace(" ", "")
        if not ACCOUNT_RE.match(v):
            raise ValueError("银行账号应为12至30位数字")
        return v

    def category(self) -> RetirementCategory:
        """The guess claims made before patch ``claim-retirement-category``: kept only so that
        their recorded histories replay. The category is a personnel attribute (domain.md C2);
        a claim now takes it from the application, the contribution record or the clerk."""
        if self.retirement_category is not None:
            return self.retirement_category
        male = int(self.id_number[16]) % 2 == 1  # GB 11643: odd sequence digit = male
        return RetirementCategory.MALE if male else RetirementCategory.FEMALE_50


class ClaimTimings(BaseModel):
    """Operator-configurable waits, fixed at the start of a case so its history records them."""

    registration_wait_days: int = 30
    registration_recheck_hours: int = 24
    reminder_working_days: int = 2
    reapply_window_days: int = 60
    documents_wait_days: int = 30


class ClaimInput(BaseModel):
    case_id: str
    applicant_key: str
    application: ClaimApplication
    channel: Channel
    received_at: datetime
    submitted_by: str  # clerk login, or "applicant" for an online claim
    submitted_by_region: str | None = None
    timings: ClaimTimings = Field(default_factory=ClaimTimings)


class ClaimStatus(LabelledEnum):
    AWAITING_REGISTRATION = "awaiting_registration"
    CHECKING = "checking"
    RISK_VERIFICATION = "risk_verification"  # a risk hit: the inspector's finding comes first
    UNDER_REVIEW = "under_review"
    AWAITING_DOCUMENTS = "awaiting_documents"
    REJECTED = "rejected"  # waiting for a re-application within the window
    APPROVED = "approved"
    CLOSED = "closed"


CLAIM_STATUS_LABELS = {
    ClaimStatus.AWAITING_REGISTRATION: "待失业登记",
    ClaimStatus.CHECKING: "自动核验中",
    ClaimStatus.RISK_VERIFICATION: "风险核查中",
    ClaimStatus.UNDER_REVIEW: "待审核",
    ClaimStatus.AWAITING_DOCUMENTS: "待补正材料",
    ClaimStatus.REJECTED: "未通过（可重新申请）",
    ClaimStatus.APPROVED: "已核准",
    ClaimStatus.CLOSED: "已办结",
}
OPEN_CLAIM_STATUSES = frozenset(
    s.value for s in ClaimStatus if s not in (ClaimStatus.APPROVED, ClaimStatus.CLOSED)
)


class RejectReason(LabelledEnum):
    """The catalogue of rejection reasons, each with the remedy staff start from (notice item 一:
    tell the applicant the reason and what to do next)."""

    CONTRIBUTION_SHORT = "contribution_short"
    VOLUNTARY_SEPARATION = "voluntary_separation"
    NOT_REGISTERED = "not_registered"
    RECEIVING_ELSEWHERE = "receiving_elsewhere"
    RECEIVING_PENSION = "receiving_pension"
    RETIREMENT_AGE = "retirement_age"
    DOCUMENTS_INVALID = "documents_invalid"
    FRAUD_VERIFIED = "fraud_verified"
    OTHER = "other"


REJECT_REASONS: dict[RejectReason, tuple[str, str]] = {
    RejectReason.CONTRIBUTION_SHORT: (
        "失业前累计缴纳失业保险费不满一年",
        "如有未记录的缴费（含外省缴费），请携带缴费凭证到窗口申请核实后重新申请。",
    ),
    RejectReason.VOLUNTARY_SEPARATION: (
        "不符合非因本人意愿中断就业条件（停保原因为个人原因）",
        "如停保原因登记有误，可由原单位在网上申请变更停保原因，或由本人携带解除劳动合同协议、仲裁或法院文书到窗口申请；"
        "变更后将重新审核，无需再次申请。",
    ),
    RejectReason.NOT_REGISTERED: ("未办理失业登记", "请在网上或到窗口办理失业登记后重新申请。"),
    RejectReason.RECEIVING_ELSEWHERE: (
        "已在其他地区领取失业保险金",
        "如已停止在外地领取，请提供停发证明后重新申请。",
    ),
    RejectReason.RECEIVING_PENSION: ("已领取基本养老保险待遇", "领取养老金期间不能领取失业保险金。"),
    RejectReason.RETIREMENT_AGE: ("已达到法定退休年龄", "请咨询养老保险经办机构办理退休手续。"),
    RejectReason.DOCUMENTS_INVALID: ("申请材料不真实或不完整", "请按告知补齐真实有效的材料后重新申请。"),
    RejectReason.FRAUD_VERIFIED: (
        "经核查存在虚假申领情形",
        "如有异议，可在收到通知之日起六十日内申请行政复议。",
    ),
    RejectReason.OTHER: ("其他原因", ""),
}


# --- Results of the automatic checks ---------------------------------------------------------------


class RegistrationResult(BaseModel):
    registered: bool
    registered_on: date | None = None
    registration_no: str | None = None
    via: Literal["platform", "counter", "callback", "recheck"] = "platform"


class ContributionSummary(BaseModel):
    found: bool = True  # False: the contribution system has no record of the person (a recheck may help)
    cumulative_months: int
    last_consecutive_months: int
    last_employer: str | None = None
    last_contribution_month: str | None = None
    # The months of the record (the last 36) that were paid, "YYYY-MM": counting contribution time
    # afresh after a benefit spell needs them (domain.md A3). Empty in histories recorded before.
    paid_months: list[str] = Field(default_factory=list)
    # The retirement category the contribution record holds (domain.md C2: a personnel attribute,
    # never guessed from sex); None when the record has none.
    retirement_category: RetirementCategory | None = None


class StopReasonResult(BaseModel):
    code: str
    label: str
    involuntary: bool
    stop_date: date | None = None


class CrossProvinceResult(BaseModel):
    receiving_elsewhere: bool
    province: str | None = None


class PensionResult(BaseModel):
    receiving: bool
    since: date | None = None


class EmployerRiskInputs(BaseModel):
    insured_headcount: int | None = None
    claims_in_window: int
    window_days: int
    other_claim_dates: list[date] = Field(default_factory=list)


class RiskHitView(BaseModel):
    code: str
    label: str
    detail: str = ""


class EligibilityView(BaseModel):
    eligible: bool
    reasons: list[tuple[str, str]] = Field(default_factory=list)  # (code, Chinese text)
    max_months: int = 0
    suggested_reject_reason: RejectReason | None = None


class RetirementView(BaseModel):
    category: RetirementCategory
    retirement_month: YearMonth
    original_retirement_month: YearMonth
    reached: bool


class CheckReport(BaseModel):
    """Everything the automatic checks found; the reviewer decides on it."""

    checked_at: datetime
    contribution: ContributionSummary
    stop_reason: StopReasonResult
    cross_province: CrossProvinceResult
    pension: PensionResult
    employer: EmployerRiskInputs
    retirement: RetirementView
    eligibility: EligibilityView
    risk_hits: list[RiskHitView] = Field(default_factory=list)
    unused_months_carried: int = 0
    parameter_version: str = ""
    # The contribution months the bracket was taken from: counted afresh after a previous spell
    # (domain.md A3). None in reports recorded before: the cumulative months were used.
    counted_contribution_months: int | None = None

    @property
    def bracket_months_basis(self) -> int:
        """The contribution months the entitlement is computed from."""
        if self.counted_contribution_months is not None:
            return self.counted_contribution_months
        return self.contribution.cumulative_months

    @property
    def risk_flagged(self) -> bool:
        return bool(self.risk_hits)

    @property
    def not_found(self) -> list[str]:
        """The records a system said it does not have, which make the claim look ineligible: staff
        may ask for the checks to be run again (``recheck``) when a system was briefly missing data."""
        missing = []
        if not self.contribution.found:
            missing.append("缴费记录")
        if self.stop_reason.code == "none":
            missing.append("停保记录")
        return missing


class AssessRequest(BaseModel):
    """Inputs to the policy assessment activity (eligibility, retirement, risk)."""

    case_id: str
    id_number: str
    category: RetirementCategory
    registered: bool
    received_on: date
    contribution: ContributionSummary
    stop_reason: StopReasonResult
    cross_province: CrossProvinceResult
    pension: PensionResult
    employer: EmployerRiskInputs
    unused_months: int = 0


# --- Entitlement -----------------------------------------------------------------------------------


class MonthlyAmount(BaseModel):
    month_index: int
    pay_month: YearMonth
    amount: Decimal
    rate: Decimal
    base: Decimal


class ClaimEntitlement(BaseModel):
    max_months: int
    new_months: int
    carried_months: int
    benefit_start: date
    first_month: YearMonth
    last_month: YearMonth
    schedule: list[MonthlyAmount]
    total: Decimal
    parameter_version: str
    # The cumulative contribution months when this spell was granted: a later spell counts only
    # what was contributed after it (domain.md A3). None when not known (older or imported).
    cumulative_contribution_months: int | None = None


class EntitlementRequest(BaseModel):
    case_id: str
    contribution_months: int  # counted for this spell's bracket (afresh after a previous one, A3)
    unused_months: int
    registration_date: date
    cumulative_months: int | None = None  # the record's lifetime months, kept for a later spell


# --- Staff decisions (Updates) and events (Signals) ------------------------------------------------


class RetirementCategoryCommand(BaseModel):
    """The clerk (or reviewer) states the person's 原法定退休年龄类别 from the personnel file when
    neither the application nor the contribution record has it (domain.md C2)."""

    actor: StaffActor
    category: RetirementCategory
    note: str = Field(min_length=2, max_length=500, description="依据（如档案、单位证明）")


class ApproveCommand(DecisionTarget):
    """Every claim decision may name the review round it was made for (``round``, see
    ``models/review.py``); the claim is a one-level review whose level is ``review``."""

    actor: StaffActor
    note: str = Field(default="", max_length=500)


class RejectCommand(DecisionTarget):
    actor: StaffActor
    reason_code: RejectReason
    remedy: str = Field(max_length=1000, description="处置方式：告知申请人下一步怎么办")
    note: str = Field(default="", max_length=500)


class RequestDocumentsCommand(DecisionTarget):
    actor: StaffActor
    documents: list[str] = Field(min_length=1, description="需补正的材料名称")
    note: str = Field(default="", max_length=500)


class RecheckCommand(DecisionTarget):
    """The reviewer asks for the automatic checks to be run again (a system said "not found")."""

    actor: StaffActor
    note: str = Field(default="", max_length=500, description="要求重新核验的原因")


class RiskFindingCommand(DecisionTarget):
    """The 风险稽核员's finding on a flagged claim, with the evidence it rests on (documents in the
    store, by id and hash). ``cleared``: the claim returns to review with the finding on the case;
    ``confirmed``: the claim is refused (``action="refuse"``, with the remedy told to the applicant)
    or refused and referred to a verification case (``action="refer"``, 核查)."""

    actor: StaffActor
    outcome: Literal["cleared", "confirmed"]
    finding: str = Field(max_length=2000, description="核查结论及依据（写明核查了什么、发现了什么）")
    evidence: list[DocumentRef] = Field(default_factory=list, description="核查证据材料")
    action: Literal["refuse", "refer"] | None = Field(
        default=None, description="核实后：不予通过或转核查案件"
    )
    remedy: str = Field(default="", max_length=1000, description="不予通过时告知申请人的处置方式")


class RiskFinding(BaseModel):
    """A recorded finding (state and case page)."""

    outcome: Literal["cleared", "confirmed"]
    action: Literal["refuse", "refer"] | None = None
    finding: str
    evidence: list[DocumentRef] = Field(default_factory=list)
    remedy: str = ""
    by: str
    by_name: str
    at: datetime
    verification_case_id: str | None = None


class AssignCommand(BaseModel):
    actor: StaffActor
    reviewer_login: str = Field(min_length=1, max_length=64)


class RegistrationEvent(BaseModel):
    registration_no: str
    registered_on: date
    source: Literal["callback", "recheck", "counter"] = "callback"


class ReapplyEvent(BaseModel):
    """A fresh application after a rejection (new documents), or documents supplied."""

    by: str  # "applicant" or a clerk login
    documents: list[DocumentRef] = Field(default_factory=list)
    note: str = Field(default="", max_length=500)


class StopReasonChangedEvent(BaseModel):
    """From a stop-reason dispute: the record now shows an involuntary reason."""

    dispute_id: str
    new_code: str
    new_label: str


# --- State (Query) ---------------------------------------------------------------------------------


class Decision(BaseModel):
    kind: Literal["approve", "reject", "request_documents", "recheck"]
    by: str
    by_role: str
    at: datetime
    reason_code: RejectReason | None = None
    reason_label: str | None = None
    remedy: str | None = None
    documents: list[str] = Field(default_factory=list)
    note: str = ""


class ReviewRound(BaseModel):
    n: int
    trigger: Literal["application", "reapplication", "stop_reason_changed", "documents_supplied"]
    started_at: datetime
    deadline: DeadlineInfo | None = None
    report: CheckReport | None = None
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    document_requests: list[Decision] = Field(default_factory=list)
    rechecks: list[Decision] = Field(default_factory=list)
    decision: Decision | None = None
    # risk verification (a flagged claim, before the decision)
    risk_deadline: DeadlineInfo | None = None
    risk_reminded_at: datetime | None = None
    risk_overdue_at: datetime | None = None
    risk_finding: RiskFinding | None = None


class ClaimState(BaseModel):
    case_id: str
    status: ClaimStatus
    stage: str
    region_code: str
    channel: Channel
    received_at: datetime
    applicant_name: str
    applicant_id_masked: str
    registration: RegistrationResult | None = None
    assigned_to: str | None = None
    overdue: bool = False
    escalated: bool = False
    rounds: list[ReviewRound] = Field(default_factory=list)
    entitlement: ClaimEntitlement | None = None
    period_id: str | None = None  # the benefit-period case started on approval
    documents: list[DocumentRef] = Field(default_factory=list)
    close_reason: str | None = None
    blocked: str | None = None
    #: A decision was accepted and is still being applied (set by the state query; 处理中).
    processing: bool = False
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @property
    def current_round(self) -> ReviewRound | None:
        return self.rounds[-1] if self.rounds else None


class ClaimResult(BaseModel):
    case_id: str
    status: ClaimStatus
    close_reason: str | None = None
    entitlement: ClaimEntitlement | None = None
    rounds: int
