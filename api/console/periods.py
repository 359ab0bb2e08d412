"""The benefit period in the console (失业保险金发放): the period's page with its months,
payments, stops, suspensions and transfers, and the staff operations of issue 14 item 1 (stop,
suspend and resume, change of account, the transitional and continuation applications, transfer).

Everything goes through the periods API's route functions, so who may do what (role, region, the
reason required, the evidence checked) is exactly the API's rule and the workflow validator's;
a refusal shows the page again with the values kept and the validator's Chinese message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.console.forms import act_or_show, attached_documents, doc_kinds, document_refs, text
from api.console.web import ConsoleRoute, csrf_protect, render
from api.deps import get_session, get_temporal
from api.principals import (
    PeriodAccountClerk,
    PeriodCounter,
    PeriodForAccount,
    PeriodForCounter,
    PeriodForHolder,
    PeriodForStaff,
    PeriodForStopper,
    PeriodHolder,
    PeriodStopper,
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

#: The operations on the page: what each is called and who may do it (the API's aliases say the
#: same; this only decides which forms a staff member is shown).
OPERATIONS: dict[str, tuple[str, tuple[Role, ...]]] = {
    "stop": ("登记停发", (Role.REVIEWER, Role.SUPERVISOR)),
    "suspend": ("暂停发放", (Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR)),
    "resume": ("恢复发放", (Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR)),
    "account": ("变更收款账户", (Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR)),
    "transitional": ("受理过渡期发放申请", (Role.INTAKE_CLERK, Role.REVIEWER)),
    "continuation": ("受理续发申请", (Role.INTAKE_CLERK, Role.REVIEWER)),
    "transfer": ("转移发放地", (Role.REVIEWER, Role.SUPERVISOR)),
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


async def _operate(
    request: Request,
    op: str,
    row: CaseRecord,
    staff: StaffActor,
    session: AsyncSession,
    send: Callable[[dict[str, Any], Client], Awaitable[Any]],
) -> Response:
    """Read the form, run the API's route function, show the page again on a refusal."""
    client = await get_temporal(request)
    form = await request.form()
    values: dict[str, Any] = {
        k: text(form, k, 500) for k in ("reason", "stop_reason", "on", "account_no", "bank_name", "to_region")
    }
    values["op"] = op
    values["docs"] = attached_documents(form)

    async def call() -> None:
        await send(values, client)

    async def show(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        message = (
            "；".join(errs.values()) if errs and status == 422 and message.startswith("提交") else message
        )
        return await period_page(
            request, staff, session, client, row, form=form, error=message, status=status
        )

    return await act_or_show(request, call, show, values, f"/console/periods/{row.case_id}?done={op}")


def _body(values: dict[str, Any], *fields: str) -> dict[str, Any]:
    out: dict[str, Any] = {"reason": values["reason"], "evidence": document_refs(values["docs"])}
    for f in fields:
        if values.get(f):
            out[f] = values[f]
    return out


@router.post("/periods/{period_id}/stop", dependencies=[Depends(csrf_protect)])
async def stop(
    period_id: str, request: Request, row: PeriodForStopper, staff: PeriodStopper, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.StopBody.model_validate(_body(v, "on") | {"stop_reason": v["stop_reason"] or None})
        return await periods_api.stop(period_id, body, row, staff, session, client)

    return await _operate(request, "stop", row, staff, session, send)


@router.post("/periods/{period_id}/suspend", dependencies=[Depends(csrf_protect)])
async def suspend(
    period_id: str, request: Request, row: PeriodForHolder, staff: PeriodHolder, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.Evidence.model_validate(_body(v))
        return await periods_api.suspend(period_id, body, row, staff, session, client)

    return await _operate(request, "suspend", row, staff, session, send)


@router.post("/periods/{period_id}/resume", dependencies=[Depends(csrf_protect)])
async def resume(
    period_id: str, request: Request, row: PeriodForHolder, staff: PeriodHolder, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.ResumeBody.model_validate(_body(v))
        return await periods_api.resume(period_id, body, row, staff, session, client)

    return await _operate(request, "resume", row, staff, session, send)


@router.post("/periods/{period_id}/account", dependencies=[Depends(csrf_protect)])
async def account(
    period_id: str, request: Request, row: PeriodForAccount, staff: PeriodAccountClerk, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.AccountBody.model_validate(
            _body(v, "bank_name") | {"account_no": v["account_no"].replace(" ", "")}
        )
        return await periods_api.change_account(period_id, body, row, staff, session, client)

    return await _operate(request, "account", row, staff, session, send)


@router.post("/periods/{period_id}/transitional", dependencies=[Depends(csrf_protect)])
async def transitional(
    period_id: str, request: Request, row: PeriodForCounter, staff: PeriodCounter, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.Evidence.model_validate(_body(v))
        return await periods_api.transitional(period_id, body, row, staff, session, client)

    return await _operate(request, "transitional", row, staff, session, send)


@router.post("/periods/{period_id}/continuation", dependencies=[Depends(csrf_protect)])
async def continuation(
    period_id: str, request: Request, row: PeriodForCounter, staff: PeriodCounter, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.Evidence.model_validate(_body(v))
        return await periods_api.continuation(period_id, body, row, staff, session, client)

    return await _operate(request, "continuation", row, staff, session, send)


@router.post("/periods/{period_id}/transfer", dependencies=[Depends(csrf_protect)])
async def transfer(
    period_id: str, request: Request, row: PeriodForStopper, staff: PeriodStopper, session: Session
) -> Response:
    async def send(v: dict[str, Any], client: Client) -> Any:
        body = periods_api.TransferBody.model_validate(_body(v, "to_region"))
        return await periods_api.transfer(period_id, body, row, staff, session, client)

    return await _operate(request, "transfer", row, staff, session, send)
