"""Benefit claims: intake (online by the applicant, or at a counter by a clerk), detail, staff
decisions (each an Update whose validator has the last word), applicant actions (re-apply,
supply documents), and the reject-reason catalogue."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import ensure_region, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.principals import (
    Assigner,
    ClaimForAssigner,
    ClaimForClerk,
    ClaimForClerkOrApplicant,
    ClaimForInspector,
    ClaimForOperations,
    ClaimForReviewer,
    ClaimForStaff,
    Clerk,
    ClerkOrApplicant,
    Inspector,
    Operations,
    Principal,
    Reviewer,
    StaffUser,
)
from api.schemas import ClaimApplicationIn
from api.temporal_ops import Decide, call_workflow
from core import audit, benefits
from core.applicant import applicant_key
from core.security import Kind
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
    RetirementCategoryCommand,
    RiskFindingCommand,
)
from models.enums import CaseType, Channel
from models.rules import RetirementCategory
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


class RetirementCategoryBody(BaseModel):
    category: RetirementCategory = Field(description="原法定退休年龄类别", examples=["female-55"])
    note: str = Field(max_length=500, description="依据（如人事档案）", examples=["人事档案载明为管理岗位"])


class UnblockBody(BaseModel):
    note: str = Field(min_length=1, max_length=500, examples=["外部系统已恢复"])


class ApplicantActionBody(BaseModel):
    """An applicant acts signed in through the real-name identity provider; an ID number sent
    here must be the signed-in person's own."""

    id_number: str | None = Field(default=None, examples=["150102198005171237"])
    documents: list[DocumentRef] = Field(default_factory=list)
    note: str = Field(default="", max_length=500)


class ReasonItem(BaseModel):
    code: RejectReason
    label: str
    default_remedy: str


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
    who: ClerkOrApplicant,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    client: Annotated[Client, Depends(get_temporal)],
) -> ClaimCreated:
    staff = who.staff_actor() if who.kind is Kind.STAFF else None
    if staff is not None:
        ensure_region(staff, body.region_code)
        channel = Channel.COUNTER
    else:
        channel = Channel.ONLINE
    app = body.to_model()
    key = applicant_key(settings, app.id_number)
    if staff is None:
        _own_id_number(who, key)
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
    held = await benefits.reserve_claim(  # one benefit at a time, region-wide (issue 12 item 5)
        session, case_id=case_id, applicant_key=key, region_code=app.region_code,
        channel=channel.value, received_at=inp.received_at,
    )  # fmt: skip
    if held is not None:
        raise ApiError(409, benefits.DUPLICATE_BENEFIT, benefits.duplicate_benefit_message(held))
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
async def reject_reasons(staff: StaffUser) -> list[ReasonItem]:
    return [ReasonItem(code=k, label=v[0], default_remedy=v[1]) for k, v in REJECT_REASONS.items()]


def _own_id_number(who: Principal, key: str) -> None:
    """An applicant may only act for themselves: an ID number in the body must be the one the
    identity provider verified (compared as applicant keys; the token carries no ID number)."""
    if who.applicant_key is None or not hmac.compare_digest(who.applicant_key, key):
        raise ApiError(403, "auth.applicant", "身份证号码与登录人不符，只能为本人办理")


def _handle(client: Client, case_id: str) -> WorkflowHandle[BenefitClaimWorkflow, Any]:
    return client.get_workflow_handle_for(BenefitClaimWorkflow.run, case_id)


@router.get("/{case_id}", response_model=ClaimDetail, summary="申领详情（核验报告、审核轮次、时间线）")
async def claim_detail(
    case_id: str,
    case: ClaimForStaff,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
) -> ClaimDetail:
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
    case: ClaimForStaff,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    client: Annotated[Client, Depends(get_temporal)],
    full: bool = False,
) -> ApplicantView:
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


@router.post(
    "/{case_id}/approve",
    response_model=DecisionReceipt,
    summary="审核通过",
    responses={409: {"description": "决定被拒绝（阶段、角色、地区或岗位分离），message 为原因"}},
)
async def approve(
    case_id: str,
    case: ClaimForReviewer,
    staff: Reviewer,
    body: ApproveBody,
    decide: Decide,
) -> DecisionReceipt:
    cmd = ApproveCommand(actor=staff, note=body.note)
    return await decide(case_id, BenefitClaimWorkflow.approve, cmd)


class RiskFindingBody(BaseModel):
    """The 风险稽核员's finding on a flagged claim (issue 16)."""

    outcome: Literal["cleared", "confirmed"]
    finding: str = Field(
        max_length=2000,
        description="核查结论及依据",
        examples=["调取劳动合同核实，缴费中断系单位经办变更所致"],
    )
    evidence: list[DocumentRef] = Field(default_factory=list, description="核查证据材料")
    action: Literal["refuse", "refer"] | None = Field(
        default=None, description="风险属实时：不予通过或转核查案件"
    )
    remedy: str = Field(default="", max_length=1000)
    round: int | None = Field(default=None, ge=1, le=1000)


