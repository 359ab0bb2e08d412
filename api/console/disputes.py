"""Stop-reason disputes in the console: counter intake, the dispute page with the three review
levels (初审、复审、终审) and send-back.

Everything goes through the dispute API's route functions (``counter_application``, ``detail``,
``decide``), so who may see a dispute (region, or the league's delegated review authority) and
who may decide at which level is exactly the API's and the workflow validator's rule. The module
is inert until ``api.routes.disputes`` exists, so the console never breaks while disputes are
being built."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.console.forms import act_or_show, attached_documents, doc_kinds, field_errors, text
from api.console.web import (
    ConsoleRoute,
    csrf_protect,
    redirect,
    render,
    settings_of,
)
from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.principals import Clerk, DisputeForConsoleReviewer, DisputeReviewer
from api.temporal_ops import Decider, call_workflow
from models.enums import CaseType
from models.staff import StaffActor
from models.tables import CaseRecord
from policy.regions import get_region

if TYPE_CHECKING:
    from models.dispute import DisputeState

log = logging.getLogger("uiflow.console")
router = APIRouter(route_class=ConsoleRoute)

FIELDS = (
    "id_number",
    "name",
    "phone",
    "region_code",
    "employer_credit_code",
    "requested_reason_code",
    "statement",
)
ACTIONS = {"approve": "通过", "reject": "不予通过", "send-back": "退回上一级"}
LEVEL_STATUS_LABELS = {
    "waiting": "未开始",
    "open": "办理中",
    "approved": "已通过",
    "sent_back": "已退回",
    "rejected": "不予通过",
}
DONE_MESSAGES = {
    "intake": "已受理停保原因争议申请，将经初审、复审、终审",
    "reject": "已作出不予通过决定，并将告知申请人理由",
}


def done_message(done: str, state: DisputeState) -> str | None:
    """What the reviewer just did, said in terms of where the case now stands."""
    level = state.review.open_level
    if done in ("approve", "send-back"):
        if level is not None:
            verb = "已通过" if done == "approve" else "已退回"
            return f"{verb}，已转{level.label_zh}"
        if state.review.outcome == "approved":
            return "终审通过，正在变更停保原因"
    return DONE_MESSAGES.get(done)


_REASONS_TTL = 600.0
_reasons_cache: dict[str, tuple[float, list[Any]]] = {}


def status_labels() -> dict[str, str]:
    from models.dispute import DISPUTE_STATUS_LABELS

    return {s.value: label for s, label in DISPUTE_STATUS_LABELS.items()}


async def stop_reason_codes(request: Request) -> list[Any]:
    """The record system's stop-reason code table (its codes, not ours), cached for ten minutes;
    empty when the system cannot be reached (the clerk may still type a code)."""
    settings = settings_of(request)
    key = settings.sim_base_url
    hit = _reasons_cache.get(key)
    if hit and time.monotonic() - hit[0] < _REASONS_TTL:
        return hit[1]
    try:
        from activities.gov import GovClientConfig, InsuranceRecordClient

        items = await InsuranceRecordClient(GovClientConfig.from_settings(settings)).list_stop_reasons()
    except Exception as e:  # an unreachable record system must not stop the counter
        log.warning("stop-reason code table unavailable: %s", type(e).__name__)
        return []
    items = sorted(items, key=lambda r: (not r.involuntary, r.code))
    _reasons_cache[key] = (time.monotonic(), items)
    return items


# --- counter intake ------------------------------------------------------------------------------------


def _counties(staff: StaffActor) -> list[Any]:
    from api.console.intake import counties

    return counties(staff)


async def _render_intake(
    request: Request,
    staff: StaffActor,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    from models.dispute import REQUIRED_DOCUMENTS
    from models.enums import Channel

    return render(
        request,
        "intake_dispute.html",
        {
            "nav": "intake_dispute",
            "v": values,
            "errors": errors or {},
            "message": message,
            "counties": _counties(staff),
            # A dispute asks for a reason that is not the person's own will (never 死亡, 退休 or the
            # reason on the record now).
            "reasons": [
                r
                for r in await stop_reason_codes(request)
                if r.involuntary and r.code != values.get("current_reason_code")
            ],
            "required": REQUIRED_DOCUMENTS[Channel.COUNTER],
            "doc_kinds": doc_kinds(),
        },
        staff=staff,
        status=status,
    )


@router.get("/intake/dispute")
async def intake_form(
    request: Request,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
    claim: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    """The counter form; with ``claim`` (a rejected claim of the clerk's region), prefilled from
    that claim so the person need not say it all again."""
    own = get_region(staff.region_code)
    values: dict[str, Any] = dict.fromkeys(FIELDS, "") | {"docs": []}
    values["region_code"] = own.code if own.level == "county" else ""
    if claim:
        values |= await _from_claim(request, staff, session, claim)
    return await _render_intake(request, staff, values)


async def _from_claim(
    request: Request, staff: StaffActor, session: AsyncSession, case_id: str
) -> dict[str, Any]:
    """The person and the stop reason of a rejected claim, for the dispute form. Reading the full
    personal data is recorded in the audit log, as on the claim page."""
    from api.console.cases import case_row
    from api.routes import claims as claims_api
    from core import audit
    from workflows.benefit_claim import BenefitClaimWorkflow

    row = await case_row(session, staff, case_id)  # 404 unknown, 403 outside the clerk's region
    if row.case_type != CaseType.BENEFIT_CLAIM.value:
        raise ApiError(404, "case.not_found", "未找到该申领案件，请核对案件编号")
    handle = claims_api._handle(await get_temporal(request), case_id)
    app = await call_workflow(lambda: handle.query(BenefitClaimWorkflow.applicant_details))
    state = await call_workflow(lambda: handle.query(BenefitClaimWorkflow.state_query))
    await audit.append(
        session,
        actor=staff.login,
        action="personal_data.viewed",
        case_id=case_id,
        actor_region=staff.region_code,
        payload={"fields": ["id_number", "phone"], "purpose": "dispute_intake"},
    )
    await session.commit()
    rnd = state.current_round
    current = rnd.report.stop_reason if rnd and rnd.report else None
    region = get_region(row.region_code)
    return {
        "id_number": app.id_number,
        "name": app.name,
        "phone": app.phone,
        "region_code": region.code if region.level == "county" else "",
        "employer_credit_code": app.employer_credit_code,
        "statement": (
            f"申请人对原单位报送的停保原因“{current.label}”有异议，"
            "认为系非因本人意愿中断就业，申请变更停保原因。"
            if current
            else ""
        ),
        "current_reason_code": current.code if current else "",
        "current_reason_label": current.label if current else "",
        "claim_id": case_id,
        "claim_short_no": row.short_no or case_id,
    }


@router.post("/intake/dispute", dependencies=[Depends(csrf_protect)])
async def intake_submit(
    request: Request,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    from api.routes import disputes as disputes_api

    form = await request.form()
    values: dict[str, Any] = {k: text(form, k, 2000 if k == "statement" else 200) for k in FIELDS}
    values["id_number"] = values["id_number"].upper()
    values["employer_credit_code"] = values["employer_credit_code"].upper()
    values["docs"] = attached_documents(form)
    data: dict[str, Any] = {k: v for k, v in values.items() if k != "docs" and v != ""}
    data["documents"] = values["docs"]
    try:
        body = disputes_api.CounterDisputeRequest.model_validate(data)
    except ValidationError as e:
        errors = field_errors(e)
        message = f"有{len(errors)}项内容需要修改，请按提示更正"
        return await _render_intake(request, staff, values, errors=errors, message=message, status=422)
    client = await get_temporal(request)
    try:
        created = await disputes_api.counter_application(body, staff, session, settings_of(request), client)
    except ApiError as e:
        errors = e.fields or {}
        return await _render_intake(
            request, staff, values, errors=errors, message=e.message_zh, status=e.status_code
        )
    from api.console.intake import wait_for_projection

    await wait_for_projection(request.app.state.db, created.dispute_id)
    return redirect(request, f"/console/cases/{created.dispute_id}?done=intake")


# --- the dispute page ------------------------------------------------------------------------------------


def open_level(state: DisputeState) -> Any:
    return state.review.open_level


def may_decide(staff: StaffActor, state: DisputeState) -> bool:
    level = open_level(state)
    return level is not None and staff.has(level.role)


async def case_page(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    client: Client,
    row: CaseRecord,
    *,
    form: dict[str, Any] | None = None,
    decision_error: str | None = None,
    status: int = 200,
) -> Response:
    from api.console import timeline
    from api.console.cases import ACTOR_KIND_LABELS, STAGE_LABELS, still_processing, temporal_ui_link
    from api.routes import disputes as disputes_api
    from api.routes.cases import _item, _today
    from models.dispute import DISPUTE_STATUS_LABELS, REVIEW_ACTION_LABELS

    state = await disputes_api.detail(row.case_id, row, request, client)
    processing = await still_processing(client, row.case_id)
    done = request.query_params.get("done", "")
    level = open_level(state)
    first_level = bool(state.review.levels) and level is not None and level.key == state.review.levels[0].key
    entries = await timeline.entries(request, staff, session, row.case_id, state.timeline)
    ctx = {
        "case_id": row.case_id,
        "row": row,
        "item": _item(row, _today()),
        "state": state,
        "status_label": DISPUTE_STATUS_LABELS.get(state.status, state.status.value),
        "level": level,
        "first_level": first_level,
        "processing": processing,
        "may_decide": not processing and may_decide(staff, state),
        "form": {"action": "", "reason": "", "note": ""} | (form or {}),
        "decision_error": decision_error,
        "done_message": done_message(done, state),
        "actions": ACTIONS,
        "action_labels": {a.value: label for a, label in REVIEW_ACTION_LABELS.items()},
        "level_status": LEVEL_STATUS_LABELS,
        "doc_kinds": doc_kinds(),
        "timeline": entries,
        "labels": {"stage": STAGE_LABELS, "actor": ACTOR_KIND_LABELS},
        "temporal_link": temporal_ui_link(request, row.case_id),
        "auto_refresh": not processing and state.status.value in ("applying_change",),
    }
    return render(request, "dispute.html", ctx, staff=staff, status=status)


@router.post("/disputes/{case_id}/review", dependencies=[Depends(csrf_protect)])
async def review(
    case_id: str,
    request: Request,
    row: DisputeForConsoleReviewer,
    staff: DisputeReviewer,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    """One decision at the open level: the level comes from the form (the one the reviewer saw),
    so a level that moved on meanwhile is refused by the validator rather than silently applied to
    the next one."""
    from api.routes import disputes as disputes_api

    client = await get_temporal(request)
    form = await request.form()
    values = {
        "level": text(form, "level", 16),
        "action": text(form, "action", 16),
        "reason": text(form, "reason", 1200),
        "note": text(form, "note", 1200),
    }

    async def call() -> None:
        if values["level"] not in ("initial", "second", "final") or values["action"] not in ACTIONS:
            raise ApiError(422, "review.choice", "请选择审核决定：通过、不予通过或退回上一级")
        body = disputes_api.ReviewBody.model_validate({"reason": values["reason"], "note": values["note"]})
        await disputes_api.decide(
            dispute_id=case_id,
            level=values["level"],  # type: ignore[arg-type]  # checked just above
            action=values["action"],  # type: ignore[arg-type]
            case=row,
            staff=staff,
            temporal=client,
            decide=Decider(client, session, None),
            body=body,
        )

    async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        message = "；".join(v.rstrip("。") for v in errs.values()) if errs else message
        return await case_page(
            request, staff, session, client, row, form=form, decision_error=message, status=status
        )

    return await act_or_show(request, call, show, values, f"/console/cases/{case_id}?done={values['action']}")
