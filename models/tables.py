"""SQLModel tables: reference data, staff, the append-only audit log, and the case read model.

These are used by activities and the API only; workflow payloads are plain pydantic models
(see temporal-notes §3). The read model is a projection of workflow state for lists, search
and reports; the workflow history stays the legal record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlalchemy.ext.mutable import MutableDict
from sqlmodel import Field, SQLModel

from models.sqltypes import ExactDecimal, json_type

# A claim is open until approved or closed (models.claim.OPEN_CLAIM_STATUSES); a benefit period is
# active (paying, suspended, or waiting for an account or an application) until closed.
OPEN_CLAIM_WHERE = "case_type = 'benefit_claim' AND status NOT IN ('approved', 'closed')"
ACTIVE_PERIOD_WHERE = "case_type = 'benefit_period' AND status <> 'closed'"


class Region(SQLModel, table=True):
    __tablename__ = "region"
    code: str = Field(primary_key=True, max_length=6)
    name: str = Field(max_length=64)
    level: str = Field(max_length=16)
    parent: str | None = Field(default=None, max_length=6, index=True)
    directly_administered: bool = False


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=64)
    password_hash: str = Field(max_length=255)
    roles: list[str] = Field(default_factory=list, sa_column=Column(json_type(), nullable=False))
    region_code: str = Field(max_length=6, index=True)
    active: bool = True
    created_at: datetime
    password_changed_at: datetime | None = None
    # HMAC of the staff member's own ID number (never the number), so that separation of duties
    # can refuse a decision on their own case.
    applicant_key: str | None = Field(default=None, max_length=64, index=True)
    # Raised to revoke every token issued so far (tokens carry the version they were issued at).
    token_version: int = 0


class EmployerAccount(SQLModel, table=True):
    """A former employer signing in on the department's website (notice item 5: the employer
    applies online to change a stop reason), identified by its unified social credit code."""

    __tablename__ = "employer_account"
    credit_code: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=128)
    password_hash: str = Field(max_length=255)
    region_code: str = Field(max_length=6)
    active: bool = True
    created_at: datetime
    password_changed_at: datetime | None = None
    token_version: int = 0


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per login and per address (``key`` is ``login:<kind>:<login>`` or
    ``addr:<address>``), so guessing is slowed and then locked out across API processes."""

    __tablename__ = "login_throttle"
    key: str = Field(primary_key=True, max_length=160)
    failures: int = 0
    window_start: datetime
    locked_until: datetime | None = None


