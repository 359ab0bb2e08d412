"""Structured HTTP errors: every refusal carries a stable ``code`` and a Chinese ``message`` for
staff, and never a traceback. Shape: ``{"error": {"code", "message", "fields"?}}``.

Temporal out of reach is a 503 with ``Retry-After`` on every route, decided here once rather than
in each route: whatever a route was doing (starting a claim, sending a decision, reading a case),
an ``RPCError`` UNAVAILABLE or a failed connection means "try again shortly", never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger("uiflow.api")


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message_zh: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message_zh}")
        self.status_code = status_code
        self.code = code
        self.message_zh = message_zh
        self.fields = fields
        self.headers = headers


def error_body(code: str, message_zh: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message_zh}
    if fields:
        err["fields"] = fields
    return {"error": err}


_VALIDATION_MESSAGES = {
    "missing": "必填项",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不正确",
    "date_from_datetime_parsing": "日期格式应为YYYY-MM-DD",
    "date_parsing": "日期格式应为YYYY-MM-DD",
    "date_type": "日期格式应为YYYY-MM-DD",
    "decimal_parsing": "金额格式不正确",
    "decimal_type": "金额格式不正确",
    "int_parsing": "应为整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "greater_than": "数值过小",
    "less_than": "数值过大",
    "datetime_parsing": "时间格式应为ISO 8601，例如 2026-01-05T09:00:00+08:00",
    "datetime_from_date_parsing": "时间格式应为ISO 8601，例如 2026-01-05T09:00:00+08:00",
    "bool_parsing": "应为 true 或 false",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "json_invalid": "请求内容不是有效的JSON",
}


def _field_message(err: dict[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if inner is not None and getattr(inner, "message_zh", None):
        return str(inner.message_zh)
    msg = str(err.get("msg", ""))
    if msg.startswith("Value error, "):
        return msg.removeprefix("Value error, ")
    return _VALIDATION_MESSAGES.get(str(err.get("type")), "内容不正确")


#: Seconds a client should wait before retrying a 503 (a Temporal frontend restart takes a few).
RETRY_AFTER_SECONDS = 5
TEMPORAL_UNAVAILABLE = ("temporal.unavailable", "工作流服务暂时不可用，请稍后再试")


def temporal_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the Temporal server could not be reached (as opposed to a refusal):
    UNAVAILABLE from a connected client, or the SDK's failed (lazy) connect, or a socket error."""
    if isinstance(exc, RPCError):
        return exc.status == RPCStatusCode.UNAVAILABLE
    if isinstance(exc, ConnectionError):
        return True
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


def unavailable_response() -> JSONResponse:
    return JSONResponse(
        error_body(*TEMPORAL_UNAVAILABLE),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 503:  # every "not now" says when to come back
            headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
        return JSONResponse(
            error_body(exc.code, exc.message_zh, exc.fields), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            fields[".".join(loc) or "body"] = _field_message(err)
        return JSONResponse(
            error_body("request.invalid", "提交的内容有误，请按提示修改", fields), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "未找到", 405: "不支持的请求方法", 401: "请先登录", 403: "无权执行此操作"}
        return JSONResponse(
            error_body(f"http.{exc.status_code}", messages.get(exc.status_code, "请求无法处理")),
            status_code=exc.status_code,
        )

    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        if not temporal_unreachable(exc):
            raise exc  # any other error of these types: the 500 below
        log.warning("Temporal unreachable: %s", type(exc).__name__)
        return unavailable_response()

    for kind in (RPCError, ConnectionError, RuntimeError):
        app.add_exception_handler(kind, _unreachable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal", "系统内部错误，请稍后再试或联系运维人员"), status_code=500)
