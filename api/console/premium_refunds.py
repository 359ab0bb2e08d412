"""Medical-premium refunds in the console: the case page (month by month: what he claimed, what
the medical-insurance system holds, the standard, the refund and why not), the reviewer's decision,
and the supervisors' overview.

Everything goes through the refund API's route functions (``refund_detail``, ``decide``,
``overview``), so who may see and decide is exactly the API's and the workflow validator's rule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.console.forms import act_or_show, text
from api.console.web import ConsoleRoute, csrf_protect, render, settings_of
from api.deps import get_db, get_session, get_temporal
from api.errors import ApiError
from api.principals import Reviewer, Supervisor
from api.routes import premium_refunds as api
from core.db import Database
from models.enums import Role
from models.premium_refund import BASIS_LABELS
from models.staff import StaffActor
from models.tables import CaseRecord

router = APIRouter(route_class=ConsoleRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
DONE = {
    "approve": "已审核通过，返还款将发放至申请人账户",
    "reject": "已作出不予返还决定，并将告知申请人理由和处置方式",
}


async def case_page(
    request: Request,
    staff: StaffActor,
    client: Client,
    row: CaseRecord,
    *,
    form: dict[str, Any] | None = None,
    decision_error: str | None = None,
    status: int = 200,
) -> Response:
    detail = await api.refund_detail(row.case_id, row, staff, client)
    state = detail.state
    rnd = state.current_round
    ctx = {
        "row": row,
        "state": state,
        "rnd": rnd,
        "report": rnd.report if rnd else None,
        "status_label": detail.status_label,
        "basis": BASIS_LABELS.get(state.basis, state.basis),
        "may_decide": state.status.value == "under_review" and staff.has(Role.REVIEWER),
        "form": {"action": "", "reason": "", "remedy": "", "note": ""} | (form or {}),
        "decision_error": decision_error,
        "done_message": DONE.get(request.query_params.get("done", "")),
        "auto_refresh": state.status.value in ("checking", "approved"),
    }
    return render(request, "premium_refund.html", ctx, staff=staff, status=status)


@router.post("/premium-refunds/{case_id}/decide", dependencies=[Depends(csrf_protect)])
async def decide(
    case_id: str, request: Request, row: api.RefundForReviewer, staff: Reviewer, session: Session
) -> Response:
    """The reviewer's decision for the round the page showed (a later round refuses it)."""
    client = await get_temporal(request)
    form = await request.form()
    values = {k: text(form, k, 1200) for k in ("action", "reason", "remedy", "note", "round")}

    async def call() -> None:
        if values["action"] not in DONE:
            raise ApiError(422, "review.invalid", "请选择审核决定：通过或不予返还")
        body = api.DecideBody.model_validate(
            {k: values[k] for k in ("action", "reason", "remedy", "note")}
            | {"round": values["round"] or None}
        )
        await api.decide(case_id, row, body, staff, session, client)

    async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        message = "；".join(errs.values()) if errs else message
        return await case_page(request, staff, client, row, form=form, decision_error=message, status=status)

    return await act_or_show(request, call, show, values, f"/console/cases/{case_id}?done={values['action']}")


@router.get("/premium-refunds/overview")
async def overview(request: Request, staff: Supervisor, db: Annotated[Database, Depends(get_db)]) -> Response:
    """The supervisors' view: who may claim a refund for the year that ended (people, months,
    estimated amounts by league) and how many months wait for a standard to be entered."""
    view = await api.overview(staff, settings_of(request), db)
    return render(request, "premium_refund_overview.html", {"view": view}, staff=staff)
