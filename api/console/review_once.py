"""The console of a "review once, then pay once" case (the premium refund, the skill subsidy):
the reviewer's decision form handler and the case page's common context. Each type's module keeps
its route (path, principals in the signature) and its own page facts; the decision goes through
the type's API route function, so who may decide is exactly the API's and the validator's rule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.forms import act_or_show, text
from api.deps import get_temporal
from api.errors import ApiError
from api.review_once import OnceDecideBody
from api.temporal_ops import Decider
from models.enums import Role
from models.staff import StaffActor
from models.tables import CaseRecord

#: The type's API decision route: ``(case_id, row, body, staff, decider) -> receipt``.
DecideRoute = Callable[[str, CaseRecord, Any, StaffActor, Decider], Awaitable[Any]]
#: The type's console case page: ``(request, staff, client, row, *, form, decision_error, status)``.
CasePage = Callable[..., Awaitable[Response]]


def decision_context(
    request: Request,
    staff: StaffActor,
    state: Any,
    done: Mapping[str, str],
    form: dict[str, Any] | None,
    *,
    processing: bool = False,
) -> dict[str, Any]:
    """What every review-once case page shows of its decision: the round, the form, whether this
    staff member may decide now, the message after a decision, and whether the page refreshes."""
    rnd = state.current_round
    return {
        "state": state,
        "rnd": rnd,
        "report": rnd.report if rnd else None,
        "processing": processing,
        "may_decide": not processing and state.status.value == "under_review" and staff.has(Role.REVIEWER),
        "form": {"action": "", "reason": "", "remedy": "", "note": ""} | (form or {}),
        "done_message": done.get(request.query_params.get("done", "")),
        "auto_refresh": not processing and state.status.value in ("checking", "approved"),
    }


async def decide_from_form(
    request: Request,
    row: CaseRecord,
    staff: StaffActor,
    session: AsyncSession,
    *,
    body_type: type[OnceDecideBody],
    route: DecideRoute,
    page: CasePage,
    done: Mapping[str, str],
    choose_zh: str,
) -> Response:
    """The reviewer's decision for the round the page showed (a later round refuses it), sent
    through the type's API route; a refusal shows the page again with the form and the message."""
    client = await get_temporal(request)
    form = await request.form()
    values = {k: text(form, k, 1200) for k in ("action", "reason", "remedy", "note", "round")}

    async def call() -> None:
        if values["action"] not in done:
            raise ApiError(422, "review.invalid", choose_zh)
        body = body_type.model_validate(
            {k: values[k] for k in ("action", "reason", "remedy", "note")}
            | {"round": values["round"] or None}
        )
        await route(row.case_id, row, body, staff, Decider(client, session, None))

    async def again(form: dict[str, Any], message: str, errs: dict[str, str], status: int) -> Response:
        message = "；".join(v.rstrip("。") for v in errs.values()) if errs else message
        return await page(request, staff, client, row, form=form, decision_error=message, status=status)

    done_url = f"/console/cases/{row.case_id}?done={values['action']}"
    return await act_or_show(request, call, again, values, done_url)
