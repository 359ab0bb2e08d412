"""Calling workflows from the API: Updates with retry when the server says "Workflow is busy"
(temporal-notes §11.5), and refusals turned into structured errors with the validator's Chinese
message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError

T = TypeVar("T")
BUSY_ATTEMPTS = 6


def _busy(e: RPCError) -> bool:
    return e.status == RPCStatusCode.RESOURCE_EXHAUSTED or "busy" in str(e).lower()


async def call_workflow(fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` (an update, query or signal on a handle) and map failures to ``ApiError``."""
    delay = 0.1
    for attempt in range(BUSY_ATTEMPTS):
        try:
            return await fn()
        except WorkflowUpdateFailedError as e:
            cause: Any = e.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise ApiError(409, "decision.refused", message or "该操作未被接受") from e
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise ApiError(404, "case.not_found", "未找到该案件") from e
            if "already completed" in str(e).lower() or e.status == RPCStatusCode.FAILED_PRECONDITION:
                raise ApiError(409, "case.closed", "该案件已办结，不能再作操作") from e
            if _busy(e) and attempt < BUSY_ATTEMPTS - 1:
                await asyncio.sleep(delay)
                delay *= 2
                continue
            raise ApiError(503, "temporal.unavailable", "工作流服务暂时不可用，请稍后再试") from e
    raise AssertionError("unreachable")
