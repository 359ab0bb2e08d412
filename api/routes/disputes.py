"""Stop-reason disputes (notice item 5): the employer's sign-in and online application, the
counter application, the detail, the three review levels' decisions, and the demand platform's
ticket callback.

Every decision is a workflow Update; a refusal by its validator comes back as a structured error
whose ``code`` is the validator's stable code and whose ``message`` is its Chinese text. The
workflow id is ``dispute-<region>-<applicant key>-<n>``: never the ID number."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.gov.callbacks import TicketResolved
from api.deps import ensure_region, get_db, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.login_guard import LoginGuard, check_password, client_address
from api.principals import (
    Clerk,
    DisputeForReader,
    DisputeForReviewer,
    DisputeReviewer,
    EmployerUser,
    Principal,
    public,
)
from api.routes.callbacks import verified_event
from api.temporal_ops import Decide, settled
from core import audit
from core.applicant import applicant_key
from core.security import Kind, issue_token
from core.settings import Settings
from models.case import DecisionReceipt
from models.claim import PHONE_RE, DocumentRef
from models.dispute import (
    OPEN_DISPUTE_STATUSES,
    DisputeApplication,
    DisputeInput,
    DisputeState,
    DisputeStatus,
    ReviewAction,
    ReviewCommand,
    TicketOutcome,
    missing_documents,
)
from models.enums import CaseType, Channel, Role
from models.staff import StaffActor
from models.tables import CaseRecord, Document, EmployerAccount
from policy.identity import parse_resident_id, validate_credit_code
from policy.regions import get_region
from workflows.base import initial_search_attributes
from workflows.stop_reason_dispute import StopReasonDisputeWorkflow

log = logging.getLogger("uiflow.api.disputes")
router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])

DISPUTE_ID_RE = re.compile(r"^dispute-15\d{4}-[0-9a-f]{24}-\d{1,6}$")
Session = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Temporal = Annotated[Client, Depends(get_temporal)]
DisputeHandle = WorkflowHandle[StopReasonDisputeWorkflow, Any]


# --- request and response shapes -------------------------------------------------------------------


class EmployerLoginRequest(BaseModel):
    credit_code: str = Field(min_length=18, max_length=18, examples=["91150102MA0N000017"])
    password: str = Field(min_length=1, max_length=256)


class EmployerLoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    credit_code: str
    name: str
    region_code: str


class _PersonChecks(BaseModel):
    """Checksum and region rules on top of the format checks of ``DisputeApplication``, so bad
    input is refused field by field before any workflow starts."""

    @field_validator("id_number", check_fields=False)
    @classmethod
    def _id(cls, v: str) -> str:
        return parse_resident_id(v).number

    @field_validator("region_code", check_fields=False)
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return None if v is None else get_region(v).code

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone(cls, v: str) -> str:
        v = v.strip()
        if not PHONE_RE.match(v):
            raise ValueError("手机号码应为11位数字，以1开头")
        return v

    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("姓名不能为空")
        return v


class EmployerDisputeRequest(_PersonChecks):
    """The employer's online application; the employer is the signed-in account."""

    id_number: str = Field(pattern=r"^\d{17}[\dX]$")
    name: str = Field(min_length=1, max_length=64)
    phone: str
    region_code: str | None = Field(default=None, description="参保地代码；不填时为单位所在地")
    requested_reason_code: str = Field(pattern=r"^[a-z_]{1,64}$", examples=["employer_dismissal"])
    statement: str = Field(default="", max_length=2000)
    documents: list[DocumentRef] = Field(default_factory=list, max_length=20)


class CounterDisputeRequest(_PersonChecks, DisputeApplication):
    """The person's application taken at a counter by an intake clerk."""

    @field_validator("employer_credit_code")
    @classmethod
    def _credit_code(cls, v: str) -> str:
        return validate_credit_code(v)


class DisputeCreated(BaseModel):
    dispute_id: str
    status: str
    message_zh: str


class ReviewBody(BaseModel):
    reason: str = Field(
        default="",
        max_length=1000,
        description="不予通过的理由",
        examples=["解除协议系个人申请辞职，与变更理由不符"],
    )
    note: str = Field(
        default="",
        max_length=1000,
        description="审核意见；退回时必填",
        examples=["仲裁裁决书与协议一致，同意变更为用人单位解除"],
    )


