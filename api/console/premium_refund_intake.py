"""Counter intake of a medical-premium refund (医保费返还窗口受理, issue 15).

The clerk enters the person, when he applies (after the contribution year ended, naming the year;
or after his benefit period ended), the months and self-paid amounts on his receipts, and uploads
the receipts (stored by SHA-256 through the console's document upload). The form is checked with
the API's own schema (``RefundApplicationIn``) and submitted through the API's ``create_refund``,
so a field refused here is refused with the API's Chinese message and the case started is the one
the API would start. The clerk lands on the case page, where the reviewer later sees the month by
month comparison with the medical-insurance system's record and decides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from api.console.forms import UPLOAD_ONLY_KINDS, attached_documents, field_errors, text
from api.console.intake import counties, wait_for_projection
from api.console.web import ConsoleRoute, csrf_protect, redirect, render, settings_of
from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.principals import Clerk
from api.routes import premium_refunds as api
from core.parameters import parameters_in_force
from models.case import BUSINESS_TZ
from models.premium_refund import BASIS_LABELS
from models.staff import StaffActor
from policy.errors import PolicyError
from policy.refund import last_ended_year

router = APIRouter(route_class=ConsoleRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
FIELDS = ("id_number", "name", "phone", "region_code", "basis", "year", "bank_account", "bank_name")
RECEIPT_KIND = "premium_receipt"
#: Month rows offered on the form (a contribution year, or a period of up to 24 months in parts).
MONTH_ROWS = 12
MAX_MONTH_ROWS = 36


def _claimed_rows(form: FormData) -> list[dict[str, str]]:
    """The (month, amount) rows as typed, blank rows dropped, so a re-rendered form keeps them."""
    months = [v.strip()[:7] for v in form.getlist("claim_month") if isinstance(v, str)]
    amounts = [v.strip()[:14] for v in form.getlist("claim_amount") if isinstance(v, str)]
    rows = [{"month": m, "amount": a} for m, a in zip(months, amounts, strict=False) if m or a]
    return rows[:MAX_MONTH_ROWS]


def _page(
    request: Request, staff: StaffActor, values: dict[str, Any], *, errors: dict[str, str] | None = None,
    message: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    rows = list(values.get("claimed", []))
    rows += [{"month": "", "amount": ""}] * max(0, MONTH_ROWS - len(rows))
    return render(
        request,
        "intake_premium_refund.html",
        {
            "nav": "intake_refund",
            "v": values,
            "rows": rows,
            "errors": errors or {},
            "message": message,
            "counties": counties(staff),
            "bases": BASIS_LABELS,
            "docs": values.get("docs", []),
            "upload_id": "receipt",
            "doc_kinds": {RECEIPT_KIND: UPLOAD_ONLY_KINDS[RECEIPT_KIND]},
        },
        staff=staff,
        status=status,
    )


def _default_year(request: Request) -> str:
    today = datetime.now(BUSINESS_TZ).date()
    try:
        return str(last_ended_year(today, parameters_in_force(settings_of(request).params_dir)))
    except PolicyError:
        return ""


@router.get("/intake/premium-refund")
async def intake_form(request: Request, staff: Clerk) -> Response:
    own = counties(staff)
    values: dict[str, Any] = dict.fromkeys(FIELDS, "") | {
        "docs": [],
        "claimed": [],
        "basis": "year_end",
        "year": _default_year(request),
        "region_code": staff.region_code if any(r.code == staff.region_code for r in own) else "",
    }
    return _page(request, staff, values)


@router.post("/intake/premium-refund", dependencies=[Depends(csrf_protect)])
async def intake_submit(request: Request, staff: Clerk, session: Session) -> Response:
    """Checked with the API's schema and started through the API's ``create_refund``; a refusal
    (no receipts, too early, outside the region) shows the form again with the API's message."""
    form = await request.form()
    values: dict[str, Any] = {k: text(form, k, 200) for k in FIELDS}
    values["id_number"] = values["id_number"].upper()
    values["docs"] = attached_documents(form)
    values["claimed"] = _claimed_rows(form)
    data: dict[str, Any] = {k: v for k, v in values.items() if k not in ("docs", "claimed") and v != ""}
    if values["basis"] != "year_end":
        data.pop("year", None)
    data["claimed"] = values["claimed"]
    data["receipts"] = [d for d in values["docs"] if d["kind"] == RECEIPT_KIND]
    try:
        body = api.RefundApplicationIn.model_validate(data)
    except ValidationError as e:
        errors = field_errors(e)
        return _page(
            request,
            staff,
            values,
            errors=errors,
            message=f"有{len(errors)}项内容需要修改，请按提示更正",
            status=422,
        )
    client = await get_temporal(request)
    try:
        created = await api.create_refund(
            body, request.state.principal, session, settings_of(request), client, request.app.state.db
        )
    except ApiError as e:
        return _page(
            request, staff, values, errors=e.fields or {}, message=e.message_zh, status=e.status_code
        )
    await wait_for_projection(request.app.state.db, created.case_id)
    return redirect(request, f"/console/cases/{created.case_id}")
