"""Skill-upgrade subsidies in the console: the case page with the automatic checks and the rule
versions that decided them, the reviewer's decision, an employer batch's rows, and the
supervisor's list of open anomaly alerts.

Everything goes through the subsidy API's route functions (``subsidy_detail``, ``decide``,
``batch_page``, ``open_alerts``), so who may see and decide is exactly the API's and the workflow
validator's rule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.console.forms import act_or_show, text
from api.console.web import ConsoleRoute, csrf_protect, render
from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.principals import Reviewer, StaffUser
from api.routes import subsidies as api
from models.enums import Role
from models.staff import StaffActor
from models.tables import CaseRecord

router = APIRouter(route_class=ConsoleRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
LEVELS = {"junior": "初级（五级）", "intermediate": "中级（四级）", "senior": "高级（三级）"}
KINDS = {"insured_employee": "参保职工", "benefit_recipient": "领取失业保险金人员"}
CERTIFICATE = {"found": "已查到，信息一致", "not_found": "未查到", "mismatch": "信息不一致"}
DONE = {
    "approve": "已审核通过，补贴将发放至申请人账户",
    "reject": "已作出不予通过决定，并将告知申请人理由和处置方式",
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
    detail = await api.subsidy_detail(row.case_id, row, staff, client)
    state = detail.state
    rnd = state.current_round
    ctx = {
        "row": row,
        "state": state,
        "rnd": rnd,
        "report": rnd.report if rnd else None,
        "status_label": detail.status_label,
        "may_decide": state.status.value == "under_review" and staff.has(Role.REVIEWER),
        "form": {"action": "", "reason": "", "remedy": "", "note": ""} | (form or {}),
        "decision_error": decision_error,
        "done_message": DONE.get(request.query_params.get("done", "")),
        "levels": LEVELS,
        "kinds": KINDS,
        "certificate": CERTIFICATE,
        "auto_refresh": state.status.value in ("checking", "approved"),
    }
    return render(request, "subsidy.html", ctx, staff=staff, status=status)


@router.post("/subsidies/{case_id}/decide", dependencies=[Depends(csrf_protect)])
async def decide(
    case_id: str, request: Request, row: api.SubsidyForReviewer, staff: Reviewer, session: Session
) -> Response:
    """The reviewer's decision for the round the page showed (a later round refuses it)."""
    client = await get_temporal(request)
    form = await request.form()
    values = {k: text(form, k, 1200) for k in ("action", "reason", "remedy", "note", "round")}

    async def call() -> None:
        if values["action"] not in DONE:
            raise ApiError(422, "review.invalid", "请选择审核决定：通过或不予通过")
        body = api.DecideBody.model_validate(
            {k: values[k] for k in ("action", "reason", "remedy", "note")}
            | {"round": values["round"] or None}
        )
        await api.decide(case_id, row, body, staff, session, client)

    async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        message = "；".join(errs.values()) if errs else message
        return await case_page(request, staff, client, row, form=form, decision_error=message, status=status)

    return await act_or_show(request, call, show, values, f"/console/cases/{case_id}?done={values['action']}")


@router.get("/subsidies/batches/{batch_id}")
async def batch(batch_id: str, request: Request, staff: StaffUser, session: Session) -> Response:
    """An employer's batch as filed: each row's case and state, or why it was refused."""
    principal = request.state.principal
    view = await api.batch_page(batch_id, principal, session)
    return render(request, "subsidy_batch.html", {"batch": view}, staff=staff)


@router.get("/subsidies/alerts")
async def alerts(request: Request, staff: api.AlertStaff, session: Session) -> Response:
    """The supervisor view: open anomaly alerts of the staff member's region."""
    items = await api.open_alerts(staff, session)
    return render(request, "subsidy_alerts.html", {"alerts": items, "nav": "subsidy_alerts"}, staff=staff)
