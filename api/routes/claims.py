"""Benefit claims: intake (online by the applicant, or at a counter by a clerk), detail, staff
decisions (each an Update whose validator has the last word), applicant actions (re-apply,
supply documents), and the reject-reason catalogue."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import SESSION_COOKIE, CurrentStaff, ensure_region, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.params import IdempotencyKey
from api.schemas import ClaimApplicationIn
from api.temporal_ops import call_workflow, execute_update
from core import audit
from core.applicant import applicant_key
from core.security import TokenError, decode_token
from core.settings import Settings
from models.case import DecisionReceipt, UnblockCommand
from models.claim import (
    CLAIM_STATUS_LABELS,
    OPEN_CLAIM_STATUSES,
    REJECT_REASONS,
    ApproveCommand,
    AssignCommand,
    ClaimInput,
    ClaimState,
    ClaimStatus,
    DocumentRef,
    ReapplyEvent,
    RejectCommand,
    RejectReason,
    RequestDocumentsCommand,
    RiskFindingCommand,
)
from models.enums import READ_ONLY_ROLES, CaseType, Channel, Role
from models.staff import StaffActor
from models.tables import CaseRecord
from policy.identity import mask_phone
from workflows.base import initial_search_attributes
from workflows.benefit_claim import BenefitClaimWorkflow

router = APIRouter(prefix="/api/v1/claims", tags=["claims"])


class ClaimCreated(BaseModel):
    case_id: str
    status: str
    channel: Channel
    message: str


class ClaimDetail(BaseModel):
    case_id: str
    status: str
    status_label: str
    state: ClaimState


class ApplicantView(BaseModel):
    id_number: str
    name: str
    phone: str
    bank_account: str
    bank_name: str
    masked: bool


class ApproveBody(BaseModel):
    note: str = Field(default="", max_length=500, examples=["材料齐全，符合条件"])


class RejectBody(BaseModel):
    reason_code: RejectReason = Field(examples=["voluntary_separation"])
    remedy: str = Field(max_length=1000, examples=["如停保原因有误，可由原单位申请变更停保原因。"])
    note: str = Field(default="", max_length=500)


class RequestDocumentsBody(BaseModel):
    documents: list[str] = Field(min_length=1, examples=[["解除劳动合同证明"]])
    note: str = Field(default="", max_length=500)


class AssignBody(BaseModel):
    reviewer_login: str = Field(min_length=1, max_length=64, examples=["reviewer.xc"])


class UnblockBody(BaseModel):
    note: str = Field(min_length=1, max_length=500, examples=["外部系统已恢复"])


class ApplicantActionBody(BaseModel):
    """An applicant acting online proves who they are with their ID number (checked against the
    case's applicant key; the real portal's sign-in stands in front of this in production)."""

    id_number: str | None = Field(default=None, examples=["150102198005171237"])
    documents: list[DocumentRef] = Field(default_factory=list)
    note: str = Field(default="", max_length=500)


class ReasonItem(BaseModel):
    code: RejectReason
    label: str
    default_remedy: str


def optional_staff(request: Request, settings: Settings) -> StaffActor | None:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        c = decode_token(settings, token)
    except TokenError as e:
        raise ApiError(401, e.code, e.message_zh) from e
    roles = [Role(r) for r in c.roles if r in Role._value2member_map_]
    if request.method != "GET" and roles and all(r in READ_ONLY_ROLES for r in roles):
        raise ApiError(403, "auth.read_only", "审计角色只能查看，不能修改任何数据")
    return StaffActor(
        login=c.login, name=c.name, roles=roles, region_code=c.region_code, applicant_key=c.applicant_key
    )


@router.post(
    "",
    status_code=201,
    response_model=ClaimCreated,
    summary="提交失业保险金申领（网上或窗口）",
    responses={
        409: {"description": "该申请人在本地区已有未办结的申领"},
        422: {"description": "字段校验未通过"},
    },
)
async def create_claim(
    body: ClaimApplicationIn,
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    client: Annotated[Client, Depends(get_temporal)],
) -> ClaimCreated:
    staff = optional_staff(request, settings)
    if staff is not None:
        if not staff.has(Role.INTAKE_CLERK):
            raise ApiError(403, "auth.role", "只有窗口受理员可以代为提交申领")
        ensure_region(staff, body.region_code)
        channel = Channel.COUNTER
    else:
        channel = Channel.ONLINE
    app = body.to_model()
    key = applicant_key(settings, app.id_number)
    rows = (
        await session.exec(
            select(CaseRecord.status).where(
                CaseRecord.applicant_key == key,
                CaseRecord.case_type == CaseType.BENEFIT_CLAIM.value,
                CaseRecord.region_code == app.region_code,
            )
        )
    ).all()
    if any(s in OPEN_CLAIM_STATUSES for s in rows):
        raise ApiError(409, "claim.open_exists", "该申请人在本地区已有未办结的失业保险金申领，请勿重复申请")
    case_id = f"claim-{app.region_code}-{key}-{len(rows) + 1}"
    inp = ClaimInput(
        case_id=case_id,
        applicant_key=key,
        application=app,
        channel=channel,
        received_at=datetime.now(UTC),
        submitted_by=staff.login if staff else "applicant",
        submitted_by_region=staff.region_code if staff else None,
    )
    try:
        await client.start_workflow(
            BenefitClaimWorkflow.run,
            inp,
            id=case_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=initial_search_attributes(
                CaseType.BENEFIT_CLAIM.value, app.region_code, "checking"
            ),
        )
    except WorkflowAlreadyStartedError as e:
        raise ApiError(409, "claim.open_exists", "该申请人在本地区已有申领正在受理，请勿重复提交") from e
    await audit.append(
        session,
        actor=staff.login if staff else "applicant",
        action="claim.submitted",
        case_id=case_id,
        payload={"channel": channel.value, "region": app.region_code},
        actor_region=staff.region_code if staff else None,
    )
    await session.commit()
    return ClaimCreated(
        case_id=case_id,
        status="received",
        channel=channel,
        message="申请已受理。审核将在失业登记确认后按规定的工作日时限完成。",
    )


@router.get("/reject-reasons", response_model=list[ReasonItem], summary="不予通过原因目录（含默认处置方式）")
async def reject_reasons(staff: CurrentStaff) -> list[ReasonItem]:
    return [ReasonItem(code=k, label=v[0], default_remedy=v[1]) for k, v in REJECT_REASONS.items()]


async def _case(session: AsyncSession, staff: StaffActor, case_id: str) -> CaseRecord:
    row = await session.get(CaseRecord, case_id)
    if row is None or row.case_type != CaseType.BENEFIT_CLAIM.value:
        raise ApiError(404, "case.not_found", "未找到该申领")
    ensure_region(staff, row.region_code)
    return row


def _handle(client: Client, case_id: str) -> WorkflowHandle[BenefitClaimWorkflow, Any]:
    return client.get_workflow_handle_for(BenefitClaimWorkflow.run, case_id)


@router.get("/{case_id}", response_model=ClaimDetail, summary="申领详情（核验报告、审核轮次、时间线）")
async def claim_detail(
    case_id: str,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
) -> ClaimDetail:
    await _case(session, staff, case_id)
    state = await call_workflow(lambda: _handle(client, case_id).query(BenefitClaimWorkflow.state_query))
    return ClaimDetail(
        case_id=case_id,
        status=state.status.value,
        status_label=CLAIM_STATUS_LABELS[state.status],
        state=state,
    )


@router.get(
    "/{case_id}/applicant",
    response_model=ApplicantView,
    summary="申请人信息（默认脱敏；完整查看将记入审计日志）",
)
async def claim_applicant(
    case_id: str,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    full: bool = False,
) -> ApplicantView:
    await _case(session, staff, case_id)
    app = await call_workflow(lambda: _handle(client, case_id).query(BenefitClaimWorkflow.applicant_details))
    if full:
        await audit.append(
            session,
            actor=staff.login,
            action="personal_data.viewed",
            case_id=case_id,
            actor_region=staff.region_code,
            payload={"fields": ["id_number", "phone", "bank_account"]},
        )
        await session.commit()
        return ApplicantView(
            id_number=app.id_number,
            name=app.name,
            phone=app.phone,
            bank_account=app.bank_account,
            bank_name=app.bank_name,
            masked=False,
        )
    return ApplicantView(
        id_number=app.id_number[:6] + "********" + app.id_number[-4:],
        name=app.name,
        phone=mask_phone(app.phone),
        bank_account="*" * (len(app.bank_account) - 4) + app.bank_account[-4:],
        bank_name=app.bank_name,
        masked=True,
    )


async def _decide(
    session: AsyncSession,
    staff: StaffActor | None,
    client: Client,
    case_id: str,
    update: Any,
    cmd: Any,
    idempotency_key: str | None,
) -> DecisionReceipt:
    """Every decision on a claim: the case in the caller's scope (when staff act), then the one
    Update path of ``api.temporal_ops``."""
    if staff is not None:
        await _case(session, staff, case_id)
    return await execute_update(
        client,
        case_id,
        update,
        cmd,
        session=session,
        idempotency_key=idempotency_key,
        result_type=DecisionReceipt,
    )


@router.post(
    "/{case_id}/approve",
    response_model=DecisionReceipt,
    summary="审核通过",
    responses={409: {"description": "决定被拒绝（阶段、角色、地区或岗位分离），message 为原因"}},
)
async def approve(
    case_id: str,
    body: ApproveBody,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    cmd = ApproveCommand(actor=staff, note=body.note)
    return await _decide(session, staff, client, case_id, BenefitClaimWorkflow.approve, cmd, idempotency_key)


class RiskFindingBody(BaseModel):
    """The 风险稽核员's finding on a flagged claim (issue 16)."""

    outcome: Literal["cleared", "confirmed"]
    finding: str = Field(max_length=2000, description="核查结论及依据")
    evidence: list[DocumentRef] = Field(default_factory=list, description="核查证据材料")
    action: Literal["refuse", "refer"] | None = Field(
        default=None, description="风险属实时：不予通过或转核查案件"
    )
    remedy: str = Field(default="", max_length=1000)
    round: int | None = Field(default=None, ge=1, le=1000)


