"""The verification case (核查), notice item 7: what a risk hit or a confirmed claim leads to.

One case groups the people, employers and claims a set of hits points at (an intermediary is a
party of its own, with its linked cases). A 风险稽核员 investigates and proposes an outcome with
evidence; a 业务主管 approves it (a two-level review on the kit, ``models/review.py``); the
approved outcome is carried out, audited and notified:

- cleared (排除): nothing owed, the parties told;
- recovery (责令退回): the exact months and amounts paid, from the payment ledger; running benefit
  periods stopped by their own Signal; a repayment schedule; repayments recorded until settled;
- fine (罚款, 社保法 Art. 88): 2 to 5 times the amount obtained, the multiple chosen and justified;
- referral to the police (移送公安机关): a record of the file sent.

Plain pydantic models (temporal-notes §3). Personal data (phones, for the notices) stays inside
the encrypted payloads; the state and the read model hold masked names and HMAC keys only."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.case import TimelineEntry, TimelineLabels
from models.enums import CaseType, Role, StageEnum
from models.person import DocumentRef
from models.review import ReviewChainState, ReviewCommand, ReviewLevelSpec
from models.staff import StaffActor

# --- the case type's contract -------------------------------------------------------------------

CASE_TYPE = CaseType.RISK_CHECK
VERIFICATION_PREFIX = "verification-"
#: ``verification-<region>-<ref>``: the ref names the hit group (rule and month, employer code, or a
#: referred claim's key), never personal data.
VERIFICATION_ID_PATTERN = r"^verification-\d{6}-[0-9A-Za-z._-]{4,96}$"


def verification_id_for(region_code: str, ref: str) -> str:
    """The workflow id of the verification case of ``ref`` in a district."""
    return f"{VERIFICATION_PREFIX}{region_code}-{ref}"


class VerificationStage(StageEnum):
    """Where a verification case stands (state, read model, ``CaseStage`` search attribute)."""

    VERIFICATION = "verification", "核查中（待风险稽核员提出处理意见）"
    APPROVAL = "verification_approval", "待业务主管审批处理意见"
    RECOVERY = "recovery", "追回中（待退回款项）"
    CLOSED = "closed", "已办结"


#: The levels: the inspector proposes, the supervisor approves (the kit's chain).
PROPOSE = "propose"
APPROVE = "approve"


def verification_review_levels(working_days: int = 10) -> list[ReviewLevelSpec]:
    return [
        ReviewLevelSpec(
            key=PROPOSE, label_zh="稽核员提出处理意见", role=Role.RISK_INSPECTOR, working_days=working_days
        ),
        ReviewLevelSpec(key=APPROVE, label_zh="业务主管审批", role=Role.SUPERVISOR, working_days=5),
    ]


#: The case's Updates and Signals with the labels the timeline shows; the API calls them by name.
TIMELINE = TimelineLabels(
    activities={
        "recovery_ledger": ("check", "system", "uiflow", "查询发放台账（应退回月份与金额）"),
        "repayment_plan": ("check", "system", "uiflow", "生成退回计划"),
        "fine_for": ("check", "system", "uiflow", "计算罚款金额"),
        "run_scan": ("check", "system", "risk-scan", "定期风险筛查"),
        "record_hits": ("bookkeeping", "system", "uiflow", "登记风险线索"),
        "settle_hits": ("bookkeeping", "system", "uiflow", "登记风险线索核查结果"),
    },
    updates={
        "propose": "稽核员提出处理意见",
        "approve_outcome": "业务主管审批",
        "record_repayment": "登记退回款项",
    },
    signals={"add_hits": ("system", "risk-scan", "风险筛查命中并入核查")},
)

# --- parties and hits ---------------------------------------------------------------------------

PartyKind = Literal["person", "employer", "intermediary"]
PARTY_KIND_LABELS: dict[str, str] = {"person": "个人", "employer": "用人单位", "intermediary": "中介"}


class VerificationParty(BaseModel):
    """A person (by applicant key), an employer (credit code) or an intermediary (its own ref: a
    shared phone, account, address or agent) with the claims and benefit periods linked to it."""

    kind: PartyKind
    key: str = Field(min_length=1, max_length=96)
    label: str = Field(default="", max_length=128, description="脱敏姓名、单位名称或中介说明")
    claim_ids: list[str] = Field(default_factory=list)
    period_ids: list[str] = Field(default_factory=list)
    #: For the notice: in the encrypted input and signal payloads only; the workflow keeps it out of
    #: its state and the read model.
    phone: str | None = None


class HitRecord(BaseModel):
    """One scan hit or referral, explained in Chinese with its figures and the rule's version."""

    rule: str
    rule_version: str
    explanation_zh: str
    figures: dict[str, str] = Field(default_factory=dict)
    found_at: datetime
    parties: list[str] = Field(default_factory=list)  # party keys


class HitBatch(BaseModel):
    """Hits that join an open case (Signal ``add_hits``; also the start signal of a new one)."""

    hits: list[HitRecord]
    parties: list[VerificationParty] = Field(default_factory=list)


class VerificationTimings(BaseModel):
    levels: list[ReviewLevelSpec] = Field(default_factory=verification_review_levels)
    repayment_installments_max: int = 24


class VerificationInput(BaseModel):
    case_id: str
    region_code: str
    opened_by: str  # "risk-scan" or the inspector's login (a referred claim)
    opened_at: datetime
    reason_zh: str = Field(max_length=500)
    source_claim_id: str | None = None
    hits: HitBatch
    timings: VerificationTimings = Field(default_factory=VerificationTimings)


# --- the proposal (inspector) and what carrying it out records ----------------------------------


