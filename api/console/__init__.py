"""The staff console (业务经办台) at ``/console``: server-rendered Chinese pages for the counter
clerk, the reviewers, the supervisor and operations, on top of the API's own route functions.

Why server-rendered: staff use it all day on ordinary office PCs, often on slow links to the
league data centre; a page that arrives complete (Jinja2), with htmx for the few partial
updates, needs no build step, no CDN and works offline from the internet. ``api/app.py``
includes ``router`` and calls ``mount`` (static files)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.console import (
    auth,
    cases,
    disputes,
    intake,
    lists,
    periods,
    premium_refund_intake,
    premium_refunds,
    risk,
    search,
    service_requests,
    subsidies,
    supervisor,
)
from api.console.web import PREFIX, STATIC_DIR, ConsoleRoute
from api.principals import public

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("", dependencies=[public("redirects to the inbox, which asks for sign-in")])
@router.get("/", dependencies=[public("redirects to the inbox, which asks for sign-in")])
async def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/inbox", status_code=303)


for _module in (
    auth,
    lists,
    cases,
    search,
    intake,
    supervisor,
    disputes,
    service_requests,
    risk,
    subsidies,
    periods,
    premium_refunds,
    premium_refund_intake,
):
    _sub = getattr(_module, "router", None)
    if _sub is not None:
        router.include_router(_sub)


def mount(app: FastAPI) -> None:
    """Serve the console's own CSS, JavaScript and the vendored htmx (no CDN)."""
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")


__all__ = ["mount", "router"]