@router.post("/{case_id}/risk-finding", response_model=DecisionReceipt, summary="风险核查结论（排除或属实）")
async def risk_finding(
    case_id: str,
    body: RiskFindingBody,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    cmd = RiskFindingCommand(actor=staff, **body.model_dump())
    update = BenefitClaimWorkflow.record_risk_finding
    return await _decide(session, staff, client, case_id, update, cmd, idempotency_key)


@router.post("/{case_id}/reject", response_model=DecisionReceipt, summary="不予通过（须填写原因与处置方式）")
async def reject(
    case_id: str,
    body: RejectBody,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    cmd = RejectCommand(actor=staff, reason_code=body.reason_code, remedy=body.remedy, note=body.note)
    return await _decide(session, staff, client, case_id, BenefitClaimWorkflow.reject, cmd, idempotency_key)


@router.post("/{case_id}/request-documents", response_model=DecisionReceipt, summary="要求补正材料")
async def request_documents(
    case_id: str,
    body: RequestDocumentsBody,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    cmd = RequestDocumentsCommand(actor=staff, documents=body.documents, note=body.note)
    update = BenefitClaimWorkflow.request_documents
    return await _decide(session, staff, client, case_id, update, cmd, idempotency_key)


@router.post("/{case_id}/assign", response_model=DecisionReceipt, summary="分派或认领审核")
async def assign(
    case_id: str,
    body: AssignBody,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    cmd = AssignCommand(actor=staff, reviewer_login=body.reviewer_login)
    return await _decide(session, staff, client, case_id, BenefitClaimWorkflow.assign, cmd, idempotency_key)


@router.post("/{case_id}/unblock", summary="运维解除案件阻塞")
async def unblock(
    case_id: str,
    body: UnblockBody,
    staff: CurrentStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, str]:
    cmd = UnblockCommand(actor=staff, note=body.note)
    await _case(session, staff, case_id)
    msg = await execute_update(
        client,
        case_id,
        BenefitClaimWorkflow.unblock_case,
        cmd,
        session=session,
        idempotency_key=idempotency_key,
        result_type=str,
    )
    return {"message": msg}


async def _applicant_action(
    request: Request, case_id: str, body: ApplicantActionBody, settings: Settings, session: AsyncSession
) -> str:
    """Who acts for the applicant: a clerk in scope (counter), or the applicant proving the ID."""
    row = await session.get(CaseRecord, case_id)
    if row is None or row.case_type != CaseType.BENEFIT_CLAIM.value:
        raise ApiError(404, "case.not_found", "未找到该申领")
    staff = optional_staff(request, settings)
    if staff is not None:
        if not staff.has(Role.INTAKE_CLERK):
            raise ApiError(403, "auth.role", "只有窗口受理员可以代申请人办理")
        ensure_region(staff, row.region_code)
        return staff.login
    if not body.id_number or not hmac.compare_digest(
        applicant_key(settings, body.id_number), row.applicant_key
    ):
        raise ApiError(403, "auth.applicant", "身份证号码与申请人不符")
    return "applicant"


@router.post("/{case_id}/reapply", response_model=DecisionReceipt, summary="未通过后重新申请")
async def reapply(
    case_id: str,
    body: ApplicantActionBody,
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    by = await _applicant_action(request, case_id, body, settings, session)
    cmd = ReapplyEvent(by=by, documents=body.documents, note=body.note)
    update = BenefitClaimWorkflow.reapply
    return await _decide(session, None, client, case_id, update, cmd, idempotency_key)


@router.post("/{case_id}/supply-documents", response_model=DecisionReceipt, summary="提交补正材料")
async def supply_documents(
    case_id: str,
    body: ApplicantActionBody,
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    client: Annotated[Client, Depends(get_temporal)],
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    by = await _applicant_action(request, case_id, body, settings, session)
    cmd = ReapplyEvent(by=by, documents=body.documents, note=body.note)
    update = BenefitClaimWorkflow.supply_documents
    return await _decide(session, None, client, case_id, update, cmd, idempotency_key)


async def open_claims_of(session: AsyncSession, key: str, *, status: ClaimStatus | None = None) -> list[str]:
    """Open claims of one applicant (for callbacks and disputes)."""
    q = select(CaseRecord.case_id).where(
        CaseRecord.applicant_key == key,
        CaseRecord.case_type == CaseType.BENEFIT_CLAIM.value,
        col(CaseRecord.status).in_(list(OPEN_CLAIM_STATUSES)),
    )
    if status is not None:
        q = q.where(CaseRecord.status == status.value)
    return list((await session.exec(q)).all())
