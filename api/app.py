"""The FastAPI application: case intake, staff decisions, tracking, audit, the staff console,
and the codec endpoint for the Temporal Web UI."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import Response
from temporalio.client import Client

from api.calendar_in_force import bind_calendar
from api.errors import install_error_handlers
from api.input_guard import RefuseNul
from api.principals import ROUTER_POLICIES, declare_elsewhere, public, refuse_read_only_writes
from core.db import Database
from core.metrics import metrics_middleware, metrics_response
from core.settings import Settings, get_settings
from core.temporal_client import connect_client, make_codec

# Routers are added here as case types land; each module exposes ``router``.
ROUTER_MODULES = [
    "api.routes.health",
    "api.routes.auth",
    "api.routes.codec",
    "api.routes.policy",
    "api.routes.claims",
    "api.routes.cases",
    "api.routes.callbacks",
    "api.routes.period_events",
    "api.routes.documents",
    "api.routes.disputes",
    "api.routes.service_requests",
    "api.routes.subsidies",
    "api.routes.premium_refunds",
    "api.routes.audit",
    "api.routes.risk",
    "api.routes.applicant",
    "api.routes.paydays",
    "api.routes.periods",
    "api.routes.notices",
    "api.console",
]


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    temporal: Client | None = None,
    temporal_connect: Callable[[], Awaitable[Client]] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    own_db = db is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_db:
            await app.state.db.dispose()

    app = FastAPI(
        title="uiflow 失业保险经办",
        version="0.1.0",
        description=(
            "内蒙古失业保险经办系统：申领、审核、发放、争议、审计。所有案件均为 Temporal 持久化工作流。"
        ),
        lifespan=lifespan,
        dependencies=[Depends(refuse_read_only_writes), Depends(bind_calendar)],
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.effective_database_url)
    app.state.temporal = temporal
    app.state.temporal_connect = temporal_connect or (lambda: connect_client(settings))
    app.state.codec = make_codec(settings)
    install_error_handlers(app)
    app.add_middleware(RefuseNul)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        # The Web UI may send the console session to the codec (its "Include cross-origin
        # credentials" setting) so that a decode is audited under the person who asked.
        allow_credentials=True,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    app.middleware("http")(metrics_middleware)

    @app.get("/metrics", include_in_schema=False, dependencies=[public("Prometheus scrape, no case data")])
    async def metrics() -> Response:
        return metrics_response()

    for name in ROUTER_MODULES:
        module = importlib.import_module(name)  # every module is there: a missing one fails the start
        # Whole routers with one policy (the staff calculators) declare it at inclusion.
        app.include_router(module.router, dependencies=list(ROUTER_POLICIES.get(name, ())))
        declare_elsewhere(name, module)
        if hasattr(module, "mount"):
            module.mount(app)
    return app