class AuditLog(SQLModel, table=True):
    """Append-only: who did what, when, to which case, with a hash of what they sent.

    Each entry also carries the hash of the entry before it, so a deleted or edited row breaks
    the chain (checked by ``uiflow audit verify``). PostgreSQL additionally refuses UPDATE and
    DELETE on this table through a trigger (see the migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case_at", "case_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=64, index=True)
    actor_role: str | None = Field(default=None, max_length=32)
    actor_region: str | None = Field(default=None, max_length=6)
    action: str = Field(max_length=64)
    case_id: str | None = Field(default=None, max_length=128)
    payload_hash: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(json_type(), nullable=False))
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)
    # What entry_hash covers (core/audit.py): 1 = the first columns only (rows before 0006), 2 = all.
    hash_version: int = Field(default=2, sa_column_kwargs={"server_default": "1"})


class CaseRecord(SQLModel, table=True):
    """Read model of one case (any type). Holds no full ID number: the masked number and the
    applicant key (HMAC) only; the full personal data lives in the encrypted workflow state."""

    __tablename__ = "case_record"
    __table_args__ = (
        Index("ix_case_inbox", "region_code", "status", "deadline"),
        Index("ix_case_type_status", "case_type", "status", "received_at"),
        Index("ix_case_assigned", "assigned_to", "status", "deadline"),
        Index("ix_case_overdue", "overdue", "deadline"),
        Index("ix_case_applicant", "applicant_key", "case_type", "region_code"),
        Index("ix_case_received", "received_at"),
        Index("uq_case_short_no", "short_no", unique=True),
        Index("ix_case_name_key", "name_key"),
        Index("ix_case_tail_key", "tail_key"),
        # Keyset pages and the statistics window (migrations 0004 and 0017).
        Index("ix_case_deadline_order", "deadline", "case_id"),
        Index("ix_case_received_order", "received_at", "case_id"),
        Index("ix_case_updated_order", "updated_at", "case_id"),
        Index("ix_case_region_received", "region_code", "received_at"),
        # One benefit at a time, region-wide (issue 12): the database holds the last line against
        # two racing intakes or two periods of one person. The predicates are in migration 0006.
        *(
            Index(name, "applicant_key", unique=True, sqlite_where=text(where), postgresql_where=text(where))
            for name, where in (
                ("uq_case_open_claim", OPEN_CLAIM_WHERE),
                ("uq_case_active_period", ACTIVE_PERIOD_WHERE),
            )
        ),
    )
    case_id: str = Field(primary_key=True, max_length=128)
    case_type: str = Field(max_length=32)
    status: str = Field(max_length=32)
    stage: str = Field(default="", max_length=32)
    region_code: str = Field(max_length=6)
    applicant_key: str = Field(max_length=64)
    applicant_name: str = Field(default="", max_length=64)  # masked (张**): the full name stays sealed
    applicant_id_masked: str = Field(default="", max_length=32)
    #: The short readable case number (``core/person_search.py``), assigned on the first projection.
    short_no: str | None = Field(default=None, max_length=32)
    #: Person-search keys: HMACs of the normalised name and of ID tail + birth date (never plain).
    name_key: str | None = Field(default=None, max_length=64)
    tail_key: str | None = Field(default=None, max_length=64)
    employer_credit_code: str | None = Field(default=None, max_length=18, index=True)
    channel: str = Field(default="", max_length=32)
    received_at: datetime
    deadline: date | None = None
    overdue: bool = False
    escalated: bool = False
    assigned_to: str | None = Field(default=None, max_length=64)
    rounds: int = 0
    risk_flagged: bool = False
    blocked: bool = Field(default=False, index=True)
    summary: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(MutableDict.as_mutable(json_type()), nullable=False)
    )
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime
    version: int = 0


class CaseCount(SQLModel, table=True):
    """How many cases per key, kept exact by triggers on ``case_record`` (migration 0017), so a
    list's total, its status chips and the statistics page's totals never count a million rows."""

    __tablename__ = "case_count"
    region_code: str = Field(primary_key=True, max_length=6)
    case_type: str = Field(primary_key=True, max_length=32)
    status: str = Field(primary_key=True, max_length=32)
    stage: str = Field(primary_key=True, max_length=32)
    is_open: bool = Field(primary_key=True)
    overdue: bool = Field(primary_key=True)
    escalated: bool = Field(primary_key=True)
    blocked: bool = Field(primary_key=True)
    decided: bool = Field(primary_key=True)
    late: bool = Field(primary_key=True)  # decided, and not within the time limit
    n: int = 0


class CaseNumberSequence(SQLModel, table=True):
    """The last short case number given per region and business day (``<region>-<yyyymmdd>``)."""

    __tablename__ = "case_number_seq"
    prefix: str = Field(primary_key=True, max_length=16)
    last: int = 0


class Document(SQLModel, table=True):
    """An uploaded file, stored by the activities; cases reference it by id and hash."""

    __tablename__ = "document"
    id: str = Field(primary_key=True, max_length=36)
    case_id: str | None = Field(default=None, max_length=128, index=True)
    kind: str = Field(max_length=64)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)
    sha256: str = Field(max_length=64)
    size: int
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime
    storage_key: str = Field(max_length=255)


class PaymentOrder(SQLModel, table=True):
    """One payment (benefit month, refund, subsidy). The idempotency key (case + period) is
    unique, so a retried activity finds the existing order instead of creating a second one."""

    __tablename__ = "payment_order"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_payment_idempotency"),)
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=160)
    case_id: str = Field(max_length=128, index=True)
    period: str = Field(max_length=16)
    kind: str = Field(max_length=32)
    amount: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    status: str = Field(max_length=16)
    bank_ref: str | None = Field(default=None, max_length=64)
    failure_code: str | None = Field(default=None, max_length=64)
    created_at: datetime
    updated_at: datetime
    # Set by the pay-day run (docs/payments.md §0): which run and chunk sent it, in which bank batch.
    payday_id: str | None = Field(default=None, max_length=64)
    chunk: int | None = None
    bank_batch: str | None = Field(default=None, max_length=64)
    attempts: int = 0


class HistoryArchive(SQLModel, table=True):
    """A closed case's exported history (payloads still encrypted), hash-chained per case."""

    __tablename__ = "history_archive"
    __table_args__ = (UniqueConstraint("workflow_id", "run_id", name="uq_archive_run"),)
    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=128, index=True)
    run_id: str = Field(max_length=64)
    workflow_type: str = Field(max_length=64)
    seq: int
    history_json: str
    content_hash: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    chain_hash: str = Field(max_length=64)
    archived_at: datetime


