"""Skill-upgrade subsidies (技能提升补贴, notice item 6): intake at the counter or online, an
employer's batch filing of internal-evaluation certificates, the case detail, the reviewer's
decision and the operations release (each through the one Update path of ``api.temporal_ops``),
re-application, and the batch page."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import CurrentStaff, ensure_region, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.params import IdempotencyKey
from api.routes.claims import optional_staff
from api.routes.disputes import current_employer
from api.subsidy_batch import BatchIn, rows_of, validate_row
from api.temporal_ops import call_workflow, execute_update
from core import audit
from core.applicant import applicant_key
from core.settings import Settings
from models.case import DecisionReceipt, UnblockCommand
from models.enums import CaseType, Channel, Role
from models.person import DocumentRef
from models.review import DecisionTarget
from models.skill_subsidy import (
    SUBSIDY_STATUS_LABELS,
    SubsidyApplication,
    SubsidyDecisionCommand,
    SubsidyInput,
    SubsidyReapply,
    SubsidyState,
    SubsidyStatus,
    subsidy_id_for,
)
from models.staff import StaffActor
from models.tables import CaseRecord, EmployerAccount, SkillSubsidyBatch, SkillSubsidyBatchRow
from policy.identity import parse_resident_id, validate_credit_code
from policy.regions import get_region
from workflows.base import initial_search_attributes
from workflows.skill_subsidy import SkillSubsidyWorkflow

router = APIRouter(prefix="/api/v1/subsidies", tags=["skill-subsidies"])
Session = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Temporal = Annotated[Client, Depends(get_temporal)]
Employer = Annotated[tuple[StaffActor, EmployerAccount], Depends(current_employer)]


class SubsidyApplicationIn(SubsidyApplication):
    """The application with the checksum and region rules applied field by field."""

    @field_validator("id_number", mode="before")
    @classmethod
    def _id_checksum(cls, v: object) -> str:
        return parse_resident_id(str(v)).number

    @field_validator("employer_credit_code", mode="before")
    @classmethod
    def _credit_code(cls, v: object) -> str | None:
        return validate_credit_code(str(v)) if v else None

    @field_validator("region_code", mode="before")
    @classmethod
    def _county(cls, v: object) -> str:
        region = get_region(str(v))
        if region.level != "county":
            raise ValueError("申请地应为旗县区一级的行政区划")
        return region.code


class SubsidyCreated(BaseModel):
    case_id: str
    status: str
    channel: Channel
    message: str


class SubsidyDetail(BaseModel):
    case_id: str
    status: str
    status_label: str
    state: SubsidyState


class DecideBody(DecisionTarget):
    action: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=500, examples=["证书超过核发之日起12个月的申领期限"])
    remedy: str = Field(default="", max_length=1000, examples=["如有其他符合条件的证书，可另行申请"])
    note: str = Field(default="", max_length=500)


class UnblockBody(BaseModel):
    note: str = Field(min_length=1, max_length=500, examples=["证书查询系统已恢复"])


class ReapplyBody(BaseModel):
    id_number: str | None = Field(default=None, description="网上重新申请时核对申请人身份")
    fit_statement: DocumentRef | None = None
    note: str = Field(default="", max_length=500)


class BatchRowView(BaseModel):
    line: int
    cert_no: str
    case_id: str | None
    error_zh: str | None
    status: str | None = None
    status_label: str | None = None


class BatchView(BaseModel):
    batch_id: str
    employer_credit_code: str
    filed_at: datetime
    rows_total: int
    rows_valid: int
    fit_statement_sha256: str
    rows: list[BatchRowView]


# --- starting a case ---------------------------------------------------------------------------------


def case_id_of(settings: Settings, app: SubsidyApplication) -> str:
    """One case per person and certificate: the id ends in an HMAC of the certificate number, so a
    second filing of the same certificate meets the running case instead of opening another."""
    key = applicant_key(settings, app.id_number)
    return subsidy_id_for(app.region_code, key, applicant_key(settings, app.cert_no)[:12])


async def start_subsidy(
    client: Client,
    settings: Settings,
    app: SubsidyApplication,
    *,
    channel: Channel,
    submitted_by: str,
    batch_id: str | None = None,
) -> str:
    case_id = case_id_of(settings, app)
    inp = SubsidyInput(
        case_id=case_id,
        applicant_key=applicant_key(settings, app.id_number),
        application=app,
        channel=channel,
        received_at=datetime.now(UTC),
        submitted_by=submitted_by,
        batch_id=batch_id,
    )
    try:
        await client.start_workflow(
            SkillSubsidyWorkflow.run,
            inp,
            id=case_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=initial_search_attributes(
                CaseType.SKILL_SUBSIDY.value, app.region_code, "checking"
            ),
        )
    except WorkflowAlreadyStartedError as e:
        raise ApiError(409, "subsidy.exists", "该证书已提交过技能提升补贴申请，请勿重复申请") from e
    return case_id


@router.post("", status_code=201, response_model=SubsidyCreated, summary="提交技能提升补贴申请（窗口或网上）")
async def create_subsidy(
    body: SubsidyApplicationIn, request: Request, session: Session, settings: SettingsDep, client: Temporal
) -> SubsidyCreated:
    staff = optional_staff(request, settings)
    if staff is not None:
        if not staff.has(Role.INTAKE_CLERK):
            raise ApiError(403, "auth.role", "只有窗口受理员可以代为提交申请")
        ensure_region(staff, body.region_code)
    channel = Channel.COUNTER if staff else Channel.ONLINE
    by = staff.login if staff else "applicant"
    app = SubsidyApplication.model_validate(body.model_dump())
    case_id = await start_subsidy(client, settings, app, channel=channel, submitted_by=by)
    await audit.append(
        session,
        actor=by,
        action="skill_subsidy.submitted",
        case_id=case_id,
        payload={"channel": channel.value, "region": app.region_code},
        actor_region=staff.region_code if staff else None,
    )
    await session.commit()
    return SubsidyCreated(
        case_id=case_id,
        status="received",
        channel=channel,
        message="申请已受理，将在材料齐全之日起10个工作日内作出决定。",
    )


# --- the employer's batch ------------------------------------------------------------------------------


@router.post(
    "/batches", status_code=201, response_model=BatchView, summary="用人单位批量申报企业自主评价证书"
)
async def file_batch(
    body: BatchIn, who: Employer, session: Session, settings: SettingsDep, client: Temporal
) -> BatchView:
    actor, account = who
    rows = rows_of(body)
    if not rows:
        raise ApiError(422, "batch.invalid", "批量申报没有任何数据行")
    batch_id = f"batch-{uuid.uuid4().hex[:16]}"
    today = datetime.now(UTC).date()
    seen: set[str] = set()
    results = [
        validate_row(
            line,
            row,
            region_code=account.region_code,
            employer_credit_code=account.credit_code,
            fit=body.fit_statement,
            today=today,
            seen=seen,
        )
        for line, row in rows
    ]
    out: list[SkillSubsidyBatchRow] = []
    for r in results:
        case_id, error = None, r.error_zh
        if r.application is not None:
            try:
                case_id = await start_subsidy(
                    client,
                    settings,
                    r.application,
                    channel=Channel.EMPLOYER_WEBSITE,
                    submitted_by=actor.login,
                    batch_id=batch_id,
                )
            except ApiError as e:
                error = f"第{r.line}行：{e.message}"
        out.append(
            SkillSubsidyBatchRow(
                batch_id=batch_id, line=r.line, cert_no=r.cert_no, case_id=case_id, error_zh=error
            )
        )
    batch = SkillSubsidyBatch(
        batch_id=batch_id,
        employer_credit_code=account.credit_code,
        region_code=account.region_code,
        filed_by=actor.login,
        fit_statement_sha256=body.fit_statement.sha256,
        rows_total=len(out),
        rows_valid=sum(1 for r in out if r.case_id),
        filed_at=datetime.now(UTC),
    )
    session.add(batch)
    session.add_all(out)
    await audit.append(
        session,
        actor=actor.login,
        action="skill_subsidy.batch_filed",
        payload={"batch_id": batch_id, "rows": batch.rows_total, "valid": batch.rows_valid},
        actor_region=account.region_code,
    )
    await session.commit()
    return await _batch_view(session, batch)


async def _batch_view(session: AsyncSession, batch: SkillSubsidyBatch) -> BatchView:
    rows = (
        await session.exec(
            select(SkillSubsidyBatchRow)
            .where(SkillSubsidyBatchRow.batch_id == batch.batch_id)
            .order_by(col(SkillSubsidyBatchRow.line))
        )
    ).all()
    ids = [r.case_id for r in rows if r.case_id]
    cases = {
        c.case_id: c
        for c in (await session.exec(select(CaseRecord).where(col(CaseRecord.case_id).in_(ids)))).all()
    }
    views = []
    for r in rows:
        c = cases.get(r.case_id or "")
        views.append(
            BatchRowView(
                line=r.line,
                cert_no=r.cert_no,
                case_id=r.case_id,
                error_zh=r.error_zh,
                status=c.status if c else ("received" if r.case_id else None),
                status_label=_label(c.status) if c else ("已受理" if r.case_id else "未受理"),
            )
        )
    return BatchView(
        batch_id=batch.batch_id,
        employer_credit_code=batch.employer_credit_code,
        filed_at=batch.filed_at,
        rows_total=batch.rows_total,
        rows_valid=batch.rows_valid,
        fit_statement_sha256=batch.fit_statement_sha256,
        rows=views,
    )


def _label(status: str) -> str:
    try:
        return SUBSIDY_STATUS_LABELS[SubsidyStatus(status)]
    except ValueError:
        return status


@router.get("/batches/{batch_id}", response_model=BatchView, summary="批量申报结果（每行的受理和办理状态）")
async def batch_page(batch_id: str, staff: CurrentStaff, session: Session) -> BatchView:
    batch = await session.get(SkillSubsidyBatch, batch_id)
    if batch is None:
        raise ApiError(404, "batch.not_found", "未找到该批次")
    if staff.has(Role.EMPLOYER):
        if staff.login != batch.employer_credit_code:
            raise ApiError(404, "batch.not_found", "未找到该批次")
    else:
        ensure_region(staff, batch.region_code)
    return await _batch_view(session, batch)


# --- the case --------------------------------------------------------------------------------------------


async def _case(session: AsyncSession, staff: StaffActor, case_id: str) -> CaseRecord:
    row = await session.get(CaseRecord, case_id)
    if row is None or row.case_type != CaseType.SKILL_SUBSIDY.value or staff.has(Role.EMPLOYER):
        raise ApiError(404, "case.not_found", "未找到该技能提升补贴申请")
    ensure_region(staff, row.region_code)
    return row


def _handle(client: Client, case_id: str) -> WorkflowHandle[SkillSubsidyWorkflow, Any]:
    return client.get_workflow_handle_for(SkillSubsidyWorkflow.run, case_id)


@router.get(
    "/{case_id}", response_model=SubsidyDetail, summary="技能提升补贴申请详情（核验、审核、发放、时间线）"
)
async def subsidy_detail(
    case_id: str, staff: CurrentStaff, session: Session, client: Temporal
) -> SubsidyDetail:
    await _case(session, staff, case_id)
    state = await call_workflow(lambda: _handle(client, case_id).query(SkillSubsidyWorkflow.state_query))
    return SubsidyDetail(
        case_id=case_id,
        status=state.status.value,
        status_label=SUBSIDY_STATUS_LABELS[state.status],
        state=state,
    )


@router.post(
    "/{case_id}/decide",
    response_model=DecisionReceipt,
    summary="审核决定（通过，或不予通过并写明理由和处置方式）",
)
async def decide(
    case_id: str,
    body: DecideBody,
    staff: CurrentStaff,
    session: Session,
    client: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    await _case(session, staff, case_id)
    cmd = SubsidyDecisionCommand(actor=staff, **body.model_dump())
    return await execute_update(
        client,
        case_id,
        SkillSubsidyWorkflow.decide_subsidy,
        cmd,
        session=session,
        idempotency_key=idempotency_key,
        result_type=DecisionReceipt,
    )


@router.post("/{case_id}/unblock", summary="运维解除案件阻塞")
async def unblock(
    case_id: str,
    body: UnblockBody,
    staff: CurrentStaff,
    session: Session,
    client: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, str]:
    await _case(session, staff, case_id)
    msg = await execute_update(
        client,
        case_id,
        SkillSubsidyWorkflow.unblock_case,
        UnblockCommand(actor=staff, note=body.note),
        session=session,
        idempotency_key=idempotency_key,
        result_type=str,
    )
    return {"message": msg}


@router.post("/{case_id}/reapply", response_model=DecisionReceipt, summary="未通过后重新申请")
async def reapply(
    case_id: str,
    body: ReapplyBody,
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Temporal,
    idempotency_key: IdempotencyKey = None,
) -> DecisionReceipt:
    row = await session.get(CaseRecord, case_id)
    if row is None or row.case_type != CaseType.SKILL_SUBSIDY.value:
        raise ApiError(404, "case.not_found", "未找到该技能提升补贴申请")
    staff = optional_staff(request, settings)
    if staff is not None:
        if not staff.has(Role.INTAKE_CLERK):
            raise ApiError(403, "auth.role", "只有窗口受理员可以代申请人办理")
        ensure_region(staff, row.region_code)
        by = staff.login
    elif body.id_number and hmac.compare_digest(applicant_key(settings, body.id_number), row.applicant_key):
        by = "applicant"
    else:
        raise ApiError(403, "auth.applicant", "身份证号码与申请人不符")
    cmd = SubsidyReapply(by=by, fit_statement=body.fit_statement, note=body.note)
    return await execute_update(
        client,
        case_id,
        SkillSubsidyWorkflow.reapply,
        cmd,
        session=session,
        idempotency_key=idempotency_key,
        result_type=DecisionReceipt,
    )