@router.post("/{case_id}/risk-finding", response_model=DecisionReceipt, summary="风险核查结论（排除或属实）")
async def risk_finding(
    case_id: str,
    case: ClaimForInspector,
    staff: Inspector,
    body: RiskFindingBody,
    decide: Decide,
) -> DecisionReceipt:
    cmd = RiskFindingCommand(actor=staff, **body.model_dump())
    update = BenefitClaimWorkflow.record_risk_finding
    return await decide(case_id, update, cmd)


@router.post("/{case_id}/reject", response_model=DecisionReceipt, summary="不予通过（须填写原因与处置方式）")
async def reject(
    case_id: str,
    case: ClaimForReviewer,
    staff: Reviewer,
    body: RejectBody,
    decide: Decide,
) -> DecisionReceipt:
    cmd = RejectCommand(actor=staff, reason_code=body.reason_code, remedy=body.remedy, note=body.note)
    return await decide(case_id, BenefitClaimWorkflow.reject, cmd)


@router.post("/{case_id}/request-documents", response_model=DecisionReceipt, summary="要求补正材料")
async def request_documents(
    case_id: str,
    case: ClaimForReviewer,
    staff: Reviewer,
    body: RequestDocumentsBody,
    decide: Decide,
) -> DecisionReceipt:
    cmd = RequestDocumentsCommand(actor=staff, documents=body.documents, note=body.note)
    update = BenefitClaimWorkflow.request_documents
    return await decide(case_id, update, cmd)


@router.post("/{case_id}/assign", response_model=DecisionReceipt, summary="分派或认领审核")
async def assign(
    case_id: str,
    case: ClaimForAssigner,
    staff: Assigner,
    body: AssignBody,
    decide: Decide,
) -> DecisionReceipt:
    cmd = AssignCommand(actor=staff, reviewer_login=body.reviewer_login)
    return await decide(case_id, BenefitClaimWorkflow.assign, cmd)


@router.post(
    "/{case_id}/retirement-category",
    response_model=DecisionReceipt,
    summary="确定原法定退休年龄类别（申请与缴费记录均无时，由受理人根据档案录入）",
)
async def retirement_category(
    case_id: str,
    case: ClaimForClerk,
    staff: Clerk,
    body: RetirementCategoryBody,
    decide: Decide,
) -> DecisionReceipt:
    cmd = RetirementCategoryCommand(actor=staff, category=body.category, note=body.note)
    return await decide(case_id, BenefitClaimWorkflow.set_retirement_category, cmd)


@router.post("/{case_id}/unblock", summary="运维解除案件阻塞")
async def unblock(
    case_id: str,
    case: ClaimForOperations,
    staff: Operations,
    body: UnblockBody,
    decide: Decide,
) -> dict[str, str]:
    cmd = UnblockCommand(actor=staff, note=body.note)
    msg = await decide.returning(case_id, BenefitClaimWorkflow.unblock_case, cmd, str)
    return {"message": msg}


def _applicant_action(who: Principal, body: ApplicantActionBody, settings: Settings) -> str:
    """Who acts for the applicant: a clerk in scope (counter), or the signed-in applicant."""
    if who.kind is Kind.STAFF:
        return who.subject
    if body.id_number:
        _own_id_number(who, applicant_key(settings, body.id_number))
    return "applicant"


@router.post("/{case_id}/reapply", response_model=DecisionReceipt, summary="未通过后重新申请")
async def reapply(
    case_id: str,
    case: ClaimForClerkOrApplicant,
    who: ClerkOrApplicant,
    body: ApplicantActionBody,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    decide: Decide,
) -> DecisionReceipt:
    by = _applicant_action(who, body, settings)
    cmd = ReapplyEvent(by=by, documents=body.documents, note=body.note)
    update = BenefitClaimWorkflow.reapply
    return await decide(case_id, update, cmd)


@router.post("/{case_id}/supply-documents", response_model=DecisionReceipt, summary="提交补正材料")
async def supply_documents(
    case_id: str,
    case: ClaimForClerkOrApplicant,
    who: ClerkOrApplicant,
    body: ApplicantActionBody,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    decide: Decide,
) -> DecisionReceipt:
    by = _applicant_action(who, body, settings)
    cmd = ReapplyEvent(by=by, documents=body.documents, note=body.note)
    update = BenefitClaimWorkflow.supply_documents
    return await decide(case_id, update, cmd)


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
