"""The region's pay day (docs/payments.md §0): the shapes the pay-day run and the period's schedule
writes exchange. Set-based: a month's payment is a ``payment_schedule`` row, so the pay-day run
carries counts, totals and bank batch references in its history, never personal data."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.benefit import PaymentDetails, PremiumRecord
from models.rules import YearMonth

PAYDAY_PREFIX = "payday-"

RowState = Literal["scheduled", "held", "stopped", "claimed", "sending", "paid", "rejected"]


def payday_id(region_code: str, pay_date: date) -> str:
    return f"{PAYDAY_PREFIX}{region_code}-{pay_date:%Y%m%d}"


class PaydaySettings(BaseModel):
    """Fixed when the run starts, so its history records them (``UIFLOW_PAYDAY_*``)."""

    chunk_size: int = Field(default=1000, ge=1, le=5000)
    parallel: int = Field(default=2, ge=1, le=64)  # chunks in flight at once
    chunks_per_run: int = Field(default=50, ge=1)  # continue-as-new after this many chunks
    item_attempts: int = Field(default=6, ge=1)  # bank attempts per failed item within a chunk
    pay_hour: int = Field(default=9, ge=0, le=23)  # release on the pay day at this hour (Asia/Shanghai)
    chunk_timeout_seconds: float = Field(default=600.0, gt=0)
    heartbeat_seconds: float = Field(default=60.0, gt=0)


class ChunkResult(BaseModel):
    """What one chunk did: numbers and the bank's batch references only."""

    chunk: int
    count: int = 0  # rows taken (stopped since the cut-off: not counted)
    paid: int = 0
    failed: int = 0  # still failing after the attempts (left for the next run)
    rejected: int = 0  # account refused
    skipped: int = 0  # stopped or suspended after the cut-off
    retried: int = 0  # items sent again after a failure
    recoveries: int = 0  # paid although a stop raced the bank
    total_paid: Decimal = Decimal("0")
    bank_batches: list[str] = Field(default_factory=list)


class PaydayTotals(BaseModel):
    chunks: int = 0
    count: int = 0
    paid: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    retried: int = 0
    recoveries: int = 0
    total_paid: Decimal = Decimal("0")

    def add(self, r: ChunkResult) -> None:
        self.chunks += 1
        for f in ("count", "paid", "failed", "rejected", "skipped", "retried", "recoveries"):
            setattr(self, f, getattr(self, f) + getattr(r, f))
        self.total_paid += r.total_paid


class PaydayCarry(BaseModel):
    passes: int
    pending: list[int]  # chunks of the current pass not yet done
    totals: PaydayTotals
    run: int


class PaydayInput(BaseModel):
    payday_id: str
    region_code: str
    pay_date: date
    release_at: datetime
    settings: PaydaySettings = Field(default_factory=PaydaySettings)
    carry: PaydayCarry | None = None


class CutoffRequest(BaseModel):
    payday_id: str
    region_code: str
    pay_date: date
    chunk_size: int
    pass_no: int


class Cutoff(BaseModel):
    cutoff_at: datetime
    chunks: list[int]
    count: int
    total: Decimal
    # Rows left scheduled because their amount waits for an operator's confirmation of a
    # parameter value (``name@effective_from`` -> rows; issue 14). Empty in dev/test mode.
    held_unconfirmed: dict[str, int] = Field(default_factory=dict)


class ChunkRequest(BaseModel):
    payday_id: str
    region_code: str
    pay_date: date
    chunk: int
    item_attempts: int


class ReconcileRequest(BaseModel):
    payday_id: str
    region_code: str
    pay_date: date
    totals: PaydayTotals


class PaydayReport(BaseModel):
    """Per pay day, for supervisors: orders against the bank's results item by item."""

    payday_id: str
    items: int
    paid: int
    failed: int
    rejected: int
    retried: int
    recoveries: int
    amount_paid: Decimal
    mismatches: int  # an order and the bank disagree (amount, reference, or paid on one side only)
    failed_reasons: dict[str, int] = Field(default_factory=dict)
    notices: int = 0
    # Months due but not paid because an UNCONFIRMED parameter value they use is not yet confirmed
    # by an operator (``name@effective_from`` -> months), and why, in Chinese (issue 14).
    waiting_confirmation: dict[str, int] = Field(default_factory=dict)
    waiting_reasons_zh: list[str] = Field(default_factory=list)


class PaydayResult(BaseModel):
    payday_id: str
    passes: int
    totals: PaydayTotals
    report: PaydayReport


# --- the period's side -------------------------------------------------------------------------------


class ScheduleMonth(BaseModel):
    month_index: int
    pay_month: YearMonth
    basis: str
    want: Literal["scheduled", "held", "stopped"]


class SyncScheduleRequest(BaseModel):
    """Make the case's rows match the period's schedule (start, stop, suspension, resumption,
    extension, account change). ``person`` (encrypted in the payload) re-seals the payee."""

    case_id: str
    region_code: str
    applicant_key: str
    pay_day: int
    months: list[ScheduleMonth]
    person: PaymentDetails | None = None
    reschedule_rejected: bool = False


class SyncResult(BaseModel):
    due: dict[str, date] = Field(default_factory=dict)  # pay month -> nominal due day, open months
    recovered: list[YearMonth] = Field(default_factory=list)  # paid although now stopped/held
    at_bank: list[YearMonth] = Field(default_factory=list)  # decided by the chunk when it returns
    paydays: list[str] = Field(default_factory=list)  # runs started for these rows


class LedgerPayment(BaseModel):
    pay_month: YearMonth
    month_index: int
    basis: str
    amount: Decimal
    order_key: str
    bank_ref: str
    payday_id: str | None
    paid_at: datetime


class PeriodLedger(BaseModel):
    paid: list[LedgerPayment]
    rejected: list[YearMonth]
    open: list[YearMonth]  # scheduled, claimed or at the bank
    premiums: list[PremiumRecord] = Field(default_factory=list)
