"""Skill-upgrade subsidies (技能提升补贴, notice item 6): intake at the counter or online, an
employer's batch filing of internal-evaluation certificates, the case detail, the reviewer's
decision and the operations release (each through the one Update path of ``api.temporal_ops``),
re-application, and the batch page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import ensure_region, get_db, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.principals import (
    ClerkOrApplicant,
    EmployerUser,
    Operations,
    Reviewer,
    StaffOrEmployer,
    StaffUser,
    allow,
    case_of,
    staff,
)
from api.review_once import OnceDecideBody, UnblockBody, own_person, unblock_case, write_first_row
from api.subsidy_batch import BatchIn, rows_of, validate_row
from api.temporal_ops import Decide, call_workflow
from core import audit
from core.applicant import applicant_key
from core.db import Database
from core.security import Kind
from core.settings import Settings
from models.case import DecisionReceipt, local_date
from models.enums import CaseType, Channel, Role
from models.person import DocumentRef
from models.skill_subsidy import (
    SUBSIDY_STATUS_LABELS,
    AlertStatus,
    AppraisalResponse,
    ReferAlert,
    SubsidyApplication,
    SubsidyDecisionCommand,
    SubsidyInput,
    SubsidyReapply,
    SubsidyState,
    SubsidyStatus,
    subsidy_id_for,
)
from models.staff import StaffActor
from models.tables import CaseRecord, SkillSubsidyBatch, SkillSubsidyBatchRow
from policy.identity import parse_resident_id, validate_credit_code
from policy.regions import get_region, is_within
from workflows.base import initial_search_attributes
from workflows.skill_alerts import SkillAlertWorkflow
from workflows.skill_subsidy import SkillSubsidyWorkflow

router = APIRouter(prefix="/api/v1/subsidies", tags=["skill-subsidies"])
Session = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Temporal = Annotated[Client, Depends(get_temporal)]
Db = Annotated[Database, Depends(get_db)]
_SUBSIDY = [CaseType.SKILL_SUBSIDY]
_clerk_or_applicant = allow(Kind.STAFF, Kind.APPLICANT, roles=[Role.INTAKE_CLERK])
_alert_staff = staff(Role.SUPERVISOR, Role.RISK_INSPECTOR)
SubsidyForStaff = Annotated[CaseRecord, case_of(_SUBSIDY, staff(), "case_id")]
SubsidyForReviewer = Annotated[CaseRecord, case_of(_SUBSIDY, staff(Role.REVIEWER), "case_id", acting=True)]
SubsidyForOperations = Annotated[
    CaseRecord, case_of(_SUBSIDY, staff(Role.OPS_ENGINEER), "case_id", acting=True)
]
SubsidyForClerkOrApplicant = Annotated[
    CaseRecord, case_of(_SUBSIDY, _clerk_or_applicant, "case_id", acting=True)
]
AlertStaff = Annotated[StaffActor, Depends(_alert_staff)]
AlertForStaff = Annotated[CaseRecord, case_of([CaseType.SKILL_ALERT], _alert_staff, "case_id", acting=True)]


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


class DecideBody(OnceDecideBody):
    reason: str = Field(default="", max_length=500, examples=["证书超过核发之日起12个月的申领期限"])


class ReapplyBody(BaseModel):
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
    db: Database,
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
    await write_first_row(settings, db, SkillSubsidyWorkflow, inp)
    return case_id


@router.post("", status_code=201, response_model=SubsidyCreated, summary="提交技能提升补贴申请（窗口或网上）")
async def create_subsidy(
    body: SubsidyApplicationIn,
    who: ClerkOrApplicant,
    session: Session,
    settings: SettingsDep,
    client: Temporal,
    db: Db,
) -> SubsidyCreated:
    staff = who.staff_actor() if who.kind is Kind.STAFF else None
    if staff is not None:
        ensure_region(staff, body.region_code)
    else:
        own_person(who, applicant_key(settings, body.id_number))
    channel = Channel.COUNTER if staff else Channel.ONLINE
    by = staff.login if staff else "applicant"
    app = SubsidyApplication.model_validate(body.model_dump())
    case_id = await start_subsidy(client, settings, db, app, channel=channel, submitted_by=by)
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
    body: BatchIn,
    who: EmployerUser,
    session: Session,
    settings: SettingsDep,
    client: Temporal,
    db: Db,
) -> BatchView:
    actor, account = who
    rows = rows_of(body)
    if not rows:
        raise ApiError(422, "batch.invalid", "批量申报没有任何数据行")
    batch_id = f"batch-{uuid.uuid4().hex[:16]}"
    today = local_date(datetime.now(UTC))  # the business day in Beijing, not UTC's
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
                    db,
                    r.application,
                    channel=Channel.EMPLOYER_WEBSITE,
                    submitted_by=actor.login,
                    batch_id=batch_id,
                )
            except ApiError as e:
                error = f"第{r.line}行：{e.message_zh}"
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
async def batch_page(batch_id: str, who: StaffOrEmployer, session: Session) -> BatchView:
    """The employer sees its own batches; staff those of their region (another's: not found)."""
    batch = await session.get(SkillSubsidyBatch, batch_id) if len(batch_id) <= 64 else None
    mine = batch is not None and (
        batch.employer_credit_code == who.subject
        if who.kind is Kind.EMPLOYER
        else is_within(who.region_code, batch.region_code)
    )
    if batch is None or not mine:
        raise ApiError(404, "batch.not_found", "未找到该批次")
    return await _batch_view(session, batch)


# --- anomaly alerts (the supervisor view) ------------------------------------------------------------


class AlertItem(BaseModel):
    case_id: str
    status: str
    status_label: str
    kind: str
    region_code: str
    text_zh: str
    figures: dict[str, str]
    case_ids: list[str]
    raised_at: datetime


class ReferBody(BaseModel):
    note: str = Field(default="", max_length=500, examples=["异地取证，请技能鉴定部门核查证书真实性"])


class ResponseBody(BaseModel):
    outcome: Literal["confirmed", "cleared"]
    note: str = Field(min_length=2, max_length=1000, examples=["经技能鉴定部门核查，证书系违规取得"])


@router.get("/alerts", response_model=list[AlertItem], summary="技能提升补贴预警（未办结的，本地区）")
async def open_alerts(who: AlertStaff, session: Session, include_closed: bool = False) -> list[AlertItem]:
    q = select(CaseRecord).where(CaseRecord.case_type == CaseType.SKILL_ALERT.value)
    if not include_closed:
        q = q.where(col(CaseRecord.status).in_([AlertStatus.OPEN.value, AlertStatus.REFERRED.value]))
    rows = (await session.exec(q.order_by(col(CaseRecord.received_at).desc()).limit(500))).all()
    return [
        AlertItem(
            case_id=r.case_id,
            status=r.status,
            status_label=str(r.summary.get("status_label", r.status)),
            kind=str(r.summary.get("kind", "")),
            region_code=r.region_code,
            text_zh=str(r.summary.get("text_zh", "")),
            figures={str(k): str(v) for k, v in dict(r.summary.get("figures") or {}).items()},
            case_ids=[str(x) for x in r.summary.get("case_ids") or []],
            raised_at=r.received_at,
        )
        for r in rows
        if is_within(who.region_code, r.region_code)
    ]


@router.post("/alerts/{case_id}/refer", response_model=DecisionReceipt, summary="预警移交技能鉴定部门")
async def refer_alert(
    case_id: str,
    case: AlertForStaff,
    body: ReferBody,
    who: AlertStaff,
    decide: Decide,
) -> DecisionReceipt:
    return await decide(case_id, SkillAlertWorkflow.refer_alert, ReferAlert(actor=who, note=body.note))


@router.post("/alerts/{case_id}/response", response_model=DecisionReceipt, summary="登记技能鉴定部门核查结论")
async def alert_response(
    case_id: str,
    case: AlertForStaff,
    body: ResponseBody,
    who: AlertStaff,
    decide: Decide,
) -> DecisionReceipt:
    return await decide(
        case_id,
        SkillAlertWorkflow.appraisal_response,
        AppraisalResponse(actor=who, outcome=body.outcome, note=body.note),
    )


# --- the case --------------------------------------------------------------------------------------------


def _handle(client: Client, case_id: str) -> WorkflowHandle[SkillSubsidyWorkflow, Any]:
    return client.get_workflow_handle_for(SkillSubsidyWorkflow.run, case_id)


@router.get(
    "/{case_id}", response_model=SubsidyDetail, summary="技能提升补贴申请详情（核验、审核、发放、时间线）"
)
async def subsidy_detail(
    case_id: str, case: SubsidyForStaff, staff: StaffUser, client: Temporal
) -> SubsidyDetail:
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
    case: SubsidyForReviewer,
    body: DecideBody,
    staff: Reviewer,
    decide: Decide,
) -> DecisionReceipt:
    cmd = SubsidyDecisionCommand(actor=staff, **body.model_dump())
    return await decide(case_id, SkillSubsidyWorkflow.decide_subsidy, cmd)


@router.post("/{case_id}/unblock", summary="运维解除案件阻塞")
async def unblock(
    case_id: str,
    case: SubsidyForOperations,
    body: UnblockBody,
    staff: Operations,
    decide: Decide,
) -> dict[str, str]:
    return await unblock_case(decide, case_id, SkillSubsidyWorkflow.unblock_case, staff, body)


@router.post("/{case_id}/reapply", response_model=DecisionReceipt, summary="未通过后重新申请")
async def reapply(
    case_id: str,
    case: SubsidyForClerkOrApplicant,
    who: ClerkOrApplicant,
    body: ReapplyBody,
    decide: Decide,
) -> DecisionReceipt:
    by = who.subject if who.kind is Kind.STAFF else "applicant"
    cmd = SubsidyReapply(by=by, fit_statement=body.fit_statement, note=body.note)
    return await decide(case_id, SkillSubsidyWorkflow.reapply, cmd)
