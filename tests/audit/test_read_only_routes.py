"""Auditors read and never write: every non-GET route of the whole app, walked from
``app.routes``, refuses an auditor with 403 ``auth.read_only``, before it touches Temporal or the
database. A new write route that forgets the staff dependency fails here, by name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
from temporalio.client import Client

from api.app import create_app
from api.deps import SESSION_COOKIE
from core.db import Database
from core.security import issue_token
from core.settings import Settings

READ_METHODS = {"GET", "HEAD", "OPTIONS"}

# Non-GET routes that do not act for a signed-in staff member, so there is no token to refuse:
# each is checked below to exist, so this list cannot silently outlive its routes.
EXEMPT = {
    ("POST", "/api/v1/auth/login"): "sign-in takes credentials, not a token (an auditor must sign in)",
    ("POST", "/console/login"): "console sign-in",
    ("POST", "/console/logout"): "console sign-out (an auditor must be able to sign out)",
    ("POST", "/codec/encode"): "Temporal codec protocol: transforms payloads, stores nothing",
    ("POST", "/codec/decode"): "Temporal codec protocol: a read (POST by protocol), audited, own role check",
    ("POST", "/codec/ui/{key}/encode"): "dev-only codec path for the local Web UI (secret path, no token)",
    ("POST", "/codec/ui/{key}/decode"): "dev-only codec path for the local Web UI (secret path, no token)",
    ("POST", "/api/v1/callbacks/gov"): "government systems' callbacks, HMAC-signed, no staff token",
    ("POST", "/api/v1/disputes/employer-login"): "employer sign-in takes credentials",
    ("POST", "/api/v1/disputes/callbacks/ticket"): "demand-platform callback, signed, no staff token",
    ("POST", "/api/v1/service-requests/callbacks/hotline"): "12333 hotline callback, signed, no staff token",
}


def write_routes(routes: Any) -> Iterator[tuple[str, str]]:
    """(method, path) of every non-GET route, descending into included routers (FastAPI keeps
    them lazily as ``_IncludedRouter``) and mounted sub-applications."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from write_routes(route.effective_candidates())
        elif getattr(route, "methods", None) is not None and hasattr(route, "path"):
            for method in sorted(set(route.methods) - READ_METHODS):
                yield method, route.path
        elif hasattr(route, "routes"):
            prefix = getattr(route, "path", "")
            yield from ((m, prefix + p) for m, p in write_routes(route.routes))


async def test_every_write_route_refuses_an_auditor(settings: Settings, sqlite_db: Database) -> None:
    contacted: list[str] = []

    async def _temporal() -> Client:
        contacted.append("temporal")
        raise RuntimeError("a refused write must not reach Temporal")

    app = create_app(settings, db=sqlite_db, temporal_connect=_temporal)
    routes = sorted(set(write_routes(app.routes)))
    assert len(routes) > len(EXEMPT), routes
    missing = set(EXEMPT) - set(routes)
    assert not missing, f"exempt routes that no longer exist: {sorted(missing)}"

    token, _ = issue_token(
        settings, login="auditor.nmg", roles=["auditor"], region_code="150000", name="审计"
    )
    cookies = {SESSION_COOKIE: token}
    headers = {"Authorization": f"Bearer {token}"}
    try:  # the console's CSRF check runs before its staff check: give it a valid pair
        from api.console.web import CSRF_COOKIE, CSRF_HEADER, new_csrf_token

        csrf = new_csrf_token(settings, "auditor.nmg")
        cookies[CSRF_COOKIE] = csrf
        headers[CSRF_HEADER] = csrf
    except ImportError:
        pass

    not_refused: list[str] = []
    checked = 0
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", cookies=cookies
        ) as c,
    ):
        for method, path in routes:
            if (method, path) in EXEMPT:
                continue
            url = re.sub(r"\{[^}:]+(:[^}]+)?\}", "x", path)
            r = await c.request(method, url, headers=headers, json={})
            checked += 1
            refused = r.status_code == 403 and (
                (
                    r.headers.get("content-type", "").startswith("application/json")
                    and r.json().get("error", {}).get("code") == "auth.read_only"
                )
                or 'data-code="auth.read_only"' in r.text  # the console answers with a page
            )
            if not refused:
                not_refused.append(f"{method} {path} -> {r.status_code} {r.text[:120]}")
    assert checked >= 10
    assert not not_refused, "write routes that do not refuse an auditor:\n" + "\n".join(not_refused)
    assert contacted == []
