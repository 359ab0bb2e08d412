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
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.console.forms import attached_documents, doc_kinds, field_errors, text
from api.console.intake import counties, wait_for_projection
from api.console.review_once import decide_from_form, decision_context
from api.console.web import ConsoleRoute, csrf_protect, redirect, render, settings_of
from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.principals import Clerk, Reviewer, StaffUser
from api.routes import subsidies as api
from models.staff import StaffActor
from models.tables import CaseRecord

router = APIRouter(route_class=ConsoleRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
LEVELS = {"junior": "初级（五级）", "intermediate": "中级（四级）", "senior": "高级（三级）"}
KINDS = {"insured_employee": "参保职工", "benefit_recipient": "领取失业保险金人员"}
CERTIFICATE = {"found": "已查到，信息一致", "not_found": "未查到", "mismatch": "信息不一致"}
FIELDS = (
    "id_number",
    "name",
    "phone",
    "applicant_kind",
    "region_code",
    "cert_no",
    "occupation_code",
    "occupation",
    "level",
    "issued_on",
    "bank_account",
    "bank_name",
    "employer_credit_code",
)
FIT_KIND = "job_fit_statement"
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
    from api.console.cases import still_processing

    detail = await api.subsidy_detail(row.case_id, row, staff, client)
    processing = await still_processing(client, row.case_id)
    ctx = decision_context(request, staff, detail.state, DONE, form, processing=processing) | {
        "row": row,
        "status_label": detail.status_label,
        "decision_error": decision_error,
        "levels": LEVELS,
        "kinds": KINDS,
        "certificate": CERTIFICATE,
    }
    return render(request, "subsidy.html", ctx, staff=staff, status=status)


@router.post("/subsidies/{case_id}/decide", dependencies=[Depends(csrf_protect)])
async def decide(
    case_id: str, request: Request, row: api.SubsidyForReviewer, staff: Reviewer, session: Session
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
        choose_zh="请选择审核决定：通过或不予通过",
    )


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


# --- counter intake (窗口受理) ---------------------------------------------------------------------


def _intake_page(
    request: Request, staff: StaffActor, values: dict[str, Any], *, errors: dict[str, str] | None = None,
    message: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    return render(
        request,
        "intake_subsidy.html",
        {
            "nav": "intake_subsidy",
            "v": values,
            "errors": errors or {},
            "message": message,
            "counties": counties(staff),
            "levels": LEVELS,
            "kinds": KINDS,
            "docs": values.get("docs", []),
            "upload_id": "fit",
            "doc_kinds": {FIT_KIND: "证岗相适材料（用人单位盖章）"} | doc_kinds(),
        },
        staff=staff,
        status=status,
    )


@router.get("/intake/subsidy")
async def intake_form(request: Request, staff: Clerk) -> Response:
    values: dict[str, Any] = dict.fromkeys(FIELDS, "") | {"docs": [], "applicant_kind": "insured_employee"}
    return _intake_page(request, staff, values)


@router.post("/intake/subsidy", dependencies=[Depends(csrf_protect)])
async def intake_submit(request: Request, staff: Clerk, session: Session) -> Response:
    """Checked with the API's own schema and started through the API's ``create_subsidy``."""
    form = await request.form()
    values: dict[str, Any] = {k: text(form, k, 200) for k in FIELDS} | {"docs": attached_documents(form)}
    data: dict[str, Any] = {k: v for k, v in values.items() if k != "docs" and v != ""}
    fit = [d for d in values["docs"] if d["kind"] == FIT_KIND]
    if fit:
        data["fit_statement"] = fit[-1]
    try:
        body = api.SubsidyApplicationIn.model_validate(data)
    except ValidationError as e:
        errors = field_errors(e)
        return _intake_page(
            request,
            staff,
            values,
            errors=errors,
            message=f"有{len(errors)}项内容需要修改，请按提示更正",
            status=422,
        )
    client = await get_temporal(request)
    try:
        created = await api.create_subsidy(
            body, request.state.principal, session, settings_of(request), client, request.app.state.db
        )
    except ApiError as e:
        return _intake_page(
            request, staff, values, errors=e.fields or {}, message=e.message_zh, status=e.status_code
        )
    await wait_for_projection(request.app.state.db, created.case_id)
    return redirect(request, f"/console/cases/{created.case_id}")
