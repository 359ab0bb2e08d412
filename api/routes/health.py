"""Liveness and readiness: /healthz says the process is up; /readyz says the database and
Temporal answer, naming the failing part with a 503 otherwise."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import get_db
from api.principals import public
from core.db import Database

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="进程存活检查", dependencies=[public("liveness probe")])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="就绪检查（数据库与工作流服务）", dependencies=[public("readiness probe")])
async def readyz(request: Request, db: Annotated[Database, Depends(get_db)]) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        async with db.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=3)
        checks["database"] = "ok"
    except Exception as e:
        checks["database"] = f"error: {type(e).__name__}"
    try:
        client = request.app.state.temporal
        if client is None:
            client = await asyncio.wait_for(request.app.state.temporal_connect(), timeout=3)
            request.app.state.temporal = client
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception as e:
        checks["temporal"] = f"error: {type(e).__name__}"
    failing = [k for k, v in checks.items() if v != "ok"]
    body = {"status": "ready" if not failing else "not_ready", "checks": checks, "failing": failing}
    return JSONResponse(body, status_code=200 if not failing else 503)
