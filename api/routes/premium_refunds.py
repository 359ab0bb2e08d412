"""Medical-premium refunds (医保费返还, notice item 4): application at the counter with the payment
receipts (uploaded documents, by hash) or online by the signed-in person if the agency allows it
(``refund.online_allowed``), the case detail, the reviewer's decision, re-application, the
operations release, the supervisors' overview (months waiting for a standard, what the year-end
run found) and the operator's "standard entered" hook that pays the months that waited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle

from activities.premium_refund import district_of, refundable_by_person, waiting_for_standard
from api.deps import ensure_region, get_db, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.principals import (
    ClerkOrApplicant,
    Operations,
    Reviewer,
    StaffUser,
    Supervisor,
    allow,
    case_of,
    staff,
)
from api.review_once import OnceDecideBody, UnblockBody, own_person, unblock_case, write_first_row
from api.temporal_ops import Decide, call_workflow
from core import audit
from core.applicant import applicant_key
from core.db import Database
from core.parameters import parameters_in_force
from core.security import Kind
from core.settings import Settings
from models.case import BUSINESS_TZ, DecisionReceipt
from models.enums import CaseType, Channel, Role
from models.person import DocumentRef
from models.premium_refund import (
    MISSING_STANDARD_PREFIX,
    REFUND_STATUS_LABELS,
    ClaimedMonth,
    MissingStandardRequest,
    RefundApplication,
    RefundDecisionCommand,
    RefundInput,
    RefundReapply,
    RefundState,
    refund_id_for,
)
from models.tables import CaseRecord, Document
from policy.errors import PolicyError
from policy.identity import parse_resident_id
from policy.refund import last_ended_year, year_end_window
from policy.regions import get_region, is_within
from workflows.base import initial_search_attributes
from workflows.premium_refund import MissingStandardWorkflow, PremiumRefundWorkflow

router = APIRouter(prefix="/api/v1/premium-refunds", tags=["premium-refunds"])
Session = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Temporal = Annotated[Client, Depends(get_temporal)]
DatabaseDep = Annotated[Database, Depends(get_db)]
_REFUND = [CaseType.PREMIUM_REFUND]
_clerk_or_applicant = allow(Kind.STAFF, Kind.APPLICANT, roles=[Role.INTAKE_CLERK])
RefundForStaff = Annotated[CaseRecord, case_of(_REFUND, staff(), "case_id")]
RefundForReviewer = Annotated[CaseRecord, case_of(_REFUND, staff(Role.REVIEWER), "case_id", acting=True)]
RefundForOperations = Annotated[
    CaseRecord, case_of(_REFUND, staff(Role.OPS_ENGINEER), "case_id", acting=True)
]
RefundForClerkOrApplicant = Annotated[
    CaseRecord, case_of(_REFUND, _clerk_or_applicant, "case_id", acting=True)
]


class RefundApplicationIn(RefundApplication):
    """The application with the checksum and region rules applied field by field."""

    @field_validator("id_number", mode="before")
    @classmethod
    def _id_checksum(cls, v: object) -> str:
        return parse_resident_id(str(v)).number

    @field_validator("region_code", mode="before")
    @classmethod
    def _county(cls, v: object) -> str:
        region = get_region(str(v))
        if region.level != "county":
            raise ValueError("申请地应为旗县区一级的行政区划")
        return region.code


class RefundCreated(BaseModel):
    case_id: str
    status: str
    channel: Channel
    message: str


class RefundDetail(BaseModel):
    case_id: str
    status: str
    status_label: str
    state: RefundState


class DecideBody(OnceDecideBody):
    reason: str = Field(default="", max_length=500, examples=["未提供2025年11月的医保缴费凭证"])


class ReapplyBody(BaseModel):
    claimed: list[ClaimedMonth] | None = None
    receipts: list[DocumentRef] = Field(default_factory=list, max_length=36)
    note: str = Field(default="", max_length=500, examples=["补交2月份医保缴费凭证"])


class DistrictFigures(BaseModel):
    region_code: str
    region_name: str
    people: int = 0
    months: int = 0
    estimate: Decimal = Decimal("0")
    waiting_for_standard: int = 0


class Overview(BaseModel):
    year: int
    apply_until: str
    districts: list[DistrictFigures]


class StandardEntered(BaseModel):
    run_id: str
    message: str


# --- helpers -----------------------------------------------------------------------------------------


def _handle(client: Client, case_id: str) -> WorkflowHandle[PremiumRefundWorkflow, Any]:
    return client.get_workflow_handle_for(PremiumRefundWorkflow.run, case_id)


def _too_early(settings: Settings, app: RefundApplication) -> None:
    """A year-end application before the contribution year ends is refused here, with the date
    from which it may be made (the workflow checks again, and checks a period's end itself)."""
    if app.basis != "year_end" or app.year is None:
        return
    try:
        w = year_end_window(app.year, parameters_in_force(settings.params_dir))
    except PolicyError as e:
        raise ApiError(422, e.code, e.message_zh) from e
    today = datetime.now(BUSINESS_TZ).date()
    if today < w.apply_from:
        raise ApiError(
            422,
            "refund.too_early",
            f"{app.year}年度医保缴费年度尚未结束，请于{w.apply_from.isoformat()}起申请",
        )


async def _receipts_stored(session: AsyncSession, docs: list[DocumentRef]) -> None:
    """Each receipt is an uploaded document whose hash matches what was stored."""
    if not docs:
        return
    ids = [d.id for d in docs]
    stored = {d.id: d for d in (await session.exec(select(Document).where(col(Document.id).in_(ids)))).all()}
    for d in docs:
        row = stored.get(d.id)
        if row is None or row.sha256 != d.sha256:
            raise ApiError(422, "refund.receipt_unknown", f"缴费凭证“{d.filename or d.id}”未上传或内容不一致")


# --- starting a case ---------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=RefundCreated, summary="提交医保费返还申请（窗口或网上）")
async def create_refund(
    body: RefundApplicationIn,
    who: ClerkOrApplicant,
    session: Session,
    settings: SettingsDep,
    client: Temporal,
    db: DatabaseDep,
) -> RefundCreated:
    actor = who.staff_actor() if who.kind is Kind.STAFF else None
    key = applicant_key(settings, body.id_number)
    if actor is not None:
        ensure_region(actor, body.region_code)
        if not body.receipts:
            raise ApiError(422, "refund.receipts_required", "窗口申请须上传医保缴费凭证")
    else:
        own_person(who, key)
        today = datetime.now(BUSINESS_TZ).date()
        if not parameters_in_force(settings.params_dir).flag("refund.online_allowed", today):
            raise ApiError(
                403, "refund.online_closed", "医保费返还暂不支持网上申请，请持缴费凭证到经办窗口办理"
            )
    app = RefundApplication.model_validate(body.model_dump())
    _too_early(settings, app)
    await _receipts_stored(session, app.receipts)
    channel = Channel.COUNTER if actor else Channel.ONLINE
    by = actor.login if actor else "applicant"
    case_id = refund_id_for(app.region_code, key, uuid.uuid4().hex[:8])
    inp = RefundInput(
        case_id=case_id,
        applicant_key=key,
        application=app,
        channel=channel,
        received_at=datetime.now(UTC),
        submitted_by=by,
    )
    await call_workflow(
        lambda: client.start_workflow(
            PremiumRefundWorkflow.run,
            inp,
            id=case_id,
            task_queue=settings.task_queue,
            search_attributes=initial_search_attributes(
                CaseType.PREMIUM_REFUND.value, app.region_code, "checking"
            ),
        )
    )
    await write_first_row(settings, db, PremiumRefundWorkflow, inp)
    await audit.append(
        session,
        actor=by,
        action="premium_refund.submitted",
        case_id=case_id,
        payload={"channel": channel.value, "region": app.region_code, "receipts": len(app.receipts)},
        actor_region=actor.region_code if actor else None,
    )
    await session.commit()
    return RefundCreated(
        case_id=case_id,
        status="received",
        channel=channel,
        message="申请已受理，将与医保系统核对个人缴费记录后作出决定。",
    )


# --- the supervisors' overview and the operator's hook -----------------------------------------------


@router.get(
    "/supervisor/overview",
    response_model=Overview,
    summary="医保费返还概况：可申请返还的人数、月数和估算金额，待录入代缴标准的月数（按盟市）",
)
async def overview(who: Supervisor, request_settings: SettingsDep, db: DatabaseDep) -> Overview:
    params = parameters_in_force(request_settings.params_dir)
    today = datetime.now(BUSINESS_TZ).date()
    try:
        year = last_ended_year(today, params)
        w = year_end_window(year, params)
    except PolicyError as e:
        raise ApiError(422, e.code, e.message_zh) from e
    people = await refundable_by_person(db, params, w.months)
    waiting = await waiting_for_standard(db)
    out: dict[str, DistrictFigures] = {}

    def row(region: str) -> DistrictFigures:
        d = district_of(region)
        return out.setdefault(d, DistrictFigures(region_code=d, region_name=get_region(d).name))

    for _key, region, _case, months, estimate in people:
        if is_within(who.region_code, region):
            r = row(region)
            r.people, r.months, r.estimate = r.people + 1, r.months + len(months), r.estimate + estimate
    for region, n in waiting.items():
        if is_within(who.region_code, region):
            row(region).waiting_for_standard += n
    return Overview(
        year=year,
        apply_until=w.apply_until.isoformat(),
        districts=sorted(out.values(), key=lambda d: d.region_code),
    )


@router.post(
    "/standard-entered",
    status_code=202,
    response_model=StandardEntered,
    summary="代缴标准已录入：补缴因标准缺失未能代缴的月份并告知本人",
)
async def standard_entered(
    who: Operations, session: Session, settings: SettingsDep, client: Temporal
) -> StandardEntered:
    today = datetime.now(BUSINESS_TZ).date()
    run_id = f"{MISSING_STANDARD_PREFIX}{today.isoformat()}-{uuid.uuid4().hex[:6]}"
    await call_workflow(
        lambda: client.start_workflow(
            MissingStandardWorkflow.run,
            MissingStandardRequest(as_of=today),
            id=run_id,
            task_queue=settings.task_queue,
        )
    )
    await audit.append(
        session,
        actor=who.login,
        action="premium.standard_entered",
        payload={"run_id": run_id},
        actor_region=who.region_code,
    )
    await session.commit()
    return StandardEntered(run_id=run_id, message="已开始补缴代缴标准缺失的月份，完成后将逐人告知。")


# --- the case ---------------------------------------------------------------------------------------


@router.get(
    "/{case_id}", response_model=RefundDetail, summary="医保费返还申请详情（逐月核对、审核、发放、时间线）"
)
async def refund_detail(case_id: str, case: RefundForStaff, who: StaffUser, client: Temporal) -> RefundDetail:
    state = await call_workflow(lambda: _handle(client, case_id).query(PremiumRefundWorkflow.state_query))
    return RefundDetail(
        case_id=case_id,
        status=state.status.value,
        status_label=REFUND_STATUS_LABELS[state.status],
        state=state,
    )


@router.post(
    "/{case_id}/decide",
    response_model=DecisionReceipt,
    summary="审核决定（通过，或不予返还并写明理由和处置方式）",
)
async def decide(
    case_id: str, case: RefundForReviewer, body: DecideBody, who: Reviewer, decide: Decide
) -> DecisionReceipt:
    cmd = RefundDecisionCommand(actor=who, **body.model_dump())
    return await decide(case_id, PremiumRefundWorkflow.decide_refund, cmd)


@router.post(
    "/{case_id}/reapply", response_model=DecisionReceipt, summary="未通过后重新申请（可补交缴费凭证）"
)
async def reapply(
    case_id: str,
    case: RefundForClerkOrApplicant,
    who: ClerkOrApplicant,
    body: ReapplyBody,
    session: Session,
    decide: Decide,
) -> DecisionReceipt:
    await _receipts_stored(session, body.receipts)
    by = who.subject if who.kind is Kind.STAFF else "applicant"
    cmd = RefundReapply(by=by, claimed=body.claimed, receipts=body.receipts, note=body.note)
    return await decide(case_id, PremiumRefundWorkflow.reapply, cmd)


@router.post("/{case_id}/unblock", summary="运维解除案件阻塞")
async def unblock(
    case_id: str, case: RefundForOperations, body: UnblockBody, who: Operations, decide: Decide
) -> dict[str, str]:
    return await unblock_case(decide, case_id, PremiumRefundWorkflow.unblock_case, who, body)