class DecisionResponse(BaseModel):
    receipt: DecisionReceipt
    dispute: DisputeState


# --- employer sign-in ----------------------------------------------------------------------------


@router.post(
    "/employer-login",
    summary="用人单位登录（统一社会信用代码）",
    response_model=EmployerLoginResponse,
    dependencies=[public("sign-in: the password is the credential")],
)
async def employer_login(
    body: EmployerLoginRequest, request: Request, session: Session, settings: SettingsDep
) -> EmployerLoginResponse:
    code = body.credit_code.strip().upper()
    guard = LoginGuard("employer", code, client_address(request))
    await guard.refuse_if_locked(session)
    account = await session.get(EmployerAccount, code)
    ok = await check_password(account.password_hash if account is not None else None, body.password)
    if account is None or not ok:
        await guard.failed(session, "auth.employer_login_failed")
        raise ApiError(401, "auth.bad_credentials", "统一社会信用代码或密码不正确")
    if not account.active:
        raise ApiError(403, "auth.inactive", "该单位账号已停用，请联系经办机构")
    await guard.succeeded(session)
    token, exp = issue_token(
        settings,
        login=account.credit_code,
        roles=[Role.EMPLOYER.value],
        region_code=account.region_code,
        name=account.name,
        kind=Kind.EMPLOYER,
        version=account.token_version,
    )
    await audit.append(
        session, actor=account.credit_code, action="auth.employer_login", actor_region=account.region_code
    )
    await session.commit()
    return EmployerLoginResponse(
        access_token=token,
        expires_at=exp,
        credit_code=account.credit_code,
        name=account.name,
        region_code=account.region_code,
    )


# --- intake --------------------------------------------------------------------------------------


@router.post(
    "/employer-applications",
    summary="用人单位网上申请变更停保原因",
    status_code=201,
    response_model=DisputeCreated,
)
async def employer_application(
    body: EmployerDisputeRequest,
    who: EmployerUser,
    session: Session,
    settings: SettingsDep,
    temporal: Temporal,
) -> DisputeCreated:
    actor, account = who
    app = DisputeApplication(
        id_number=body.id_number,
        name=body.name,
        phone=body.phone,
        region_code=body.region_code or account.region_code,
        employer_credit_code=account.credit_code,
        requested_reason_code=body.requested_reason_code,
        statement=body.statement,
        documents=body.documents,
    )
    return await _start(session, settings, temporal, app, Channel.EMPLOYER_WEBSITE, actor, account.name)


@router.post(
    "/counter-applications",
    summary="窗口受理个人停保原因争议申请",
    status_code=201,
    response_model=DisputeCreated,
)
async def counter_application(
    body: CounterDisputeRequest,
    clerk: Clerk,
    session: Session,
    settings: SettingsDep,
    temporal: Temporal,
) -> DisputeCreated:
    ensure_region(clerk, body.region_code)
    app = DisputeApplication.model_validate(body.model_dump())
    return await _start(session, settings, temporal, app, Channel.COUNTER, clerk, "")


