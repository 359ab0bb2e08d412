"""Staff sign-in: password login issuing a JWT, and who am I."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import get_session, get_settings_dep
from api.errors import ApiError
from api.login_guard import LoginGuard, check_password, client_address
from api.principals import StaffUser, public
from core import audit
from core.security import Kind, issue_token
from core.settings import Settings
from models.tables import Staff
from policy.regions import full_name

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    login: str = Field(min_length=1, max_length=64, examples=["reviewer.hhht"])
    password: str = Field(min_length=1, max_length=256, examples=["demo-password"])


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    login: str
    name: str
    roles: list[str]
    region_code: str


class Me(BaseModel):
    login: str
    name: str
    roles: list[str]
    role_labels: list[str]
    region_code: str
    region_name: str


async def authenticate(
    session: AsyncSession, settings: Settings, login: str, password: str, address: str = "unknown"
) -> LoginResponse:
    """Password sign-in for staff (the API and the console): throttled per login and address,
    the same work for an unknown login as for a wrong password (``api/login_guard.py``)."""
    guard = LoginGuard("staff", login, address)
    await guard.refuse_if_locked(session)
    staff = (await session.exec(select(Staff).where(Staff.login == login))).first()
    ok = await check_password(staff.password_hash if staff is not None else None, password)
    if staff is None or not ok:
        await guard.failed(session, "auth.login_failed")
        raise ApiError(401, "auth.bad_credentials", "用户名或密码不正确")
    if not staff.active:
        raise ApiError(403, "auth.inactive", "该账号已停用，请联系系统管理员")
    await guard.succeeded(session)
    token, exp = issue_token(
        settings,
        login=staff.login,
        roles=staff.roles,
        region_code=staff.region_code,
        name=staff.name,
        applicant_key=staff.applicant_key,
        kind=Kind.STAFF,
        version=staff.token_version,
    )
    await audit.append(session, actor=staff.login, action="auth.login", actor_region=staff.region_code)
    await session.commit()
    return LoginResponse(
        access_token=token,
        expires_at=exp,
        login=staff.login,
        name=staff.name,
        roles=staff.roles,
        region_code=staff.region_code,
    )


@router.post(
    "/login",
    summary="工作人员登录",
    response_model=LoginResponse,
    dependencies=[public("sign-in: the password is the credential")],
)
async def login(
    body: LoginRequest,
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> LoginResponse:
    return await authenticate(session, settings, body.login, body.password, client_address(request))


@router.get("/me", summary="当前登录人员", response_model=Me)
async def me(staff: StaffUser) -> Me:
    return Me(
        login=staff.login,
        name=staff.name,
        roles=[r.value for r in staff.roles],
        role_labels=[r.label for r in staff.roles],
        region_code=staff.region_code,
        region_name=full_name(staff.region_code),
    )