class PremiumMonth(SQLModel, table=True):
    """One benefit month's medical premium paid on the recipient's behalf (代缴), or why it could
    not be paid (notice item 4). Keyed like the payment order (case + month), so a retried
    activity finds its row. The premium-refund case reads the failed months by applicant key."""

    __tablename__ = "premium_month"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_premium_idempotency"),
        Index("ix_premium_applicant_month", "applicant_key", "month"),
    )
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=160)
    case_id: str = Field(max_length=128, index=True)
    applicant_key: str = Field(max_length=64)
    region_code: str = Field(max_length=6)
    month: str = Field(max_length=7)
    status: str = Field(max_length=16)  # paid | failed
    basic_amount: Decimal | None = Field(default=None, sa_column=Column(ExactDecimal(), nullable=True))
    supplementary_amount: Decimal | None = Field(
        default=None, sa_column=Column(ExactDecimal(), nullable=True)
    )
    total: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    payment_no: str | None = Field(default=None, max_length=64)
    reason_code: str | None = Field(default=None, max_length=64)
    reason_zh: str | None = Field(default=None, max_length=255)
    created_at: datetime
    updated_at: datetime


class PayrollBatch(SQLModel, table=True):
    """Read model of one regional payroll batch (region + pay day): how many periods it released,
    paid and skipped, and the money, for the supervisors' reconciliation with the bank. One row per
    batch workflow chain (a batch reopened after it closed gets its own row)."""

    __tablename__ = "payroll_batch"
    __table_args__ = (Index("ix_payroll_region_date", "region_code", "pay_date"),)
    record_id: str = Field(primary_key=True, max_length=128)
    batch_id: str = Field(max_length=64, index=True)
    region_code: str = Field(max_length=6)
    pay_date: date
    status: str = Field(max_length=16)
    enrolled: int = 0
    granted: int = 0
    reported: int = 0
    skipped: int = 0
    reclaimed: int = 0
    months_paid: int = 0
    account_rejected: int = 0
    amount_paid: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    peak_in_flight: int = 0
    released_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime


class ServiceRequestLink(SQLModel, table=True):
    """A consultation or complaint naming a case (a claim, a period, a dispute), so the case page
    lists its requests and the request page shows the case. Written by the request's workflow."""

    __tablename__ = "service_request_link"
    request_id: str = Field(primary_key=True, max_length=128)
    case_id: str = Field(primary_key=True, max_length=128, index=True)
    kind: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    linked_at: datetime


