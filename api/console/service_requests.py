"""Consultations and complaints in the console: intake (counter, phone, 办不成事 window) with the
catalogue of policy answers beside the form, the request page (its case, timeline, and the
contact / answer / follow-up forms), and the supervisor view.

Everything goes through the request API's route functions (``create_request``, ``act``,
``supervisor_overview``, ``find_answers``), so who may act is exactly the API's and the workflow
validator's rule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.forms import act_or_show, text
from api.console.web import ConsoleRoute, csrf_protect, render
from api.deps import get_db, get_session, get_settings_dep, get_temporal
from api.principals import RequestForHandler, RequestForStaff, StaffUser, SupervisorView
from api.routes import service_requests as api
from api.temporal_ops import Decider
from models.service_request import (
    CHANNEL_LABELS,
    KIND_LABELS,
    SATISFACTION_LABELS,
    STATUS_LABELS,
    TOPIC_LABELS,
    RequestStage,
    ServiceChannel,
)
from models.staff import StaffActor
from models.tables import CaseRecord

router = APIRouter(route_class=ConsoleRoute)
Handler = api.RequestHandler
Session = Annotated[AsyncSession, Depends(get_session)]

INTAKE_FIELDS = (
    "kind",
    "channel",
    "region_code",
    "topic",
    "content",
    "requester_name",
    "requester_phone",
    "linked_case_id",
    "problem",
    "answer_on_spot",
)
ACTION_LABELS = {"contact": "已联系诉求人", "answer": "答复诉求人", "follow-up": "记录回访结果"}
STAFF_CHANNELS = {c.value: CHANNEL_LABELS[c] for c in api.STAFF_CHANNELS}


def _labels() -> dict[str, Any]:
    from api.console.cases import ACTOR_KIND_LABELS

    return {
        "actor": ACTOR_KIND_LABELS,
        "kind": {k.value: v for k, v in KIND_LABELS.items()},
        "channel": {k.value: v for k, v in CHANNEL_LABELS.items()},
        "status": {k.value: v for k, v in STATUS_LABELS.items()},
        "stage": {k.value: k.label_zh for k in RequestStage},
        "satisfaction": {k.value: v for k, v in SATISFACTION_LABELS.items()},
        "topic": TOPIC_LABELS,
        "staff_channels": STAFF_CHANNELS,
        "actions": ACTION_LABELS,
    }


async def _intake_page(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    q = request.query_params.get("q", "")[:50]
    answers = await api.find_answers(session, q)
    values = {k: "" for k in INTAKE_FIELDS} | {"region_code": staff.region_code, "kind": "consultation"}
    ctx = {
        "nav": "requests_intake",
        "form": values | (form or {}),
        "error": error,
        "answers": answers,
        "q": q,
        "labels": _labels(),
    }
    return render(request, "request_intake.html", ctx, staff=staff, status=status)


@router.get("/requests/new")
async def intake_form(request: Request, staff: Handler, session: Session) -> Response:
    return await _intake_page(request, staff, session)


@router.post("/requests/new", dependencies=[Depends(csrf_protect)])
async def intake_submit(request: Request, staff: Handler, session: Session) -> Response:
    form = await request.form()
    values = {k: text(form, k, 4000) for k in INTAKE_FIELDS}
    created: dict[str, str] = {}

    async def call() -> None:
        body = api.StaffIntake.model_validate(
            {k: (v or None) if k in ("requester_phone", "linked_case_id") else v for k, v in values.items()}
        )
        out = await api.create_request(
            body, staff, get_settings_dep(request), await get_temporal(request), get_db(request)
        )
        created["id"] = out.case_id

    async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        joined = "；".join(v.rstrip("。") for v in errs.values())
        return await _intake_page(request, staff, session, form, joined or message, status)

    return await act_or_show(
        request, call, show, values, lambda: f"/console/requests/{created['id']}?done=intake"
    )


async def request_page(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    case: CaseRecord,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    from api.console import timeline

    case_id = case.case_id
    temporal = await get_temporal(request)
    detail = await api.get_request(case_id, case, session, temporal)
    s = detail.request
    entries = await timeline.entries(request, staff, session, case_id, s.timeline)
    allowed = {
        "contact": s.stage in (RequestStage.ASSIGNED, RequestStage.SUPERVISOR) and s.contacted_at is None,
        "answer": s.stage
        in (RequestStage.ASSIGNED, RequestStage.IN_PROGRESS, RequestStage.SUPERVISOR, RequestStage.REOPENED),
        "follow-up": s.stage == RequestStage.AWAITING_FEEDBACK,
    }
    ctx = {
        "case_id": case_id,
        "state": s,
        "case": detail.case,
        "allowed": allowed,
        "form": {"action": "", "note": "", "satisfaction": ""} | (form or {}),
        "error": error,
        "done": request.query_params.get("done", ""),
        "timeline": entries,
        "labels": _labels(),
        "answers": await api.find_answers(session, topic=s.topic) if allowed["answer"] else [],
    }
    return render(request, "request.html", ctx, staff=staff, status=status)


@router.get("/requests/{case_id}")
async def request_view(
    case_id: str, request: Request, case: RequestForStaff, staff: StaffUser, session: Session
) -> Response:
    return await request_page(request, staff, session, case)


@router.post("/requests/{case_id}/act", dependencies=[Depends(csrf_protect)])
async def request_act(
    case_id: str, request: Request, case: RequestForHandler, staff: api.RequestHandler, session: Session
) -> Response:
    form = await request.form()
    values = {
        "action": text(form, "action", 16),
        "note": text(form, "note", 4000),
        "satisfaction": text(form, "satisfaction", 16),
    }

    async def call() -> None:
        from api.errors import ApiError

        if values["action"] not in ACTION_LABELS:
            raise ApiError(422, "service.invalid", "请选择办理操作")
        body = api.ActionBody.model_validate(
            {"note": values["note"], "satisfaction": values["satisfaction"] or None}
        )
        temporal = await get_temporal(request)
        await api.act(
            case_id,
            values["action"],  # type: ignore[arg-type]  # checked just above
            case,
            staff,
            temporal,
            Decider(temporal, session, None),
            body,
        )

    async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        msg = "；".join(v.rstrip("。") for v in errs.values()) or message
        return await request_page(request, staff, session, case, form=form, error=msg, status=status)

    return await act_or_show(
        request, call, show, values, f"/console/requests/{case_id}?done={values['action']}"
    )


@router.get("/requests")
async def supervisor_view(request: Request, staff: SupervisorView, session: Session) -> Response:
    view = await api.supervisor_view(staff, session)
    ctx = {
        "nav": "requests",
        "view": view,
        "labels": _labels(),
        "unresolved": ServiceChannel.UNRESOLVED_WINDOW,
    }
    return render(request, "requests_supervisor.html", ctx, staff=staff)


async def linked_requests(session: AsyncSession, staff: StaffActor, case_id: str) -> list[api.RequestItem]:
    """For the case pages of the other types: the requests naming that case."""
    return await api.requests_linked_to(session, staff, case_id)
