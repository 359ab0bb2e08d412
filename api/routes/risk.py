"""Risk control (issue 16) for staff: the 风险稽核员's inbox of verification cases (核查), a case
with its hits, parties and outcome, the inspector's proposal, the supervisor's approval, repayments,
and the rules' own report and watch list.

Every decision goes through the one Update path of ``api.temporal_ops`` (the workflow refuses with
a stable code; the one table turns it into a status). Cases are looked at only within the staff
member's region scope; the workflow checks roles, regions and separation of duties again."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.deps import get_db, get_session, get_temporal
from api.principals import (
    Inspector,
    RiskStaff,
    Supervisor,
    SupervisorView,
    VerificationForInspector,
    VerificationForRepayment,
    VerificationForRiskStaff,
    VerificationForSupervisor,
)
from api.temporal_ops import Decide, call_workflow
from core.db import Database
from core.risk_report import RuleMonth, RuleWatch, rule_report, rule_watch
from models.case import DecisionReceipt
from models.enums import CaseType
from models.person import DocumentRef
from models.review import ReviewAction, ReviewCommand
from models.tables import CaseRecord
from models.verification import ProposeCommand, RepaymentCommand, VerificationState
from policy.regions import subtree_codes
from workflows.verification import VerificationWorkflow

router = APIRouter(prefix="/api/v1/risk", tags=["risk"])

# Who may call what is declared in each signature (api/principals.py): inspectors and supervisors
# read the cases and the report; the inspector proposes; the supervisor approves (and sees the
# watch list, with the auditors); either records a repayment. The workflow checks again.
Session = Annotated[AsyncSession, Depends(get_session)]
Temporal = Annotated[Client, Depends(get_temporal)]
MONTH = r"^\d{4}-\d{2}$"


class VerificationItem(BaseModel):
    case_id: str
    status: str
    stage: str
    region_code: str
    reason: str
    rules: list[str]
    parties: int
    deadline: date | None
    overdue: bool
    received_at: datetime


class ProposeBody(BaseModel):
    outcome: Literal["cleared", "sanction"]
    finding: str = Field(
        max_length=2000, examples=["经调取银行流水和询问笔录，认定由同一中介代办骗取失业保险金"]
    )
    evidence: list[DocumentRef] = Field(default_factory=list)
    recovery: bool = False
    installments: int = Field(default=1, ge=1, le=24)
    fine_multiple: Decimal | None = Field(default=None, ge=1, le=10)
    fine_justification: str = Field(default="", max_length=1000)
    police: bool = False
    police_file: DocumentRef | None = None
    police_unit: str = Field(default="", max_length=128)
    round: int | None = Field(default=None, ge=1, le=1000)


class ApprovalBody(BaseModel):
    reason: str = Field(default="", max_length=1000, examples=["证据不足，不予批准"])
    note: str = Field(default="", max_length=1000, examples=["请补充银行流水"])
    round: int | None = Field(default=None, ge=1, le=1000)


class RepaymentBody(BaseModel):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2, examples=["1880.00"])
    paid_on: date
    receipt: DocumentRef | None = None


@router.get("/verifications", response_model=list[VerificationItem], summary="核查案件收件箱")
async def inbox(
    staff: RiskStaff,
    session: Session,
    open_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[VerificationItem]:
    q = select(CaseRecord).where(
        CaseRecord.case_type == CaseType.RISK_CHECK.value,
        col(CaseRecord.region_code).in_(subtree_codes(staff.region_code)),
    )
    if open_only:
        q = q.where(col(CaseRecord.closed_at).is_(None))
    rows = (await session.exec(q.order_by(col(CaseRecord.received_at).desc()).limit(limit))).all()
    return [
        VerificationItem(
            case_id=r.case_id,
            status=r.status,
            stage=r.stage,
            region_code=r.region_code,
            reason=str(r.summary.get("reason", "")),
            rules=list(r.summary.get("rules", [])),
            parties=len(r.summary.get("parties", [])),
            deadline=r.deadline,
            overdue=r.overdue,
            received_at=r.received_at,
        )
        for r in rows
    ]


@router.get("/verifications/{case_id}", response_model=VerificationState, summary="核查案件详情")
async def verification(case_id: str, case: VerificationForRiskStaff, temporal: Temporal) -> VerificationState:
    handle = temporal.get_workflow_handle_for(VerificationWorkflow.run, case_id)
    state: VerificationState = await call_workflow(lambda: handle.query(VerificationWorkflow.state_query))
    return state


@router.post(
    "/verifications/{case_id}/proposal", response_model=DecisionReceipt, summary="稽核员提出处理意见"
)
async def propose(
    case_id: str,
    body: ProposeBody,
    case: VerificationForInspector,
    staff: Inspector,
    decide: Decide,
) -> DecisionReceipt:
    cmd = ProposeCommand(
        actor=staff,
        action=ReviewAction.APPROVE,
        level="propose",
        round=body.round,
        **body.model_dump(exclude={"round"}),
    )
    return await decide(case_id, VerificationWorkflow.propose, cmd)


_ACTIONS = {
    "approve": ReviewAction.APPROVE,
    "reject": ReviewAction.REJECT,
    "send-back": ReviewAction.SEND_BACK,
}


@router.post(
    "/verifications/{case_id}/approval/{action}",
    response_model=DecisionReceipt,
    summary="业务主管审批处理意见（批准、不予批准、退回）",
)
async def approve(
    case_id: str,
    action: Literal["approve", "reject", "send-back"],
    case: VerificationForSupervisor,
    staff: Supervisor,
    decide: Decide,
    body: ApprovalBody | None = None,
) -> DecisionReceipt:
    b = body or ApprovalBody()
    cmd = ReviewCommand(
        actor=staff, action=_ACTIONS[action], reason=b.reason, note=b.note, level="approve", round=b.round
    )
    return await decide(case_id, VerificationWorkflow.approve_outcome, cmd)


@router.post("/verifications/{case_id}/repayments", response_model=DecisionReceipt, summary="登记退回款项")
async def repayment(
    case_id: str,
    body: RepaymentBody,
    case: VerificationForRepayment,
    staff: RiskStaff,
    decide: Decide,
) -> DecisionReceipt:
    cmd = RepaymentCommand(actor=staff, amount=body.amount, paid_on=body.paid_on, receipt=body.receipt)
    return await decide(case_id, VerificationWorkflow.record_repayment, cmd)


@router.get("/rules/report", response_model=list[RuleMonth], summary="风险规则按月命中、核实、排除与追回统计")
async def report(
    staff: RiskStaff,
    db: Annotated[Database, Depends(get_db)],
    month_from: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    month_to: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
) -> list[RuleMonth]:
    return await rule_report(db, month_from, month_to)


@router.get("/rules/watch", response_model=list[RuleWatch], summary="需关注的风险规则（从未命中或多被排除）")
async def watch(
    staff: SupervisorView,
    db: Annotated[Database, Depends(get_db)],
    since: Annotated[str | None, Query(pattern=MONTH)] = None,
) -> list[RuleWatch]:
    return await rule_watch(db, since)