async def _start(
    session: AsyncSession,
    settings: Settings,
    temporal: Client,
    app: DisputeApplication,
    channel: Literal[Channel.EMPLOYER_WEBSITE, Channel.COUNTER],
    actor: StaffActor,
    employer_name: str,
) -> DisputeCreated:
    missing = missing_documents(channel, app.documents)
    if missing:
        raise ApiError(
            422,
            "dispute.documents_missing",
            "申请材料不齐全，缺少：" + "；".join(m.label_zh for m in missing),
            fields={f"documents.{m.key}": f"缺少{m.label_zh}" for m in missing},
        )
    await _check_documents(session, app.documents)
    key = applicant_key(settings, app.id_number)
    open_case = (
        await session.exec(
            select(CaseRecord.case_id).where(
                CaseRecord.applicant_key == key,
                CaseRecord.case_type == CaseType.STOP_REASON_DISPUTE.value,
                col(CaseRecord.status).in_(sorted(OPEN_DISPUTE_STATUSES)),
            )
        )
    ).first()
    if open_case is not None:
        raise ApiError(
            409, "dispute.exists", f"该人员已有正在办理的停保原因争议（{open_case}），请勿重复申请"
        )
    n = (
        await session.exec(
            select(func.count())
            .select_from(CaseRecord)
            .where(
                CaseRecord.applicant_key == key,
                CaseRecord.case_type == CaseType.STOP_REASON_DISPUTE.value,
                CaseRecord.region_code == app.region_code,
            )
        )
    ).one()
    for _ in range(20):
        n += 1
        case_id = f"dispute-{app.region_code}-{key}-{n}"
        inp = DisputeInput(
            case_id=case_id,
            applicant_key=key,
            application=app,
            channel=channel,
            received_at=datetime.now(UTC),
            submitted_by=actor,
            employer_name=employer_name,
        )
        try:
            await temporal.start_workflow(
                StopReasonDisputeWorkflow.run,
                inp,
                id=case_id,
                task_queue=settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=initial_search_attributes(
                    CaseType.STOP_REASON_DISPUTE.value, app.region_code, DisputeStatus.UNDER_REVIEW.value
                ),
            )
        except WorkflowAlreadyStartedError:
            # The read model lags the workflow by a moment: a running one with this id is the
            # same person's open dispute; a closed one just takes the number.
            desc = await temporal.get_workflow_handle(case_id).describe()
            if desc.status == WorkflowExecutionStatus.RUNNING:
                raise ApiError(
                    409, "dispute.exists", f"该人员已有正在办理的停保原因争议（{case_id}），请勿重复申请"
                ) from None
            continue
        log.info("dispute started: %s (%s)", case_id, channel.value)
        return DisputeCreated(
            dispute_id=case_id,
            status=DisputeStatus.UNDER_REVIEW.value,
            message_zh="已受理停保原因争议申请，将经初审、复审、终审，办理结果将短信告知申请人",
        )
    raise ApiError(503, "dispute.id_exhausted", "暂时无法受理，请稍后再试")


async def _check_documents(session: AsyncSession, refs: list[DocumentRef]) -> None:
    """Each referenced upload must exist with the same hash, and not already belong to a case."""
    problems: dict[str, str] = {}
    for i, ref in enumerate(refs):
        doc = await session.get(Document, ref.id)
        if doc is None or doc.sha256 != ref.sha256:
            problems[f"documents.{i}"] = "材料不存在或内容已改变，请重新上传"
        elif doc.case_id is not None:
            problems[f"documents.{i}"] = "该材料已用于其他案件，请重新上传"
    if problems:
        raise ApiError(422, "dispute.document_invalid", "部分申请材料无效，请按提示重新上传", fields=problems)


# --- detail --------------------------------------------------------------------------------------


def _handle(temporal: Client, dispute_id: str) -> DisputeHandle:
    if not DISPUTE_ID_RE.match(dispute_id):
        raise ApiError(404, "dispute.not_found", "未找到该停保原因争议")
    return temporal.get_workflow_handle_for(StopReasonDisputeWorkflow.run, dispute_id)


async def _state(handle: DisputeHandle) -> DisputeState:
    try:
        return await handle.query(StopReasonDisputeWorkflow.state_query)
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "dispute.not_found", "未找到该停保原因争议") from None
        raise


def _for_employer(s: DisputeState) -> DisputeState:
    """What the employer sees: the progress and the outcome, not the staff who decided."""
    review = s.review.model_copy(
        update={
            "decisions": [
                d.model_copy(update={"by": "", "by_name": "", "by_roles": [], "note": ""})
                for d in s.review.decisions
            ],
            "levels": [lv.model_copy(update={"reviewers": []}) for lv in s.review.levels],
        }
    )
    change = s.change.model_copy(update={"changed_by": ""}) if s.change else None
    return s.model_copy(update={"review": review, "change": change, "timeline": []})


@router.get("/{dispute_id}", summary="停保原因争议详情", response_model=DisputeState)
async def detail(
    dispute_id: str, case: DisputeForReader, request: Request, temporal: Temporal
) -> DisputeState:
    s = await _state(_handle(temporal, dispute_id))
    who: Principal = request.state.principal
    if who.kind is Kind.EMPLOYER:
        if s.channel != Channel.EMPLOYER_WEBSITE or s.employer_credit_code != who.subject:
            raise ApiError(404, "dispute.not_found", "未找到该停保原因争议")
        return _for_employer(s)
    return s


