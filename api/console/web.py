"""The console's plumbing: templates, the signed-in staff member, CSRF, security headers, and
turning refusals into pages.

Why a separate layer: the API answers in JSON for machines; the console answers the same
refusals as Chinese pages for people. Every console route runs through ``ConsoleRoute``, so an
``ApiError`` raised anywhere below (a route function of the API, a dependency, a workflow
validator's refusal) becomes a page, or a small alert when htmx asked for a fragment, instead
of a JSON body in the browser."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.csrf import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, check_csrf_pair, csrf_valid_for, new_csrf_token
from api.deps import SESSION_COOKIE
from api.errors import ApiError
from core.security import TokenError, decode_token
from core.settings import Settings
from models.case import BUSINESS_TZ
from models.enums import READ_ONLY_ROLES, CaseType, Channel, Role
from models.service_request import CHANNEL_LABELS as _REQUEST_CHANNELS
from models.staff import StaffActor
from policy.regions import RegionError, full_name, get_region

log = logging.getLogger("uiflow.console")

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
PREFIX = "/console"
HTMX_FILE = "htmx-2.0.11.min.js"


# Static files are referenced with a content hash, so a new release is never served stale
# from a browser cache and unchanged files are not fetched again.
_STATIC_VERSIONS: dict[str, str] = {
    p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:10] for p in STATIC_DIR.iterdir() if p.is_file()
}

# No inline script and no eval anywhere, so the policy can forbid both; charts are SVG
# attributes, not inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- formatting --------------------------------------------------------------------------------------


def fmt_dt(value: datetime | None) -> str:
    """Instants in the business time zone, to the minute: what staff read on every line."""
    if value is None:
        return "—"
    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(BUSINESS_TZ).date()
    return value.isoformat()


def region_name(code: str | None) -> str:
    if not code:
        return "—"
    try:
        return full_name(code)
    except RegionError:
        return code


def region_short(code: str | None) -> str:
    if not code:
        return "—"
    try:
        return get_region(code).name
    except RegionError:
        return code


def days_left_text(left: int | None) -> str:
    if left is None:
        return "—"
    if left < 0:
        return f"逾期{-left}个工作日"
    if left == 0:
        return "今日到期"
    return f"剩{left}个工作日"


def days_left_class(left: int | None, overdue: bool = False) -> str:
    if overdue or (left is not None and left < 0):
        return "due-over"
    if left is not None and left <= 2:
        return "due-soon"
    return "due-ok"


def filesize(n: int | None) -> str:
    if n is None:
        return "—"
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def case_type_label(value: str) -> str:
    try:
        return CaseType(value).label
    except ValueError:
        return value


#: The consultations' channels (the hotline, the 办不成事 window ...) named in Chinese in every list too.
SERVICE_CHANNEL_LABELS: dict[str, str] = {c.value: label for c, label in _REQUEST_CHANNELS.items()}
#: How a verification case was opened (workflows/verification.py).
VERIFICATION_CHANNEL_LABELS = {"risk_scan": "风险扫描发现", "referral": "移交核查"}


def channel_label(value: str) -> str:
    try:
        return Channel(value).label
    except ValueError:
        return SERVICE_CHANNEL_LABELS.get(value) or VERIFICATION_CHANNEL_LABELS.get(value) or "—"


def role_label(value: str) -> str:
    try:
        return Role(value).label
    except ValueError:
        return value


def static_url(name: str) -> str:
    return f"{PREFIX}/static/{name}?v={_STATIC_VERSIONS.get(name, '0')}"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dt=fmt_dt,
        d=fmt_date,
        region=region_name,
        region_short=region_short,
        days_left=days_left_text,
        days_class=days_left_class,
        case_type=case_type_label,
        channel=channel_label,
        role=role_label,
        filesize=filesize,
        urlq=lambda v: quote(str(v), safe=""),
    )
    env.globals.update(static=static_url, prefix=PREFIX, htmx_file=HTMX_FILE, roles=Role)
    return env


ENV = _env()


# --- CSRF (signed double submit, ``api/csrf.py``) --------------------------------------------------------


def peek_staff(request: Request) -> StaffActor | None:
    """The staff member the session cookie names, without enforcing anything (for the page
    header on error pages and for the CSRF subject)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        c = decode_token(settings_of(request), token)
    except TokenError:
        return None
    roles = [Role(r) for r in c.roles if r in Role._value2member_map_]
    return StaffActor(login=c.login, name=c.name, roles=roles, region_code=c.region_code)