class PolicyAnswer(SQLModel, table=True):
    """One entry of the catalogue of policy answers staff reuse, so the same question gets the
    same answer; dated, so an answer given is traceable to the entry in force that day."""

    __tablename__ = "policy_answer"
    id: str = Field(primary_key=True, max_length=64)
    topic: str = Field(max_length=32, index=True)
    question_zh: str = Field(max_length=200)
    answer_zh: str = Field(max_length=4000)
    effective_from: date
    source: str = Field(default="", max_length=200)
    updated_at: datetime


class RiskHit(SQLModel, table=True):
    """One risk hit as it joined a verification case, and what became of it: the rule and the
    version that produced it (so each rule's record can be judged per month: hits, confirmed,
    cleared, amounts recovered), its explanation, and the case's outcome once approved."""

    __tablename__ = "risk_hit"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_risk_hit_case_seq"),
        Index("ix_risk_hit_rule_month", "rule", "month"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=128, index=True)
    seq: int  # the hit's place in its case (idempotent writes)
    rule: str = Field(max_length=64)
    rule_version: str = Field(max_length=128)
    month: str = Field(max_length=7)  # YYYY-MM of found_at (Asia/Shanghai)
    found_at: datetime
    people: int
    explanation: str = Field(max_length=1000)
    outcome: str | None = Field(default=None, max_length=16)  # confirmed | cleared
    recovered: Decimal = Field(default=Decimal("0"), sa_column=Column(ExactDecimal(), nullable=False))
    settled_at: datetime | None = None


class SkillSubsidyGrant(SQLModel, table=True):
    """A 技能提升补贴 approved for a person (written before it is paid): the once-per-occupation-
    and-level rule and the yearly limit read these rows by applicant key. The certificate number is
    unique, so one certificate is never funded twice whichever case applied for it."""

    __tablename__ = "skill_subsidy_grant"
    __table_args__ = (
        UniqueConstraint("cert_no", name="uq_skill_grant_cert"),
        Index("ix_skill_grant_applicant", "applicant_key", "occupation_code"),
    )
    case_id: str = Field(primary_key=True, max_length=128)
    applicant_key: str = Field(max_length=64)
    cert_no: str = Field(max_length=32)
    occupation_code: str = Field(max_length=16)
    level: str = Field(max_length=16)
    applied_on: date
    shortage: bool = False
    amount: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    region_code: str = Field(max_length=6)
    status: str = Field(default="granted", max_length=16)  # granted | recovery
    created_at: datetime


class SkillSubsidyBatch(SQLModel, table=True):
    """An employer's batch filing of internal-evaluation certificates with one shared 证岗相适
    statement (its hash); each valid row became its own subsidy case (``SkillSubsidyBatchRow``)."""

    __tablename__ = "skill_subsidy_batch"
    batch_id: str = Field(primary_key=True, max_length=64)
    employer_credit_code: str = Field(max_length=18, index=True)
    region_code: str = Field(max_length=6)
    filed_by: str = Field(max_length=64)
    fit_statement_sha256: str = Field(max_length=64)
    rows_total: int
    rows_valid: int
    filed_at: datetime


class SkillSubsidyBatchRow(SQLModel, table=True):
    """One row of a batch as filed: the case it became, or why it was refused (Chinese)."""

    __tablename__ = "skill_subsidy_batch_row"
    batch_id: str = Field(primary_key=True, max_length=64)
    line: int = Field(primary_key=True)
    cert_no: str = Field(default="", max_length=32)
    case_id: str | None = Field(default=None, max_length=128)
    error_zh: str | None = Field(default=None, max_length=500)


class CallbackNonce(SQLModel, table=True):
    """A nonce of a signed callback from a government system, kept until its signature window has
    passed, so the same signed request cannot be delivered twice (replay). The primary key makes the
    check race-free: a second delivery of the same nonce fails to insert."""

    __tablename__ = "callback_nonce"
    system: str = Field(primary_key=True, max_length=32)
    nonce: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(index=True)


