"""Calling workflows from the API: the one way to send a staff decision (a workflow Update), with
retry when the server says "Workflow is busy" (temporal-notes §11.5), an idempotency key that
makes a retried decision return its first receipt, and ONE table from a workflow's refusal to an
HTTP status, so the same refusal answers the same status and code on every case type."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import get_session, get_temporal
from api.errors import ApiError
from api.params import IdempotencyKey
from models.case import DecisionReceipt
from models.tables import CaseRecord

log = logging.getLogger("uiflow.api.temporal")

T = TypeVar("T")
BUSY_ATTEMPTS = 6
# How long a decision waits for a case that is still applying the decision before it.
DESK_WAIT_S = 3.0
DESK_FIRST_WAIT_S = 0.02
DESK_MAX_STEP_S = 0.4
# How long a route that shows the case's state after a decision waits for the case to apply it.
SETTLE_WAIT_S = 3.0

# A refusal's stable code is ``<area>.<reason>``; the reason alone decides the status, so a wrong
# role is 403 whether a claim, a dispute or a benefit period refused it.
REASON_STATUS: dict[str, int] = {
    **dict.fromkeys(("role", "region", "own_case", "intake", "separation", "kind"), 403),
    **dict.fromkeys(
        ("wrong_level", "wrong_round", "stale", "busy", "closed", "decided", "stage", "conflict"), 409
    ),
    **dict.fromkeys(("reason_required", "note_required", "invalid"), 422),
    "not_found": 404,
}
UNKNOWN_REASON_STATUS = 409
# "The decision is already taken / the case is closed" is one refusal whoever says it: a running
# case's workflow (the review kit's desk, ``DecisionDesk.check_undecided``, on every type) and the
# API once the case has finished (``_finished_case_error`` below) both answer ``case.decided``.
DECIDED_CODE = "case.decided"
# What a refusal without a stable code (a bare exception type such as "ValueError") is called.
GENERIC_REFUSAL_CODE = "decision.refused"

# Statuses of a workflow that has finished for good: an Update can no longer reach it.
_FINISHED = {
    WorkflowExecutionStatus.COMPLETED: "已办结",
    WorkflowExecutionStatus.FAILED: "已终止处理",
    WorkflowExecutionStatus.CANCELED: "已撤销",
    WorkflowExecutionStatus.TERMINATED: "已终止处理",
    WorkflowExecutionStatus.TIMED_OUT: "已超时办结",
}


def refusal_status(code: str) -> int:
    """The HTTP status of a refusal code: its reason (after the last dot) looked up in the table."""
    return REASON_STATUS.get(code.rsplit(".", 1)[-1], UNKNOWN_REASON_STATUS)


def refusal_error(cause: BaseException | None) -> ApiError:
    """A workflow's refusal as the API's structured error: the stable code passed through, the
    validator's Chinese message as it was worded."""
    if isinstance(cause, ApplicationError):
        code = cause.type if cause.type and "." in cause.type else GENERIC_REFUSAL_CODE
        return ApiError(refusal_status(code), code, cause.message or "该操作未被接受")
    return ApiError(UNKNOWN_REASON_STATUS, GENERIC_REFUSAL_CODE, "该操作未被接受，请刷新后重试")


def _busy(e: RPCError) -> bool:
    return e.status == RPCStatusCode.RESOURCE_EXHAUSTED or "busy" in str(e).lower()


def _unavailable(e: RPCError) -> ApiError:
    return ApiError(503, "temporal.unavailable", "工作流服务暂时不可用，请稍后再试")


async def _retry_busy(fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn``, again with backoff while the server says the workflow is busy."""
    delay = 0.1
    for attempt in range(BUSY_ATTEMPTS):
        try:
            return await fn()
        except RPCError as e:
            if not _busy(e) or attempt == BUSY_ATTEMPTS - 1:
                raise
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


async def call_workflow(fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` (a query or signal on a handle) and map failures to ``ApiError``."""
    try:
        return await _retry_busy(fn)
    except WorkflowUpdateFailedError as e:
        raise refusal_error(e.cause) from e
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "case.not_found", "未找到该案件") from e
        if "already completed" in str(e).lower() or e.status == RPCStatusCode.FAILED_PRECONDITION:
            raise ApiError(409, "case.closed", "该案件已办结，不能再作操作") from e
        raise _unavailable(e) from e


def _desk_busy(e: WorkflowUpdateFailedError) -> bool:
    cause = e.cause
    return isinstance(cause, ApplicationError) and (cause.type or "").endswith(".busy")


async def _while_desk_busy(send: Callable[[], Awaitable[T]]) -> T:
    """Send a decision again, for up to ``DESK_WAIT_S``, while the case refuses it because it is
    still applying the decision before (``<area>.busy``).

    Why: a decision is answered when accepted and applied just after (issue 19), so a client that
    sends the next level's decision as soon as it has the receipt (a second reviewer at the next
    desk, a script) would otherwise meet a busy case for the few milliseconds that takes. Waiting
    here keeps that a non-event; a case busy for longer (a step retrying against a system that is
    down) still answers 409 ``review.busy``. Safe: a refused Update leaves nothing in the history,
    and the retry is the same Update id."""
    delay, waited = DESK_FIRST_WAIT_S, 0.0
    while True:
        try:
            return await send()
        except WorkflowUpdateFailedError as e:
            if not _desk_busy(e) or waited >= DESK_WAIT_S:
                raise
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, DESK_MAX_STEP_S)


