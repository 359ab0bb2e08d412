"""Sign-in and sign-out for the console.

The session is the API's own staff JWT (``authenticate`` issues it), carried in an httponly,
SameSite=Strict cookie that ``api/principals.py`` already reads, so the console and the API agree
on who is signed in and what they may do; nothing about the session is kept on the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.web import (
    CSRF_COOKIE,
    PREFIX,
    ConsoleRoute,
    csrf_protect,
    new_csrf_token,
    peek_staff,
    render,
    safe_next,
    security_headers,
    set_cookie,
    settings_of,
)
from api.deps import SESSION_COOKIE, get_session
from api.errors import ApiError
from api.login_guard import client_address
from api.principals import public
from api.routes.auth import authenticate
from core import audit

router = APIRouter(route_class=ConsoleRoute)


@router.get("/login", dependencies=[public("the sign-in page")])
async def login_page(request: Request, next: str | None = None, expired: int = 0, bye: int = 0) -> Response:
    if peek_staff(request) is not None and not expired:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = None
    if expired:
        notice = "登录已过期，请重新登录"
    elif bye:
        notice = "已安全退出"
    return render(
        request, "login.html", {"next": safe_next(next), "notice": notice, "error": None, "login": ""}
    )


@router.post(
    "/login", dependencies=[public("sign-in: the password is the credential"), Depends(csrf_protect)]
)
async def login_submit(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    settings = settings_of(request)
    login = login.strip()
    if not login or not password:
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "notice": None, "error": "请输入用户名和密码", "login": login},
            status=422,
        )
    try:
        result = await authenticate(session, settings, login, password, client_address(request))
    except ApiError as e:
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "notice": None, "error": e.message_zh, "login": login},
            status=e.status_code,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    max_age = max(60, int((result.expires_at - datetime.now(UTC)).total_seconds()))
    set_cookie(response, settings, SESSION_COOKIE, result.access_token, max_age)
    # A fresh CSRF token bound to this login: the anonymous one from the sign-in form is void now.
    set_cookie(response, settings, CSRF_COOKIE, new_csrf_token(settings, result.login), None)
    return security_headers(response)


@router.post(
    "/logout", dependencies=[public("sign-out: ends only the caller's own session"), Depends(csrf_protect)]
)
async def logout(request: Request, session: Annotated[AsyncSession, Depends(get_session)]) -> Response:
    return await _logout(request, session)


async def _logout(request: Request, session: AsyncSession) -> Response:
    # Not a principal dependency: that refuses every POST of a read-only role. The CSRF check has
    # already tied this request to the session.
    staff = peek_staff(request)
    if staff is not None:
        await audit.append(session, actor=staff.login, action="auth.logout", actor_region=staff.region_code)
        await session.commit()
    response = RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return security_headers(response)
