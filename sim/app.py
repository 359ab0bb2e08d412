"""One HTTP service standing in for every external government system uiflow talks to.

Each system has its own router and prefix, bearer-token auth and the shared error shape
``{"error": {"code", "message"}}``: a 4xx is a business refusal, a 5xx (or no answer in time) is
a transient fault. The typed clients in ``activities/gov`` are written against exactly this
contract, so swapping the base URL for the real systems is a configuration change.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim.routers import (
    admin,
    bank,
    certificates,
    contributions,
    cross_province,
    demand_platform,
    employers,
    hotline,
    idp,
    insurance_record,
    medical,
    notifier,
    person_events,
    registration,
    training,
)
from sim.state import DEFAULT_TOKEN, SimError, SimState

log = logging.getLogger("uiflow.sim")

REQUEST_ID_HEADER = "X-Request-Id"


def error_body(code: str, message_zh: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message_zh}
    if fields:
        err["fields"] = fields
    return {"error": err}


class RequestIdMiddleware:
    """Echo the caller's ``X-Request-Id`` (or mint one), so a call can be traced across systems.
    Plain ASGI rather than ``BaseHTTPMiddleware``, which would get in the way of long injected hangs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = b""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                rid = value[:128]
                break
        rid = rid or uuid.uuid4().hex.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid)]
            await send(message)

        await self.app(scope, receive, send_with_id)


class StoreStateMiddleware:
    """After every request that may change state (any method but GET/HEAD/OPTIONS), store the state
    before the answer's first byte leaves: a caller that saw "paid" can rely on it across a
    restart. One place for every router, present and future (sim/state.py has the why)."""

    READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in self.READ_ONLY or self.state.store is None:
            await self.app(scope, receive, send)
            return

        async def send_after_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.state.save()
            await send(message)

        await self.app(scope, receive, send_after_store)


_VALIDATION_MESSAGES = {
    "missing": "必填项",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "decimal_parsing": "金额格式不正确",
    "greater_than": "数值过小",
    "decimal_max_places": "金额最多两位小数",
    "literal_error": "取值不在允许范围内",
    "json_invalid": "请求内容不是有效的JSON",
}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SimError)
    async def _sim_error(_: Request, exc: SimError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message_zh), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            msg = str(err.get("msg", ""))
            if msg.startswith("Value error, "):
                text = msg.removeprefix("Value error, ")
            else:
                text = _VALIDATION_MESSAGES.get(str(err.get("type")), "格式不正确")
            fields[".".join(loc) or "body"] = text
        return JSONResponse(error_body("request.invalid", "请求参数有误", fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "接口不存在", 405: "不支持的请求方法"}
        return JSONResponse(
            error_body(f"http.{exc.status_code}", messages.get(exc.status_code, "请求无法处理")),
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("sim: unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal", "系统内部错误"), status_code=500)


def create_app(
    seed: int = 42,
    population: int = 2000,
    callback_url: str | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    as_of: date | None = None,
    state_dir: Path | None = None,
) -> FastAPI:
    """Build the simulator. ``as_of`` pins the population's reference date (default: today in
    Asia/Shanghai), so that the same seed gives byte-identical people on any day. ``state_dir``
    keeps the state on disk across restarts (default: in memory only)."""
    app = FastAPI(
        title="uiflow 外部系统模拟服务",
        description="失业登记、参保缴费、参保记录、跨省待遇核查、医保、证书查询、银行、消息、金保工程需求平台的模拟接口",
        version="1.0",
    )
    app.state.sim = SimState(
        seed=seed,
        population=population,
        callback_url=callback_url,
        token=token,
        as_of=as_of,
        state_dir=state_dir,
    )
    for module in (
        registration,
        contributions,
        insurance_record,
        cross_province,
        medical,
        certificates,
        training,
        bank,
        notifier,
        demand_platform,
        employers,
        idp,
        admin,
    ):
        app.include_router(module.router)
    app.include_router(hotline.router)
    app.include_router(hotline.admin_router)
    for r in person_events.routers:
        app.include_router(r)
    app.include_router(person_events.admin_router)
    _install_error_handlers(app)
    app.add_middleware(StoreStateMiddleware, state=app.state.sim)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