async def settled(client: Client, case_id: str, limit: float = SETTLE_WAIT_S) -> None:
    """Until the case has applied the decision it accepted (``decision_processing`` is false), for
    at most ``limit`` seconds; a case that cannot answer counts as settled.

    Why: a decision's Update answers on acceptance and the case applies it just after (issue 19).
    A route that answers with the case's state as well as the receipt (a service request's action,
    a dispute's level) waits for that, so the state it shows includes the decision it reports."""
    handle = client.get_workflow_handle(case_id)
    delay, waited = DESK_FIRST_WAIT_S, 0.0
    while waited < limit:
        try:
            if not await handle.query("decision_processing", result_type=bool):
                return
        except (RPCError, WorkflowQueryFailedError):
            return
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, DESK_MAX_STEP_S)


def update_id_for(case_id: str, update_name: str, idempotency_key: str | None) -> str:
    """The Update id: from the client's idempotency key when it sent one (prefixed by the case and
    the decision, so a key is unique per case), else a fresh one. Either way one id for every
    busy retry, so the server deduplicates a retry after a lost answer."""
    if idempotency_key:
        return f"{case_id}/{update_name}/{idempotency_key}"
    return f"{case_id}/{update_name}/{uuid.uuid4()}"


async def execute_update(
    client: Client,
    case_id: str,
    update: Any,
    arg: Any,
    *,
    session: AsyncSession,
    idempotency_key: str | None = None,
    result_type: type[T],
) -> T:
    """Send one decision. A refusal becomes the structured error of the one table; an Update sent
    to a finished case answers 409 with what was decided (Temporal itself says NOT_FOUND); a
    retried key returns the first receipt, even when that decision finished the case."""
    handle = client.get_workflow_handle(case_id)
    name = getattr(update, "__temporal_update_definition", None)
    update_name = name.name if name is not None and name.name else getattr(update, "__name__", str(update))
    update_id = update_id_for(case_id, update_name, idempotency_key)
    try:
        return await _while_desk_busy(
            lambda: _retry_busy(
                lambda: handle.execute_update(update, arg, id=update_id, result_type=result_type)
            )
        )
    except WorkflowUpdateFailedError as e:
        raise refusal_error(e.cause) from e
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise _unavailable(e) from e
        if idempotency_key:
            earlier = await _earlier_outcome(client, handle, update_id, result_type)
            if earlier is not None:
                return earlier
        raise await _finished_case_error(handle, session) from e


async def _earlier_outcome(
    client: Client, handle: WorkflowHandle[Any, Any], update_id: str, result_type: type[T]
) -> T | None:
    """The result of an Update with this id in the case's history (the decision that finished the
    case, retried by a client that never saw its answer)."""
    try:
        history = await handle.fetch_history()
    except RPCError:
        return None
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            continue
        attrs = event.workflow_execution_update_completed_event_attributes
        if attrs.meta.update_id != update_id or not attrs.outcome.HasField("success"):
            continue
        values = await client.data_converter.decode(attrs.outcome.success.payloads, [result_type])
        return values[0] if values else None  # type: ignore[no-any-return]
    return None


async def _finished_case_error(handle: WorkflowHandle[Any, Any], session: AsyncSession) -> ApiError:
    """404 when there is no such case; otherwise 409 naming what was decided, from the read
    model's status label (written by the workflow before it finished)."""
    try:
        desc = await handle.describe()
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return ApiError(404, "case.not_found", "未找到该案件")
        return _unavailable(e)
    if desc.status is None or desc.status not in _FINISHED:
        # Running but not answering this Update: it has no such handler any more.
        return ApiError(409, "case.closed", "该案件已不接受此项操作，请刷新后查看")
    row = await session.get(CaseRecord, handle.id)
    label = str(row.summary.get("status_label") or row.status) if row is not None else _FINISHED[desc.status]
    return ApiError(409, DECIDED_CODE, f"该案件已办结（{label}），不能再作决定")


@dataclass(frozen=True)
class Decider:
    """What every decision route needs besides its case, its principal and its command: the
    Temporal client, the session (for the 409 that names a finished case's outcome) and the
    client's idempotency key. A route takes it as one parameter (:data:`Decide`) and its body is
    the command it builds, so the case types' decision routes do not repeat the plumbing."""

    client: Client
    session: AsyncSession
    idempotency_key: str | None

    async def __call__(self, case_id: str, update: Any, arg: Any) -> DecisionReceipt:
        """A decision whose answer is the case's receipt (every decision but the unblock)."""
        return await self.returning(case_id, update, arg, DecisionReceipt)

    async def returning(self, case_id: str, update: Any, arg: Any, result_type: type[T]) -> T:
        return await execute_update(
            self.client,
            case_id,
            update,
            arg,
            session=self.session,
            idempotency_key=self.idempotency_key,
            result_type=result_type,
        )


async def decider(
    client: Annotated[Client, Depends(get_temporal)],
    session: Annotated[AsyncSession, Depends(get_session)],
    idempotency_key: IdempotencyKey = None,
) -> Decider:
    return Decider(client, session, idempotency_key)


Decide = Annotated[Decider, Depends(decider)]
