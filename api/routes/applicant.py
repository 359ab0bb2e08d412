"""Applicant sign-in through the real-name identity provider, and the applicant's own cases.

The provider's ID token is verified (``core/oidc.py``) and exchanged for a short applicant
session: a token of kind ``applicant`` carrying the applicant key (HMAC of the verified ID
number; never the number), so the ``ApplicantUser`` routes act on that person's cases only.

For a tester against ``make dev``: open ``/api/v1/applicant/login``, type an ID number at the
simulated provider, and the callback answers with the session token to send as a bearer token."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import get_session, get_settings_dep
from api.errors import ApiError
from api.principals import ApplicantUser, public
from core import audit
from core.applicant import applicant_key
from core.oidc import OidcError, OidcVerifier
from core.security import Kind, issue_token
from core.settings import Settings
from models.enums import CaseType
from models.tables import CaseRecord

router = APIRouter(prefix="/api/v1/applicant", tags=["applicant"])
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Session = Annotated[AsyncSession, Depends(get_session)]


class SessionRequest(BaseModel):
    id_token: str = Field(
        min_length=1,
        max_length=8000,
        description="统一身份认证平台签发的 ID Token",
        examples=["eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpZF9udW1iZXIiOiIuLi4ifQ.c2ln"],
    )


class ApplicantSession(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    name: str


class OwnCase(BaseModel):
    case_id: str
    case_type: str
    case_type_label: str
    status: str
    status_label: str
    received_at: datetime


def verifier(request: Request) -> OidcVerifier:
    v: OidcVerifier | None = getattr(request.app.state, "oidc_verifier", None)
    if v is None:
        v = OidcVerifier.from_settings(request.app.state.settings)
        request.app.state.oidc_verifier = v
    return v


async def _session_for(
    request: Request, settings: Settings, session: AsyncSession, id_token: str
) -> ApplicantSession:
    try:
        person = await verifier(request).verify(id_token)
    except OidcError as e:
        status = 503 if e.code == "oidc.unavailable" else 401
        raise ApiError(status, e.code, e.message_zh) from e
    key = applicant_key(settings, person.id_number)
    token, exp = issue_token(
        settings,
        login=key,
        roles=[],
        region_code="",
        name=person.name,
        applicant_key=key,
        kind=Kind.APPLICANT,
        ttl=timedelta(minutes=settings.applicant_session_minutes),
    )
    await audit.append(session, actor="applicant", action="auth.applicant_login")
    await session.commit()
    return ApplicantSession(access_token=token, expires_at=exp, name=person.name)


@router.post(
    "/session",
    response_model=ApplicantSession,
    summary="申请人登录：以统一身份认证的 ID Token 换取会话",
    dependencies=[public("sign-in: the identity provider's signed ID token is the credential")],
)
async def create_session(
    body: SessionRequest, request: Request, settings: SettingsDep, session: Session
) -> ApplicantSession:
    return await _session_for(request, settings, session, body.id_token)


@router.get(
    "/login",
    summary="申请人登录：跳转到统一身份认证平台",
    dependencies=[public("sign-in: redirects to the identity provider")],
)
async def login(request: Request) -> RedirectResponse:
    config = await _configuration(request)
    params = {
        "client_id": verifier(request).client_id,
        "redirect_uri": str(request.url_for("oidc_callback")),
        "response_type": "code",
        "scope": "openid",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
    }
    return RedirectResponse(f"{config['authorization_endpoint']}?{urlencode(params)}", status_code=302)


async def _configuration(request: Request) -> dict[str, object]:
    try:
        return await verifier(request).configuration()
    except OidcError as e:
        raise ApiError(503, e.code, e.message_zh) from e


@router.get(
    "/callback",
    name="oidc_callback",
    response_model=ApplicantSession,
    summary="统一身份认证回调（授权码换取会话）",
    dependencies=[public("OIDC callback: the code is exchanged with the provider server-side")],
)
async def callback(code: str, request: Request, settings: SettingsDep, session: Session) -> ApplicantSession:
    try:
        id_token = await verifier(request).exchange_code(code[:512])
    except OidcError as e:
        raise ApiError(503 if e.code == "oidc.unavailable" else 401, e.code, e.message_zh) from e
    return await _session_for(request, settings, session, id_token)


@router.get("/cases", response_model=list[OwnCase], summary="我的申请（仅本人）")
async def own_cases(who: ApplicantUser, session: Session) -> list[OwnCase]:
    rows = (
        await session.exec(
            select(CaseRecord)
            .where(CaseRecord.applicant_key == (who.applicant_key or "-"))
            .order_by(col(CaseRecord.received_at).desc())
            .limit(100)
        )
    ).all()
    return [
        OwnCase(
            case_id=r.case_id,
            case_type=r.case_type,
            case_type_label=CaseType(r.case_type).label,
            status=r.status,
            status_label=str(r.summary.get("status_label", r.status)),
            received_at=r.received_at,
        )
        for r in rows
    ]