class ProposeCommand(ReviewCommand):
    """The inspector's proposal (the first level's decision, ``action`` approve = propose)."""

    outcome: Literal["cleared", "sanction"]
    finding: str = Field(max_length=2000, description="核查认定的事实及依据")
    evidence: list[DocumentRef] = Field(default_factory=list)
    recovery: bool = False
    installments: int = Field(default=1, ge=1, le=24, description="退回分期数")
    fine_multiple: Decimal | None = Field(default=None, description="罚款倍数（2至5倍，社保法第八十八条）")
    fine_justification: str = Field(default="", max_length=1000)
    police: bool = False
    police_file: DocumentRef | None = Field(default=None, description="移送公安机关的案件材料")
    police_unit: str = Field(default="", max_length=128)


class Proposal(BaseModel):
    outcome: Literal["cleared", "sanction"]
    finding: str
    evidence: list[DocumentRef] = Field(default_factory=list)
    recovery: bool = False
    installments: int = 1
    fine_multiple: Decimal | None = None
    fine_justification: str = ""
    police: bool = False
    police_file: DocumentRef | None = None
    police_unit: str = ""
    by: str
    at: datetime


class PaidMonth(BaseModel):
    """One benefit month paid, from the payment ledger (the order's case and period)."""

    case_id: str
    month: str
    amount: Decimal


class RecoveryLedgerRequest(BaseModel):
    period_ids: list[str]


class RecoveryLedger(BaseModel):
    months: list[PaidMonth]
    total: Decimal


class Installment(BaseModel):
    n: int
    due: date
    amount: Decimal


class RepaymentPlanRequest(BaseModel):
    total: Decimal
    installments: int
    start: date


class Repayment(BaseModel):
    amount: Decimal
    paid_on: date
    receipt: DocumentRef | None = None
    by: str
    at: datetime


class RepaymentCommand(BaseModel):
    actor: StaffActor
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    paid_on: date
    receipt: DocumentRef | None = None


class FineRequest(BaseModel):
    party: str = ""
    obtained: Decimal
    multiple: Decimal
    as_of: date


class Fine(BaseModel):
    """A fine on one party: the multiple of what that party obtained."""

    party: str = ""
    obtained: Decimal
    multiple: Decimal
    amount: Decimal
    justification: str
    basis_zh: str


class PoliceReferral(BaseModel):
    unit: str
    file: DocumentRef
    sent_at: datetime
    by: str


class Recovery(BaseModel):
    months: list[PaidMonth]
    total: Decimal
    plan: list[Installment] = Field(default_factory=list)
    repayments: list[Repayment] = Field(default_factory=list)
    stopped_periods: list[str] = Field(default_factory=list)

    @property
    def repaid(self) -> Decimal:
        return sum((r.amount for r in self.repayments), Decimal("0"))

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.repaid


class VerificationStatus(StageEnum):
    OPEN = "open", "核查中"
    RECOVERING = "recovering", "追回中"
    CLEARED = "cleared", "已排除"
    SANCTIONED = "sanctioned", "已处理"
    CLOSED = "closed", "已办结（未予认定）"


TERMINAL_VERIFICATION_STATUSES = frozenset(
    {VerificationStatus.CLEARED, VerificationStatus.SANCTIONED, VerificationStatus.CLOSED}
)


class VerificationState(BaseModel):
    case_id: str
    status: VerificationStatus
    stage: str
    region_code: str
    reason_zh: str
    source_claim_id: str | None = None
    parties: list[VerificationParty] = Field(default_factory=list)
    hits: list[HitRecord] = Field(default_factory=list)
    proposal: Proposal | None = None
    review: ReviewChainState
    recovery: Recovery | None = None
    fines: list[Fine] = Field(default_factory=list)
    police: PoliceReferral | None = None
    notices: list[str] = Field(default_factory=list)
    close_reason: str | None = None
    blocked: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)


class VerificationResult(BaseModel):
    case_id: str
    status: VerificationStatus
    recovered: Decimal = Decimal("0")
    fines: Decimal = Decimal("0")
    referred_to_police: bool = False


class RecordHits(BaseModel):
    """Hits as they join a case (the rules' report reads them); ``first_seq`` keeps writes idempotent."""

    case_id: str
    first_seq: int
    hits: list[HitRecord]


class SettleHits(BaseModel):
    case_id: str
    outcome: Literal["confirmed", "cleared"]
    recovered: Decimal = Decimal("0")


# --- scheduled scans (issue 16) --------------------------------------------------------------------


class ScanRequest(BaseModel):
    as_of: date | None = None  # None: the simulators' / today's date


class ScanHitView(BaseModel):
    """One hit as the scan found it: the rule and its version, the Chinese explanation with its
    figures, the people (applicant keys) and the employer, and the group it joins a case by."""

    rule: str
    rule_version: str
    explanation_zh: str
    figures: dict[str, str] = Field(default_factory=dict)
    people: list[str] = Field(default_factory=list)
    employer: str | None = None
    group: str


class ScanCase(BaseModel):
    """Hits that share people or an employer, grouped into one verification case: its id (stable
    for the same group, so a later scan joins the case while it is open), region, and the batch."""

    case_id: str
    region_code: str
    reason_zh: str
    batch: HitBatch


class ScanReport(BaseModel):
    as_of: date
    parameter_version: str
    people: int
    flagged: int
    hits: list[ScanHitView] = Field(default_factory=list)
    cases: list[ScanCase] = Field(default_factory=list)


class RiskScanInput(BaseModel):
    as_of: date | None = None
    open_cases: bool = True  # False: report only (a dry run)


class RiskScanResult(BaseModel):
    hits: int
    flagged: int
    opened: list[str] = Field(default_factory=list)
    joined: list[str] = Field(default_factory=list)
