"""The benefit period's staff operations (issue 14 item 1): stop, suspend and resume, change of
bank account, the transitional (notice item 3) and continuation (续发) applications taken at the
counter, and the transfer to another district.

Each route declares who may call it (``PeriodFor*`` loads the period, checks the role and answers
404 outside the caller's region) and sends one Update through ``api/temporal_ops.py``, whose
validator has the last word (stage, role, region, own case) with ``period.<reason>`` refusals. A
reason is required for every operation; evidence documents are referenced by id and hash (uploaded
through ``/api/v1/documents``) and checked here before the Update, then attached by the workflow.
No personal data in paths: the account number travels only in the body, into an encrypted
payload."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.params import IdempotencyKey, KnownRegion
from api.principals import (
    PeriodAccountClerk,
    PeriodCounter,
    PeriodForAccount,
    PeriodForCounter,
    PeriodForHolder,
    PeriodForStaff,
    PeriodForStopper,
    PeriodHolder,
    PeriodStopper,
)
from api.temporal_ops import call_workflow, execute_update
from models.benefit import (
    AccountChangeCommand,
    ContinuationApplication,
    PeriodReceipt,
    PeriodState,
    StaffResumeCommand,
    StaffStopCommand,
    StaffSuspendCommand,
    StopReason,
    TransferCommand,
    TransitionalApplication,
)
from models.person import DocumentRef
from models.tables import CaseRecord, Document
from workflows.benefit_period import BenefitPeriodWorkflow

router = APIRouter(prefix="/api/v1/periods", tags=["periods"])
Session = Annotated[AsyncSession, Depends(get_session)]
Temporal = Annotated[Client, Depends(get_temporal)]
MIN_REASON = 2

#: The stop conditions staff may record (domain.md A5), with their Chinese labels.
STOP_REASON_LABELS: dict[str, str] = {r.value: r.label_zh for r in StopReason}


class Evidence(BaseModel):
    reason: str = Field(
        default="",
        max_length=500,
        description="办理理由（必填，记入案件）",
        examples=["就业登记系统核实已重新就业"],
    )
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20, description="证明材料（先上传）")


class StopBody(Evidence):
    stop_reason: StopReason = Field(description="停发事由（社会保险法第五十一条、失业保险条例第十五条）")
    on: date = Field(description="事由发生日期", examples=["2027-05-18"])


class ResumeBody(Evidence):
    ref: str | None = Field(default=None, max_length=128, description="解除哪一项暂停（不填：全部）")


class AccountBody(Evidence):
    account_no: str = Field(pattern=r"^\d{12,30}$", description="本人名下的银行账号（将经银行户名核验）")
    bank_name: str = Field(default="", max_length=64)


class TransferBody(Evidence):
    to_region: KnownRegion = Field(
        pattern=r"^15\d{4}$", description="转入的旗县（市、区）", examples=["150202"]
    )


def _reason(body: Evidence, what: str) -> str:
    text = body.reason.strip()
    if len(text) < MIN_REASON:
        raise ApiError(
            422,
            "period.reason_required",
            f"{what}必须写明理由（将记入案件并告知本人）",
            fields={"reason": "请填写办理理由"},
        )
    return text


async def _evidence(session: Session, case: CaseRecord, refs: list[DocumentRef]) -> list[DocumentRef]:
    """Each document exists with the hash given, and is not another case's."""
    for ref in refs:
        doc = await session.get(Document, ref.id)
        if doc is None or doc.sha256 != ref.sha256 or (doc.case_id not in (None, case.case_id)):
            raise ApiError(
                422,
                "period.invalid",
                "证明材料不存在、已被改动或属于其他案件，请重新上传",
                fields={"evidence": "请重新上传证明材料"},
            )
    return refs


async def _send(
    temporal: Client,
    session: AsyncSession,
    case: CaseRecord,
    update: Any,
    arg: Any,
    idempotency_key: str | None,
) -> PeriodReceipt:
    return await execute_update(
        temporal,
        case.case_id,
        update,
        arg,
        session=session,
        idempotency_key=idempotency_key,
        result_type=PeriodReceipt,
    )


