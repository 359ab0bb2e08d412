"""Risk control in the console (issue 16): the 风险稽核员's inbox of verification cases (核查), and
for supervisors the rules' own report with the rules to look at (never hit, mostly cleared).

The pages read the same functions as the API (``api/routes/risk.py``): the inbox query and
``core.risk_report``. A case opens on the console's case page; decisions are taken through the
API routes (proposal, approval, repayments)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.web import ConsoleRoute, render
from api.deps import get_session
from api.principals import RiskStaff, SupervisorView
from api.routes.risk import inbox
from core.risk_report import rule_report, rule_watch

router = APIRouter(route_class=ConsoleRoute)


@router.get("/risk")
async def risk_inbox(
    request: Request,
    staff: RiskStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    items = await inbox(staff, session, open_only=True, limit=200)
    return render(request, "risk.html", {"nav": "risk", "items": items}, staff=staff)


@router.get("/risk/rules")
async def risk_rules(request: Request, staff: SupervisorView) -> Response:
    db = request.app.state.db
    ctx = {"nav": "risk", "rows": await rule_report(db), "watch": await rule_watch(db)}
    return render(request, "risk_rules.html", ctx, staff=staff)
