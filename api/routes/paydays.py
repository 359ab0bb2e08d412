"""The pay-day report for supervisors (docs/payments.md §0): per region and pay day, what the run
paid, what failed and why, what was retried, the amounts, the reconciliation against the bank, and
the months to recover. Read-only; numbers and case ids only, no personal data."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ensure_region, get_session
from api.errors import ApiError
from api.principals import SupervisorView
from models.payday import payday_id
from models.tables import PaydayRun, PaymentRecovery

router = APIRouter(prefix="/api/v1/paydays", tags=["paydays"])


class RecoveryView(BaseModel):
    case_id: str
    pay_month: str
    amount: Decimal
    reason: str
    status: str


class PaydayReportView(BaseModel):
    payday_id: str
    region_code: str
    pay_date: date
    status: str
    first_cutoff_at: datetime | None
    finished_at: datetime | None
    passes: int
    chunks: int
    items: int
    paid: int
    failed: int
    rejected: int
    retried: int
    amount_paid: Decimal
    report: dict[str, Any]
    recoveries: list[RecoveryView]


@router.get("/{region_code}/{pay_date}", response_model=PaydayReportView)
async def payday_report(
    region_code: str,
    pay_date: date,
    staff: SupervisorView,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> PaydayReportView:
    """发放日对账报告：实发、失败及原因、重试、金额、与银行逐笔核对结果、待追回月份。"""
    ensure_region(staff, region_code)
    pid = payday_id(region_code, pay_date)
    run = await session.get(PaydayRun, pid)
    if run is None:
        raise ApiError(404, "payday.not_found", "该地区当日没有发放记录")
    recoveries = (await session.exec(select(PaymentRecovery).where(PaymentRecovery.payday_id == pid))).all()
    return PaydayReportView(
        payday_id=pid,
        region_code=run.region_code,
        pay_date=run.pay_date,
        status=run.status,
        first_cutoff_at=run.first_cutoff_at,
        finished_at=run.finished_at,
        passes=run.passes,
        chunks=run.chunks,
        items=run.items,
        paid=run.paid,
        failed=run.failed,
        rejected=run.rejected,
        retried=run.retried,
        amount_paid=run.amount_paid,
        report=run.report,
        recoveries=[
            RecoveryView(
                case_id=r.case_id, pay_month=r.pay_month, amount=r.amount, reason=r.reason, status=r.status
            )
            for r in recoveries
        ],
    )
