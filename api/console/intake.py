"""Counter intake of a benefit claim (窗口受理).

The form is checked with the API's own request schema (``ClaimApplicationIn``: ID checksum,
credit-code check character, county-level region) and submitted through the API's
``create_claim``, so a field refused here is refused with exactly the API's Chinese message,
and a claim taken in here is the same claim the API would start."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.forms import attached_documents, doc_kinds, field_errors, text
from api.console.web import ConsoleRoute, csrf_protect, redirect, render, settings_of
from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.principals import Clerk
from api.routes.claims import create_claim
from api.schemas import ClaimApplicationIn
from core.db import Database
from models.rules import RetirementCategory
from models.staff import StaffActor
from models.tables import CaseRecord
from policy.regions import Region, descendants, get_region

router = APIRouter(route_class=ConsoleRoute)

FIELDS = (
    "id_number",
    "name",
    "phone",
    "bank_account",
    "bank_name",
    "region_code",
    "employer_credit_code",
    "separation_date",
    "retirement_category",
)
RETIREMENT_LABELS = {
    RetirementCategory.MALE.value: "男性（原法定退休年龄60周岁）",
    RetirementCategory.FEMALE_55.value: "女性干部（原法定退休年龄55周岁）",
    RetirementCategory.FEMALE_50.value: "女性职工（原法定退休年龄50周岁）",
}
PROJECTION_WAIT_SECONDS = 5.0


def counties(staff: StaffActor) -> list[Region]:
    """Where this clerk may take in a claim: the county-level divisions of their scope."""
    regions = [get_region(staff.region_code), *descendants(staff.region_code)]
    return [r for r in regions if r.level == "county"]


def _render_form(
    request: Request,
    staff: StaffActor,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "intake.html",
        {
            "nav": "intake",
            "v": values,
            "errors": errors or {},
            "message": message,
            "counties": counties(staff),
            "retirement": RETIREMENT_LABELS,
            "doc_kinds": doc_kinds(),
        },
        staff=staff,
        status=status,
    )


@router.get("/intake")
async def intake_form(request: Request, staff: Clerk) -> Response:
    own = get_region(staff.region_code)
    values: dict[str, Any] = dict.fromkeys(FIELDS, "") | {"docs": []}
    values["region_code"] = own.code if own.level == "county" else ""
    return _render_form(request, staff, values)


async def wait_for_projection(db: Database, case_id: str, limit: float = PROJECTION_WAIT_SECONDS) -> bool:
    """The workflow writes the read model a moment after it starts; wait for it, so the case page
    the clerk lands on is never a 404."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while loop.time() < end:
        async with db.session() as s:
            if await s.get(CaseRecord, case_id) is not None:
                return True
        await asyncio.sleep(0.05)
    return False


@router.post("/intake", dependencies=[Depends(csrf_protect)])
async def intake_submit(
    request: Request,
    staff: Clerk,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    form = await request.form()
    values: dict[str, Any] = {k: text(form, k, 200) for k in FIELDS}
    values["id_number"] = values["id_number"].upper()
    values["docs"] = attached_documents(form)
    data: dict[str, Any] = {k: v for k, v in values.items() if k != "docs" and v != ""}
    data["documents"] = values["docs"]
    try:
        body = ClaimApplicationIn.model_validate(data)
    except ValidationError as e:
        errors = field_errors(e)
        message = f"有{len(errors)}项内容需要修改，请按提示更正"
        return _render_form(request, staff, values, errors=errors, message=message, status=422)
    client = await get_temporal(request)
    try:
        created = await create_claim(body, request.state.principal, session, settings_of(request), client)
    except ApiError as e:
        errors = e.fields or {}
        return _render_form(request, staff, values, errors=errors, message=e.message_zh, status=e.status_code)
    await wait_for_projection(request.app.state.db, created.case_id)
    return redirect(request, f"/console/cases/{created.case_id}?done=intake")
