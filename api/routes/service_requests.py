"""Consultations and complaints (畅通申诉渠道): intake at the counter, by phone, online by the
person, at the 办不成事 window, and from the 12333 hotline's signed work orders; staff actions
(contact, answer, follow-up) through the one Update path (``api/temporal_ops.py``); the request
page with its case, a case's requests, the supervisor view, and the catalogue of policy answers.

No personal data in URLs or ids: the request id carries the region, the channel and a random
token (or the hotline's order number)."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.case_store import write_case_row
from activities.gov.callbacks import CallbackRefused, verify
from activities.gov.hotline import HotlineFeedback, HotlineOrder, parse_hotline_event
from api.deps import get_db, get_session, get_settings_dep, get_temporal
from api.errors import ApiError
from api.params import KnownRegion
from api.principals import (
    ApplicantUser,
    RequestForHandler,
    RequestForStaff,
    StaffUser,
    SupervisorView,
    public,
    staff,
)
from api.routes.callbacks import record_nonce
from api.temporal_ops import Decide, call_workflow, settled
from core.db import Database
from core.settings import Settings
from models.case import DecisionReceipt, local_date
from models.enums import Role
from models.service_request import (
    CASE_TYPE,
    CHANNEL_LABELS,
    KIND_LABELS,
    REQUEST_ID_RE,
    SATISFACTION_LABELS,
    FeedbackEvent,
    RequestAction,
    Requester,
    RequestKind,
    Satisfaction,
    ServiceChannel,
    ServiceRequestInput,
    ServiceRequestState,
    request_id_for,
)
from models.staff import StaffActor
from models.tables import CaseRecord, PolicyAnswer, ServiceRequestLink
from policy.regions import is_within, subtree_codes
from workflows.base import initial_search_attributes
from workflows.service_request import ServiceRequestWorkflow, received_state, request_projection

log = logging.getLogger("uiflow.api.service_requests")
router = APIRouter(prefix="/api/v1/service-requests", tags=["service-requests"])
Session = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Db = Annotated[Database, Depends(get_db)]
Temporal = Annotated[Client, Depends(get_temporal)]

HANDLERS = (Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR)
#: Staff who take in and handle requests (the workflow's validator decides each action).
RequestHandler = Annotated[StaffActor, Depends(staff(*HANDLERS))]
HOTLINE_SYSTEM = "hotline"
HOTLINE_ACTOR = StaffActor(login="hotline-12333", name="12333热线", roles=[], region_code="150000")
STAFF_CHANNELS = (ServiceChannel.COUNTER, ServiceChannel.PHONE, ServiceChannel.UNRESOLVED_WINDOW)


# --- intake ----------------------------------------------------------------------------------------


class StaffIntake(BaseModel):
    kind: RequestKind
    channel: Literal["counter", "phone", "unresolved_window"]
    region_code: KnownRegion = Field(pattern=r"^15\d{4}$", examples=["150102"])
    topic: str = Field(default="other", pattern=r"^[a-z_]{1,32}$")
    content: str = Field(min_length=2, max_length=4000)
    requester_name: str = Field(default="", max_length=32)
    requester_phone: str | None = Field(default=None, pattern=r"^1\d{10}$")
    linked_case_id: str | None = Field(default=None, pattern=r"^[a-z_]+-[0-9A-Za-z-]{4,120}$")
    problem: str = Field(default="", max_length=2000, description="办不成事：哪个窗口、什么事没办成")
    answer_on_spot: str = Field(default="", max_length=4000, description="当场答复的内容（当场办结）")


class OnlineIntake(BaseModel):
    """The person online, signed in through the real-name identity provider (who they are comes
    from the sign-in, never from the body)."""

    phone: str = Field(pattern=r"^1\d{10}$", examples=["13912345678"], description="用于告知答复")
    kind: RequestKind
    region_code: KnownRegion = Field(pattern=r"^15\d{4}$")
    topic: str = Field(default="other", pattern=r"^[a-z_]{1,32}$")
    content: str = Field(min_length=2, max_length=4000)
    linked_case_id: str | None = Field(default=None, pattern=r"^[a-z_]+-[0-9A-Za-z-]{4,120}$")


class RequestCreated(BaseModel):
    case_id: str
    message: str


async def _start(
    client: Client,
    settings: Settings,
    db: Database,
    *,
    channel: ServiceChannel,
    ref: str | None = None,
    **fields: Any,
) -> ServiceRequestInput:
    """Start a request received now through ``channel`` (``ref``: the hotline's order number, else
    a random token); ``fields`` are the rest of its input. Its first read-model row is written
    before the route answers (``received_state``, the workflow's own first state; the workflow's
    first projection, a later version, replaces it), so the request is scoped by its row at once."""
    inp = ServiceRequestInput(
        case_id=request_id_for(fields["region_code"], channel.value, ref or uuid.uuid4().hex[:12]),
        channel=channel,
        received_at=datetime.now(UTC),
        **fields,
    )
    try:
        await client.start_workflow(
            ServiceRequestWorkflow.run,
            inp,
            id=inp.case_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=initial_search_attributes(CASE_TYPE.value, inp.region_code, "open"),
        )
    except WorkflowAlreadyStartedError as e:
        raise ApiError(409, "service.conflict", "该诉求已受理，请勿重复提交") from e
    await write_case_row(settings, db, request_projection(inp, received_state(inp), None))
    return inp


@router.post(
    "", status_code=201, response_model=RequestCreated, summary="受理咨询投诉（窗口、电话、办不成事窗口）"
)
async def create_request(
    body: StaffIntake, staff: RequestHandler, settings: SettingsDep, temporal: Temporal, db: Db
) -> RequestCreated:
    if not is_within(staff.region_code, body.region_code):
        raise ApiError(
            422, "service.invalid", "所属地区不在您的管辖范围内", fields={"region_code": "不在本辖区"}
        )
    channel = ServiceChannel(body.channel)
    if channel == ServiceChannel.UNRESOLVED_WINDOW and len(body.problem.strip()) < 2:
        raise ApiError(422, "service.note_required", "办不成事窗口受理时须写明哪项业务没有办成、原因是什么")
    inp = await _start(
        temporal,
        settings,
        db,
        channel=channel,
        submitted_by=staff,
        requester=Requester(name=body.requester_name, phone=body.requester_phone),
        **body.model_dump(
            include={"kind", "region_code", "topic", "content", "linked_case_id", "problem", "answer_on_spot"}
        ),
    )
    done = body.answer_on_spot.strip() and channel != ServiceChannel.UNRESOLVED_WINDOW
    return RequestCreated(case_id=inp.case_id, message="已当场答复办结" if done else "已受理，将按时限办理")


@router.post("/online", status_code=201, response_model=RequestCreated, summary="网上提交咨询投诉（本人）")
async def create_online(
    body: OnlineIntake, applicant: ApplicantUser, settings: SettingsDep, temporal: Temporal, db: Db
) -> RequestCreated:
    key = applicant.applicant_key or applicant.subject
    inp = await _start(
        temporal,
        settings,
        db,
        channel=ServiceChannel.ONLINE,
        submitted_by=StaffActor(login="applicant", name="本人", roles=[], region_code=body.region_code),
        requester=Requester(name=applicant.name[:32], phone=body.phone, applicant_key=key),
        **body.model_dump(include={"kind", "region_code", "topic", "content", "linked_case_id"}),
    )
    return RequestCreated(case_id=inp.case_id, message="已受理，办理结果将短信告知")


# --- the hotline's signed callback -------------------------------------------------------------------


class HotlineAck(BaseModel):
    accepted: bool
    case_id: str | None = None
    message_zh: str


@router.post(
    "/callbacks/hotline",
    response_model=HotlineAck,
    summary="12333热线工单回调（签名验证）",
    dependencies=[public("signed government callback: the hotline's signature is checked below")],
)
async def hotline_callback(request: Request, settings: SettingsDep, temporal: Temporal) -> HotlineAck:
    """Signed with the hotline's own rotatable secret, in time, and not replayed (the same
    verification as every government callback, ``activities/gov/callbacks.py``)."""
    body = await request.body()
    try:
        v = verify(request.headers, request.method, request.url.path, body, settings.callback_keyrings())
    except CallbackRefused as e:
        raise ApiError(e.status, e.code, e.message_zh) from None
    if v.system != HOTLINE_SYSTEM:
        raise ApiError(422, "callback.unsupported", "该系统无权发送热线工单回调")
    async with get_db(request).session() as session:
        await record_nonce(session, v)
        try:
            event = parse_hotline_event(body)
        except ValidationError:
            raise ApiError(422, "callback.invalid", "回调内容格式不正确") from None
        ack = await _hotline_event(event, settings, temporal, get_db(request))
        await session.commit()
    return ack


async def _hotline_event(
    event: HotlineOrder | HotlineFeedback, settings: Settings, temporal: Client, db: Database
) -> HotlineAck:
    if isinstance(event, HotlineFeedback):
        return await _feedback(temporal, event)
    case_id = request_id_for(event.region_code, ServiceChannel.HOTLINE.value, event.order_id)
    try:
        await _start(
            temporal,
            settings,
            db,
            channel=ServiceChannel.HOTLINE,
            ref=event.order_id,
            submitted_by=HOTLINE_ACTOR,
            requester=Requester(name=event.caller_name, phone=event.caller_phone),
            hotline_order_id=event.order_id,
            **event.model_dump(include={"kind", "region_code", "topic", "content", "linked_case_id"}),
        )
    except ApiError:
        return HotlineAck(accepted=False, case_id=case_id, message_zh="该工单已受理，重复推送已忽略")
    log.info("hotline order %s received as %s", event.order_id, case_id)
    return HotlineAck(accepted=True, case_id=case_id, message_zh="工单已受理")


async def _feedback(temporal: Client, event: HotlineFeedback) -> HotlineAck:
    case_id = request_id_for(event.region_code, ServiceChannel.HOTLINE.value, event.order_id)
    handle = temporal.get_workflow_handle_for(ServiceRequestWorkflow.run, case_id)
    fb = FeedbackEvent(
        order_id=event.order_id, satisfaction=Satisfaction(event.satisfaction), comment=event.comment
    )
    try:
        await handle.signal(ServiceRequestWorkflow.feedback_reported, fb)
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        return HotlineAck(accepted=False, case_id=case_id, message_zh="未找到对应的在办诉求，回访结果已忽略")
    return HotlineAck(accepted=True, case_id=case_id, message_zh="已收到回访结果")


# --- the request page and staff actions ----------------------------------------------------------------


class LinkedCase(BaseModel):
    case_id: str
    case_type: str
    status: str
    status_label: str


class RequestDetail(BaseModel):
    request: ServiceRequestState
    case: LinkedCase | None = None


def _handle(client: Client, case_id: str) -> WorkflowHandle[Any, Any]:
    if not REQUEST_ID_RE.match(case_id):
        raise ApiError(404, "case.not_found", "未找到该诉求")
    return client.get_workflow_handle_for(ServiceRequestWorkflow.run, case_id)


async def _detail(session: AsyncSession, handle: WorkflowHandle[Any, Any]) -> RequestDetail:
    state: ServiceRequestState = await call_workflow(lambda: handle.query(ServiceRequestWorkflow.state_query))
    case = None
    if state.linked_case_id:
        row = await session.get(CaseRecord, state.linked_case_id)
        if row is not None:
            case = LinkedCase(
                case_id=row.case_id,
                case_type=row.case_type,
                status=row.status,
                status_label=str(row.summary.get("status_label") or row.status),
            )
    return RequestDetail(request=state, case=case)


@router.get("/{case_id}", response_model=RequestDetail, summary="诉求详情（含关联案件、时间线）")
async def get_request(
    case_id: str, case: RequestForStaff, session: Session, temporal: Temporal
) -> RequestDetail:
    """A request outside the caller's region answers 404 (``RequestForStaff``), as if it did not
    exist; a request just received too (its row is written before the create route answers)."""
    return await _detail(session, _handle(temporal, case.case_id))


class ActionBody(BaseModel):
    note: str = Field(default="", max_length=4000, examples=["已核实，待遇已于本月15日补发到账"])
    satisfaction: Satisfaction | None = Field(
        default=None, examples=["satisfied"], description="回访评价（回访记录时必填）"
    )


class ActionResponse(BaseModel):
    receipt: DecisionReceipt
    request: ServiceRequestState


_UPDATES = {
    "contact": ServiceRequestWorkflow.contact,
    "answer": ServiceRequestWorkflow.answer,
    "follow-up": ServiceRequestWorkflow.follow_up,
}


@router.post("/{case_id}/{action}", response_model=ActionResponse, summary="联系、答复、回访记录")
async def act(
    case_id: str,
    action: Literal["contact", "answer", "follow-up"],
    case: RequestForHandler,
    staff: RequestHandler,
    temporal: Temporal,
    decide: Decide,
    body: ActionBody | None = None,
) -> ActionResponse:
    body = body or ActionBody()
    cmd = RequestAction(actor=staff, note=body.note, satisfaction=body.satisfaction)
    receipt = await decide(case.case_id, _UPDATES[action], cmd)
    await settled(temporal, case.case_id)
    handle = _handle(temporal, case.case_id)
    state = await call_workflow(lambda: handle.query(ServiceRequestWorkflow.state_query))
    return ActionResponse(receipt=receipt, request=state)


# --- a case's requests ------------------------------------------------------------------------------


class RequestItem(BaseModel):
    case_id: str
    kind_label: str
    channel_label: str
    status: str
    status_label: str
    stage_label: str
    region_code: str
    received_at: datetime
    deadline: str | None
    overdue: bool
    escalated: bool
    linked_case_id: str | None
    problem: str = ""


def _item(r: CaseRecord) -> RequestItem:
    s = r.summary
    return RequestItem(
        case_id=r.case_id,
        kind_label=str(s.get("kind_label", "")),
        channel_label=str(s.get("channel_label", "")),
        status=r.status,
        status_label=str(s.get("status_label", r.status)),
        stage_label=str(s.get("stage_label", r.stage)),
        region_code=r.region_code,
        received_at=r.received_at,
        deadline=r.deadline.isoformat() if r.deadline else None,
        overdue=r.overdue,
        escalated=r.escalated,
        linked_case_id=s.get("linked_case_id"),
        problem=str(s.get("problem") or ""),
    )


@router.get("/of-case/{case_id}", response_model=list[RequestItem], summary="某案件的咨询投诉")
async def requests_of_case(case_id: str, staff: StaffUser, session: Session) -> list[RequestItem]:
    return await requests_linked_to(session, staff, case_id)


async def requests_linked_to(session: AsyncSession, staff: StaffActor, case_id: str) -> list[RequestItem]:
    """The requests naming ``case_id`` that ``staff`` may see (for the case page)."""
    ids = (
        await session.exec(select(ServiceRequestLink.request_id).where(ServiceRequestLink.case_id == case_id))
    ).all()
    if not ids:
        return []
    scope = subtree_codes(staff.region_code)
    rows = (
        await session.exec(
            select(CaseRecord)
            .where(col(CaseRecord.case_id).in_(ids), col(CaseRecord.region_code).in_(scope))
            .order_by(col(CaseRecord.received_at))
        )
    ).all()
    return [_item(r) for r in rows]


# --- the supervisor view ------------------------------------------------------------------------------


class Share(BaseModel):
    count: int
    of: int
    share: float | None


class RequestOverview(BaseModel):
    total: int
    by_channel: dict[str, int]
    by_kind: dict[str, int]
    by_region: dict[str, int]
    by_status: dict[str, int]
    answered_at_once: Share
    resolved_within_limit: Share
    satisfaction: dict[str, int]
    requests: list[RequestItem]  # overdue first, then by deadline
    unresolved_window: list[RequestItem]


def _share(n: int, of: int) -> Share:
    return Share(count=n, of=of, share=round(n / of, 4) if of else None)


@router.get("/supervisor/overview", response_model=RequestOverview, summary="咨询投诉督办视图（业务主管）")
async def supervisor_view(
    staff: SupervisorView,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> RequestOverview:
    return await supervisor_overview(session, staff, limit)


async def supervisor_overview(session: AsyncSession, staff: StaffActor, limit: int = 200) -> RequestOverview:
    scope = subtree_codes(staff.region_code)
    rows = (
        await session.exec(
            select(CaseRecord).where(
                CaseRecord.case_type == CASE_TYPE.value, col(CaseRecord.region_code).in_(scope)
            )
        )
    ).all()
    summaries = [r.summary for r in rows]
    answered = [s for s in summaries if s.get("within_limit") is not None]
    satisfaction = Counter(
        SATISFACTION_LABELS[Satisfaction(s["satisfaction"])] for s in summaries if s.get("satisfaction")
    )
    today = local_date(datetime.now(UTC))
    open_rows = sorted(
        (r for r in rows if r.closed_at is None),
        key=lambda r: (
            not (r.overdue or (r.deadline is not None and r.deadline < today)),
            r.deadline or today,
        ),
    )
    return RequestOverview(
        total=len(rows),
        by_channel=dict(Counter(CHANNEL_LABELS[ServiceChannel(r.channel)] for r in rows)),
        by_kind=dict(Counter(KIND_LABELS[RequestKind(s["kind"])] for s in summaries)),
        by_region=dict(Counter(r.region_code for r in rows)),
        by_status=dict(Counter(str(s.get("status_label", "")) for s in summaries)),
        answered_at_once=_share(sum(1 for s in summaries if s.get("answered_at_once")), len(rows)),
        resolved_within_limit=_share(sum(1 for s in answered if s["within_limit"]), len(answered)),
        satisfaction=dict(satisfaction),
        requests=[_item(r) for r in open_rows[:limit]],
        unresolved_window=[
            _item(r)
            for r in sorted(rows, key=lambda r: r.received_at, reverse=True)
            if r.channel == ServiceChannel.UNRESOLVED_WINDOW.value
        ][:limit],
    )


# --- the catalogue of policy answers -------------------------------------------------------------------


class AnswerEntry(BaseModel):
    id: str
    topic: str
    question_zh: str
    answer_zh: str
    effective_from: str
    source: str


@router.get("/answers/search", response_model=list[AnswerEntry], summary="政策答复口径检索")
async def search_answers(
    _staff: StaffUser,
    session: Session,
    q: Annotated[str, Query(max_length=50)] = "",
    topic: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
) -> list[AnswerEntry]:
    return await find_answers(session, q, topic)


async def find_answers(session: AsyncSession, q: str = "", topic: str | None = None) -> list[AnswerEntry]:
    today = local_date(datetime.now(UTC))
    stmt = select(PolicyAnswer).where(PolicyAnswer.effective_from <= today)
    if topic:
        stmt = stmt.where(PolicyAnswer.topic == topic)
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(col(PolicyAnswer.question_zh).like(like), col(PolicyAnswer.answer_zh).like(like))
        )
    rows = (await session.exec(stmt.order_by(col(PolicyAnswer.topic), col(PolicyAnswer.id)))).all()
    return [
        AnswerEntry(
            id=r.id,
            topic=r.topic,
            question_zh=r.question_zh,
            answer_zh=r.answer_zh,
            effective_from=r.effective_from.isoformat(),
            source=r.source,
        )
        for r in rows
    ]
