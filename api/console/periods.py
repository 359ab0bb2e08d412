"""The benefit period in the console (失业保险金发放): the period's page with its months,
payments, stops, suspensions and transfers, and the staff operations of issue 14 item 1 (stop,
suspend and resume, change of account, the transitional and continuation applications, transfer).

Everything goes through the periods API's route functions, so who may do what (role, region, the
reason required, the evidence checked) is exactly the API's rule and the workflow validator's;
a refusal shows the page again with the values kept and the validator's Chinese message."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.console.forms import act_or_show, attached_documents, doc_kinds, document_refs, text
from api.console.web import ConsoleRoute, csrf_protect, render
from api.deps import get_session, get_temporal
from api.principals import (
    PeriodForStaff,
    StaffUser,
)
from api.routes import periods as periods_api
from models.benefit import BASIS_LABELS, PERIOD_STATUS_LABELS, PeriodState, PeriodStatus, StopReason
from models.enums import Role
from models.staff import StaffActor
from models.tables import CaseRecord
from policy.regions import Region, descendants

router = APIRouter(route_class=ConsoleRoute)
Session = Annotated[AsyncSession, Depends(get_session)]

#: Who may start each operation: only which forms a staff member is shown (the routes' principals,
#: the same roles, and the workflow's validators decide).
ROLES: dict[str, tuple[Role, ...]] = {
    "stop": (Role.REVIEWER, Role.SUPERVISOR),
    "suspend": (Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR),
    "resume": (Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR),
    "account": (Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR),
    "transitional": (Role.INTAKE_CLERK, Role.REVIEWER),
    "continuation": (Role.INTAKE_CLERK, Role.REVIEWER),
    "transfer": (Role.REVIEWER, Role.SUPERVISOR),
}
OPERATIONS: dict[str, tuple[str, tuple[Role, ...]]] = {
    op.name: (op.what_zh, ROLES[op.name]) for op in periods_api.OPERATIONS
}
MONTH_STATUS_LABELS = {"scheduled": "待发放", "paid": "已发放", "stopped": "已停发"}
STOP_REASONS = {r.value: r.label_zh for r in StopReason}


def _counties() -> list[Region]:
    return [r for r in descendants("150000") if r.level == "county"]


def allowed(staff: StaffActor, state: PeriodState) -> dict[str, str]:
    """The operations this staff member may start on the period as it stands."""
    if state.status == PeriodStatus.CLOSED:
        return {}
    out = {k: label for k, (label, roles) in OPERATIONS.items() if staff.has(*roles, Role.ADMIN)}
    if not state.open_suspensions:
        out.pop("resume", None)
    if state.status != PeriodStatus.AWAITING_APPLICATION:
        out.pop("transitional", None)
    if state.stops or state.pending_stops:
        out.pop("stop", None)
        out.pop("transfer", None)
    return out


async def period_page(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    client: Client,
    row: CaseRecord,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    from api.console import timeline
    from api.console.cases import ACTOR_KIND_LABELS, STAGE_LABELS, temporal_ui_link

    state = await periods_api.get_period(row.case_id, row, client)
    done = request.query_params.get("done", "")
    entries = await timeline.entries(request, staff, session, row.case_id, state.timeline)
    ctx = {
        "row": row,
        "state": state,
        "status_label": PERIOD_STATUS_LABELS[state.status],
        "operations": allowed(staff, state),
        "form": {"op": "", "reason": "", "stop_reason": "", "on": "", "account_no": "", "bank_name": ""}
        | {"to_region": "", "docs": []}
        | (form or {}),
        "error": error,
        "done_message": f"已办理：{OPERATIONS[done][0]}" if done in OPERATIONS else None,
        "stop_reasons": STOP_REASONS,
        "month_labels": MONTH_STATUS_LABELS,
        "basis_labels": BASIS_LABELS,
        "counties": _counties(),
        "may_upload": staff.has(Role.INTAKE_CLERK, Role.ADMIN),
        "doc_kinds": doc_kinds(),
        "timeline": entries,
        "labels": {"stage": STAGE_LABELS, "actor": ACTOR_KIND_LABELS},
        "temporal_link": temporal_ui_link(request, row.case_id),
    }
    return render(request, "period.html", ctx, staff=staff, status=status)


@router.get("/periods/{period_id}")
async def page(
    period_id: str, request: Request, row: PeriodForStaff, staff: StaffUser, session: Session
) -> Response:
    return await period_page(request, staff, session, await get_temporal(request), row)


FORM_FIELDS = ("stop_reason", "on", "account_no", "bank_name", "to_region")


def _console_route(op: periods_api.Operation) -> None:
    """The console's form for one operation: read the form, run the API's route function (so the
    rules are the API's), show the page again with the values kept on a refusal."""

    async def handler(
        period_id: str, request: Request, row: CaseRecord, staff: StaffActor, session: Session
    ) -> Response:
        client = await get_temporal(request)
        form = await request.form()
        values: dict[str, Any] = {k: text(form, k, 500) for k in ("reason", *FORM_FIELDS)}
        values["account_no"] = values["account_no"].replace(" ", "")
        values["op"] = op.name
        values["docs"] = attached_documents(form)

        async def call() -> None:
            data = {k: values[k] for k in FORM_FIELDS if values[k]}
            body = op.body.model_validate(
                data | {"reason": values["reason"], "evidence": document_refs(values["docs"])}
            )
            await periods_api.ENDPOINTS[op.name](period_id, body, row, staff, session, client)

        async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
            if errs and message.startswith("提交"):
                message = "；".join(errs.values())
            return await period_page(
                request, staff, session, client, row, form=form, error=message, status=status
            )

        return await act_or_show(
            request, call, show, values, f"/console/periods/{row.case_id}?done={op.name}"
        )

    # The operation's principals, as the API route declares them (role, region, own case).
    handler.__annotations__ |= {"row": op.case, "staff": op.staff}
    handler.__name__ = handler.__qualname__ = op.name
    router.post(f"/periods/{{period_id}}/{op.name}", dependencies=[Depends(csrf_protect)])(handler)


for _op in periods_api.OPERATIONS:
    _console_route(_op)
