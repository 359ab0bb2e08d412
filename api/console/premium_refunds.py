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

from api.console.review_once import decide_from_form, decision_context
from api.console.web import ConsoleRoute, csrf_protect, render, settings_of
from api.deps import get_db, get_session
from api.principals import Reviewer, Supervisor
from api.routes import premium_refunds as api
from core.db import Database
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
    ctx = decision_context(request, staff, detail.state, DONE, form) | {
        "row": row,
        "status_label": detail.status_label,
        "basis": BASIS_LABELS.get(detail.state.basis, detail.state.basis),
        "decision_error": decision_error,
    }
    return render(request, "premium_refund.html", ctx, staff=staff, status=status)


@router.post("/premium-refunds/{case_id}/decide", dependencies=[Depends(csrf_protect)])
async def decide(
    case_id: str, request: Request, row: api.RefundForReviewer, staff: Reviewer, session: Session
) -> Response:
    """The reviewer's decision for the round the page showed (a later round refuses it)."""
    return await decide_from_form(
        request,
        row,
        staff,
        session,
        body_type=api.DecideBody,
        route=api.decide,
        page=case_page,
        done=DONE,
        choose_zh="请选择审核决定：通过或不予返还",
    )


@router.get("/premium-refunds/overview")
async def overview(request: Request, staff: Supervisor, db: Annotated[Database, Depends(get_db)]) -> Response:
    """The supervisors' view: who may claim a refund for the year that ended (people, months,
    estimated amounts by league) and how many months wait for a standard to be entered."""
    view = await api.overview(staff, settings_of(request), db)
    return render(request, "premium_refund_overview.html", {"view": view}, staff=staff)