class PaymentSchedule(SQLModel, table=True):
    """One month of a benefit period's payment schedule, written by the period workflow when it
    starts or changes and read by the region's pay-day run at its cut-off (docs/payments.md §0).
    The row is where a stop and a payment meet: both take it ``FOR UPDATE``."""

    __tablename__ = "payment_schedule"
    __table_args__ = (
        UniqueConstraint("case_id", "pay_month", name="uq_schedule_case_month"),
        Index("ix_schedule_due", "region_code", "state", "due_date"),
        Index("ix_schedule_chunk", "payday_id", "chunk"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=128)
    region_code: str = Field(max_length=6)
    applicant_key: str = Field(max_length=64)
    pay_month: str = Field(max_length=7)
    month_index: int
    basis: str = Field(max_length=16)
    amount: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    due_date: date
    # scheduled | held | stopped | claimed | sending | paid | rejected
    state: str = Field(max_length=16)
    stop_requested: bool = False  # a stop or suspension arrived while the month was at the bank
    payday_id: str | None = Field(default=None, max_length=64)
    chunk: int | None = None
    order_key: str = Field(max_length=160)
    updated_at: datetime


class Payee(SQLModel, table=True):
    """Where a period's money goes: the payment details sealed with the payload key (AES-GCM, key
    id), so the pay-day run can pay without the period workflow and the database holds no account
    or ID number in clear."""

    __tablename__ = "payee"
    case_id: str = Field(primary_key=True, max_length=128)
    region_code: str = Field(max_length=6)
    applicant_key: str = Field(max_length=64)
    sealed: str
    account_masked: str = Field(max_length=16)
    updated_at: datetime


class PaydayRun(SQLModel, table=True):
    """One region's pay day: cut-off, chunks, and the reconciliation report for supervisors."""

    __tablename__ = "payday_run"
    __table_args__ = (Index("ix_payday_region_date", "region_code", "pay_date"),)
    payday_id: str = Field(primary_key=True, max_length=64)
    region_code: str = Field(max_length=6)
    pay_date: date
    status: str = Field(max_length=16)  # cut | paying | reconciled
    first_cutoff_at: datetime | None = None
    cutoff_at: datetime | None = None
    passes: int = 0
    chunks: int = 0
    items: int = 0
    paid: int = 0
    failed: int = 0
    rejected: int = 0
    retried: int = 0
    recoveries: int = 0
    amount_paid: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(json_type(), nullable=False))
    finished_at: datetime | None = None
    updated_at: datetime


class PaymentRecovery(SQLModel, table=True):
    """A month paid although a stop or suspension had been recorded for it (it raced the bank):
    a task for the region's supervisors to recover exactly that month."""

    __tablename__ = "payment_recovery"
    __table_args__ = (UniqueConstraint("order_key", name="uq_recovery_order"),)
    id: int | None = Field(default=None, primary_key=True)
    order_key: str = Field(max_length=160)
    case_id: str = Field(max_length=128, index=True)
    region_code: str = Field(max_length=6)
    pay_month: str = Field(max_length=7)
    amount: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    reason: str = Field(max_length=32)  # stopped_at_bank | stopped_after_payment
    payday_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=16)
    created_at: datetime


