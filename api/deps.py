"""FastAPI dependencies: settings, database, Temporal client, and region scope of a body's
region. Who may call a route (kinds of principal, roles, case scope) is ``api/principals.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ApiError
from core.db import Database
from core.settings import Settings
from models.staff import StaffActor
from policy.regions import is_within

SESSION_COOKIE = "uiflow_session"


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


async def get_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[AsyncSession]:
    async with db.session() as s:
        yield s


async def get_temporal(request: Request) -> Client:
    client: Client | None = request.app.state.temporal
    if client is None:
        connect = request.app.state.temporal_connect
        try:
            client = await connect()
        except Exception as e:
            raise ApiError(503, "temporal.unavailable", "工作流服务暂时不可用，请稍后再试") from e
        request.app.state.temporal = client
    return client


def ensure_region(staff: StaffActor, region_code: str) -> None:
    """Refuse a staff member acting or looking outside their region scope."""
    if not is_within(staff.region_code, region_code):
        raise ApiError(403, "auth.region", "该事项不在您所属地区的管辖范围内")
