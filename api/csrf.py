"""The double-submit CSRF token shared by the console's forms and the JSON API's cookie sessions.

SameSite=Strict on the session cookie already stops cross-site requests in current browsers; the
token is the second lock for older browsers and same-site subdomains. The token lives in a cookie
and in every form (or the ``X-CSRF-Token`` header); both must match, and the token is signed for
the signed-in login, so a token planted by a sibling site is refused. A call with a bearer token
needs none: a browser never attaches a bearer token on its own."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from api.errors import ApiError
from core.settings import Settings

CSRF_COOKIE = "uiflow_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def _csrf_sig(settings: Settings, subject: str, nonce: str) -> str:
    msg = f"console-csrf|{subject}|{nonce}".encode()
    return hmac.new(settings.jwt_secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


def new_csrf_token(settings: Settings, subject: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_csrf_sig(settings, subject, nonce)}"


def csrf_valid_for(settings: Settings, subject: str, token: str | None) -> bool:
    if not token or "." not in token or not token.isascii():
        return False
    nonce, sig = token.rsplit(".", 1)
    return hmac.compare_digest(sig, _csrf_sig(settings, subject, nonce))


def check_csrf_pair(request: Request, settings: Settings, subject: str, submitted: str | None) -> None:
    """Refuse unless ``submitted`` equals the CSRF cookie and is signed for ``subject``."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if (
        not submitted
        or not cookie
        or not submitted.isascii()
        or not cookie.isascii()
        or not hmac.compare_digest(submitted, cookie)
        or not csrf_valid_for(settings, subject, submitted)
    ):
        raise ApiError(403, "csrf.invalid", "页面已过期或请求来源无法确认，请刷新页面后重试")
    request.state.csrf_checked = True