class PeriodEvent(SQLModel, table=True):
    """An outside event about a person receiving benefit (re-employment, pension, death, benefit
    in another province), pushed by its system or found by the re-check before a pay day, or a
    re-check that could not ask a system (``held``). One row per system and event id: a second
    delivery of the same event is answered from here and acts on nothing. Holds the applicant key
    (HMAC), never the ID number; listed for supervisors (``GET /api/v1/period-events``)."""

    __tablename__ = "period_event"
    __table_args__ = (
        UniqueConstraint("system", "event_id", name="uq_period_event"),
        Index("ix_period_event_region", "region_code", "received_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=32)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=40)
    source: str = Field(max_length=16)  # push | recheck
    applicant_key: str = Field(max_length=64, index=True)
    occurred_on: date | None = None
    case_id: str | None = Field(default=None, max_length=128, index=True)
    region_code: str | None = Field(default=None, max_length=6)
    status: str = Field(max_length=16)  # delivered | no_open_period | held | released
    effective_from: str | None = Field(default=None, max_length=7)  # first month not paid
    recovery_months: list[str] = Field(default_factory=list, sa_column=Column(json_type(), nullable=False))
    recovery_amount: Decimal = Field(default=Decimal("0"), sa_column=Column(ExactDecimal(), nullable=False))
    note_zh: str = Field(default="", max_length=500)
    payday_id: str | None = Field(default=None, max_length=64)
    received_at: datetime


class ParameterConfirmation(SQLModel, table=True):
    """An operator's confirmation of one UNCONFIRMED dated parameter value (issue 14): until a row
    for exactly that name, date and value exists, prod mode pays nothing that depends on it. The
    value is part of the key, so a changed figure needs confirming again. Each row is also in the
    audit chain (``params.confirmed``)."""

    __tablename__ = "parameter_confirmation"
    __table_args__ = (UniqueConstraint("name", "effective_from", "value", name="uq_param_confirmation"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    effective_from: date
    value: str = Field(max_length=512)  # the value as the parameter file states it (JSON text)
    source: str = Field(max_length=1000)  # what the operator checked it against
    confirmed_by: str = Field(max_length=64)
    confirmed_at: datetime


class PeriodImport(SQLModel, table=True):
    """One legacy recipient brought in by ``uiflow import periods`` (issue 14): one row per person
    (the applicant key), so a file run twice starts nothing new."""

    __tablename__ = "period_import"
    applicant_key: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(max_length=128, unique=True)
    region_code: str = Field(max_length=6)
    source_sha256: str = Field(max_length=64)  # the file it came from
    line: int
    imported_by: str = Field(max_length=64)
    imported_at: datetime


class Notice(SQLModel, table=True):
    """An official notice issued on a case (a decision, a receipt), as a PDF stored by its SHA-256
    (``core/documents``). ``issue_key`` is unique per case, so a retried step never issues twice;
    the check code printed on the notice (and in its QR) is unique and unguessable, so the public
    verify page finds exactly this notice and nothing else. No personal data in these columns: the
    name is only inside the PDF, which staff in scope download.

    Rendered on first use (migration 0019): the issuing step stores the worded layout in the
    document store (``layout_key``, content-addressed, like the PDF) and leaves ``sha256``, ``size``
    and ``storage_key`` empty; the first download or verification renders the PDF from that
    snapshot and fills them (``activities.notices.rendered``)."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("case_id", "issue_key", name="uq_notice_issue"),
        UniqueConstraint("check_code", name="uq_notice_check_code"),
    )
    id: str = Field(primary_key=True, max_length=32)
    case_id: str = Field(max_length=128, index=True)
    issue_key: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    title: str = Field(max_length=64)
    notice_no: str = Field(max_length=32)
    check_code: str = Field(max_length=19)
    region_code: str = Field(max_length=6)
    sha256: str | None = Field(default=None, max_length=64)
    size: int | None = None
    storage_key: str | None = Field(default=None, max_length=255)
    layout_key: str | None = Field(default=None, max_length=255)
    issued_at: datetime


class PremiumRefundLine(SQLModel, table=True):
    """The refund ledger (医保费返还台账): one row per person and month refunded, written by the
    refund case before it pays. The unique (person, month) key means a month is never refunded
    twice, whichever case asks for it."""

    __tablename__ = "premium_refund_line"
    __table_args__ = (
        UniqueConstraint("applicant_key", "month", name="uq_premium_refund_person_month"),
        Index("ix_premium_refund_case", "case_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    applicant_key: str = Field(max_length=64)
    month: str = Field(max_length=7)
    case_id: str = Field(max_length=128)
    region_code: str = Field(max_length=6)
    self_paid: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    standard: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    amount: Decimal = Field(sa_column=Column(ExactDecimal(), nullable=False))
    created_at: datetime