def session_subject(request: Request) -> str:
    """Who the CSRF token belongs to: the signed-in login, or "anon" before sign-in."""
    staff = peek_staff(request)
    return staff.login if staff else "anon"


async def csrf_protect(request: Request) -> None:
    """Dependency for every console POST."""
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    check_csrf(request, submitted)


def check_csrf(request: Request, submitted: str | None) -> None:
    check_csrf_pair(request, settings_of(request), session_subject(request), submitted)


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.mode == "prod",
    )


# --- the signed-in staff member ------------------------------------------------------------------------


class LoginRequired(Exception):
    """No valid session: send the browser to the sign-in page (and back afterwards)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "")
        self.message = message


def safe_next(value: str | None) -> str:
    """Only ever redirect back into the console (no open redirect)."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/inbox"


# --- rendering ------------------------------------------------------------------------------------------


def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages carry personal data (masked or not): never keep them in a shared cache or the back
    # button's disk cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    staff: StaffActor | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    settings = settings_of(request)
    subject = staff.login if staff else "anon"
    token = request.cookies.get(CSRF_COOKIE)
    fresh = not csrf_valid_for(settings, subject, token)
    if fresh or token is None:
        token = new_csrf_token(settings, subject)
    ctx: dict[str, Any] = {
        "request": request,
        "staff": staff,
        "csrf_token": token,
        "csrf_field": CSRF_FIELD,
        "nav": "",
        "flash": None,
        "is_ops": bool(staff and staff.has(Role.OPS_ENGINEER, Role.ADMIN)),
        "is_clerk": bool(staff and staff.has(Role.INTAKE_CLERK)),
        "is_supervisor_view": bool(staff and staff.has(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR)),
        "read_only": bool(staff and staff.roles and all(r in READ_ONLY_ROLES for r in staff.roles)),
    }
    ctx.update(context or {})
    html = ENV.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    if fresh:
        set_cookie(response, settings, CSRF_COOKIE, token, None)
    return security_headers(response)  # type: ignore[return-value]


def redirect(request: Request, url: str) -> Response:
    """After a successful POST: a full navigation (htmx follows HX-Redirect; a plain form 303)."""
    if is_htmx(request):
        return security_headers(Response(status_code=200, headers={"HX-Redirect": url}))
    return security_headers(RedirectResponse(url, status_code=303))


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    staff = peek_staff(request)
    if is_htmx(request):
        # A fragment, shown in the page's alert area whatever element asked for it.
        return render(
            request,
            "_alert.html",
            {"level": "error", "message": message, "code": code},
            staff=staff,
            status=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "HX-Reselect": ".alert"},
        )
    ctx = {"status": status, "code": code, "message": message}
    return render(request, "error.html", ctx, staff=staff, status=status)


class ConsoleRoute(APIRoute):
    """Every console route: sign-in redirects and refusals as pages, never JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except LoginRequired as e:
                return self._to_login(request, e.message)
            except ApiError as e:
                if e.status_code == 401:  # no or a stale session: sign in (and come back)
                    return self._to_login(request, None if e.code == "auth.required" else e.message_zh)
                return error_response(request, e.status_code, e.code, e.message_zh)
            except RequestValidationError:
                return error_response(request, 422, "request.invalid", "提交的内容有误，请检查后重试")
            except Exception:
                # The path only: no query string or form data, which may carry personal data.
                log.exception("console page failed: %s %s", request.method, request.url.path)
                return error_response(request, 500, "internal", "系统内部错误，请稍后再试或联系运维人员")

        return handler

    @staticmethod
    def _to_login(request: Request, message: str | None) -> Response:
        path = request.url.path if request.method == "GET" else f"{PREFIX}/inbox"
        target = f"{PREFIX}/login?next={quote(path, safe='/')}"
        if message:
            target += "&expired=1"
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