@router.get("/{period_id}", response_model=PeriodState, summary="失业保险金发放案件详情")
async def get_period(period_id: str, case: PeriodForStaff, temporal: Temporal) -> PeriodState:
    handle = temporal.get_workflow_handle_for(BenefitPeriodWorkflow.run, case.case_id)
    state: PeriodState = await call_workflow(lambda: handle.query(BenefitPeriodWorkflow.state_query))
    return state


@router.post("/{period_id}/stop", response_model=PeriodReceipt, summary="登记停发（审核员、业务主管）")
async def stop(
    period_id: str,
    body: StopBody,
    case: PeriodForStopper,
    staff: PeriodStopper,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    note = _reason(body, "登记停发")
    cmd = StaffStopCommand(
        actor=staff,
        reason=body.stop_reason,
        on=body.on,
        note=note,
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(temporal, session, case, BenefitPeriodWorkflow.stop_by_staff, cmd, idempotency_key)


@router.post("/{period_id}/suspend", response_model=PeriodReceipt, summary="暂停发放")
async def suspend(
    period_id: str,
    body: Evidence,
    case: PeriodForHolder,
    staff: PeriodHolder,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    cmd = StaffSuspendCommand(
        actor=staff,
        reason_zh=_reason(body, "暂停发放"),
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(temporal, session, case, BenefitPeriodWorkflow.suspend_by_staff, cmd, idempotency_key)


@router.post("/{period_id}/resume", response_model=PeriodReceipt, summary="恢复发放")
async def resume(
    period_id: str,
    body: ResumeBody,
    case: PeriodForHolder,
    staff: PeriodHolder,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    cmd = StaffResumeCommand(
        actor=staff,
        ref=body.ref,
        note=_reason(body, "恢复发放"),
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(temporal, session, case, BenefitPeriodWorkflow.resume_by_staff, cmd, idempotency_key)


@router.post("/{period_id}/account", response_model=PeriodReceipt, summary="变更收款账户（经银行户名核验）")
async def change_account(
    period_id: str,
    body: AccountBody,
    case: PeriodForAccount,
    staff: PeriodAccountClerk,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    cmd = AccountChangeCommand(
        actor=staff,
        account_no=body.account_no,
        bank_name=body.bank_name,
        note=_reason(body, "变更收款账户"),
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(temporal, session, case, BenefitPeriodWorkflow.change_account, cmd, idempotency_key)


@router.post(
    "/{period_id}/transitional", response_model=PeriodReceipt, summary="受理过渡期发放申请（通知第三项）"
)
async def transitional(
    period_id: str,
    body: Evidence,
    case: PeriodForCounter,
    staff: PeriodCounter,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    app = TransitionalApplication(
        by=staff.login,
        actor=staff,
        note=_reason(body, "受理过渡期发放申请"),
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(
        temporal, session, case, BenefitPeriodWorkflow.apply_transitional, app, idempotency_key
    )


@router.post("/{period_id}/continuation", response_model=PeriodReceipt, summary="受理续发申请")
async def continuation(
    period_id: str,
    body: Evidence,
    case: PeriodForCounter,
    staff: PeriodCounter,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    app = ContinuationApplication(
        actor=staff,
        note=_reason(body, "受理续发申请"),
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(
        temporal, session, case, BenefitPeriodWorkflow.apply_continuation, app, idempotency_key
    )


@router.post("/{period_id}/transfer", response_model=PeriodReceipt, summary="转移发放地（区内跨旗县）")
async def transfer(
    period_id: str,
    body: TransferBody,
    case: PeriodForStopper,
    staff: PeriodStopper,
    session: Session,
    temporal: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> PeriodReceipt:
    cmd = TransferCommand(
        actor=staff,
        to_region=body.to_region,
        note=_reason(body, "办理发放地转移"),
        evidence=await _evidence(session, case, body.evidence),
    )
    return await _send(temporal, session, case, BenefitPeriodWorkflow.transfer_region, cmd, idempotency_key)