# --- review decisions ------------------------------------------------------------------------------

_LEVEL_UPDATES = {
    "initial": StopReasonDisputeWorkflow.initial_review,
    "second": StopReasonDisputeWorkflow.second_review,
    "final": StopReasonDisputeWorkflow.final_review,
}
_ACTIONS = {
    "approve": ReviewAction.APPROVE,
    "reject": ReviewAction.REJECT,
    "send-back": ReviewAction.SEND_BACK,
}


@router.post(
    "/{dispute_id}/reviews/{level}/{action}",
    summary="初审、复审、终审决定（通过、不予通过、退回）",
    response_model=DecisionResponse,
)
async def decide(
    dispute_id: str,
    level: Literal["initial", "second", "final"],
    action: Literal["approve", "reject", "send-back"],
    case: DisputeForReviewer,
    staff: DisputeReviewer,
    temporal: Temporal,
    decide: Decide,
    body: ReviewBody | None = None,
) -> DecisionResponse:
    body = body or ReviewBody()
    command = ReviewCommand(actor=staff, action=_ACTIONS[action], reason=body.reason, note=body.note)
    receipt = await decide(dispute_id, _LEVEL_UPDATES[level], command)
    await settled(temporal, dispute_id)
    return DecisionResponse(receipt=receipt, dispute=await _state(_handle(temporal, dispute_id)))


# --- the demand platform's callback --------------------------------------------------------------------


class CallbackAck(BaseModel):
    accepted: bool
    message_zh: str


@router.post(
    "/callbacks/ticket",
    summary="金保工程软件需求平台工单回调（签名验证）",
    response_model=CallbackAck,
    dependencies=[public("signed government callback: the body's signature is checked below")],
)
async def ticket_callback(request: Request, settings: SettingsDep, temporal: Temporal) -> CallbackAck:
    async with get_db(request).session() as session:  # signed, in time, not replayed (item 6)
        event = await verified_event(request, session, settings)
        if not isinstance(event, TicketResolved):
            raise ApiError(422, "callback.unsupported", "此地址只接收工单办结回调")
        outcome = await deliver_ticket_outcome(event, temporal)
        await session.commit()
    if outcome == "unknown":
        raise ApiError(404, "dispute.not_found", "工单未关联任何停保原因争议")
    if outcome == "closed":
        return CallbackAck(accepted=False, message_zh="该停保原因争议已办结，回调已忽略")
    return CallbackAck(accepted=True, message_zh="已收到工单办结结果")


async def deliver_ticket_outcome(
    event: TicketResolved, temporal: Client
) -> Literal["delivered", "closed", "unknown"]:
    """Signal the dispute named by the ticket's ``case_ref`` (verified event only). The workflow
    itself ignores an outcome for a ticket it did not raise."""
    if not event.case_ref or not DISPUTE_ID_RE.match(event.case_ref):
        return "unknown"
    handle = _handle(temporal, event.case_ref)
    outcome = TicketOutcome(
        ticket_id=event.ticket_id,
        status=event.status,
        resolution=event.resolution,
        engineer=event.engineer,
        resolved_at=event.resolved_at,
    )
    try:
        await handle.signal(StopReasonDisputeWorkflow.ticket_resolved, outcome)
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            await handle.describe()
        except RPCError as e2:
            if e2.status == RPCStatusCode.NOT_FOUND:
                return "unknown"
            raise
        return "closed"
    log.info("ticket %s outcome %s delivered to %s", event.ticket_id, event.status, event.case_ref)
    return "delivered"


async def _gov_ticket_hook(event: TicketResolved, _session: AsyncSession, temporal: Client) -> int:
    return 1 if await deliver_ticket_outcome(event, temporal) == "delivered" else 0


def mount(app: FastAPI) -> None:
    """Also serve ticket outcomes arriving at the general government callback
    (``/api/v1/callbacks/gov``), which hands them to ``app.state.ticket_callback``."""
    app.state.ticket_callback = _gov_ticket_hook
