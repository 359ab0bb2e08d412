"""Staff sign-in and the guards every route relies on: token, role, region, read-only auditors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlmodel import select

from api.deps import ensure_region
from api.errors import install_error_handlers
from api.principals import Reviewer, StaffUser
from core.db import Database
from core.security import issue_token
from core.settings import Settings
from models.tables import Staff
from tests.conftest import login


async def test_login_and_me(pg_api: httpx.AsyncClient) -> None:
    headers = await login(pg_api, "reviewer.xc")
    r = await pg_api.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 200
    me = r.json()
    assert me["login"] == "reviewer.xc"
    assert me["roles"] == ["reviewer"] and me["role_labels"] == ["审核员"]
    assert me["region_code"] == "150102" and "新城区" in me["region_name"]


async def test_bad_password_is_refused_in_chinese(pg_api: httpx.AsyncClient) -> None:
    r = await pg_api.post("/api/v1/auth/login", json={"login": "reviewer.xc", "password": "wrong"})
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "auth.bad_credentials", "message": "用户名或密码不正确"}}
    r = await pg_api.post("/api/v1/auth/login", json={"login": "nobody", "password": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.bad_credentials"


async def test_missing_and_expired_and_forged_tokens(pg_api: httpx.AsyncClient, settings: Settings) -> None:
    r = await pg_api.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.required"
    token, _ = issue_token(
        settings,
        login="reviewer.xc",
        roles=["reviewer"],
        region_code="150102",
        name="x",
        now=datetime.now(UTC) - timedelta(hours=10),
        ttl=timedelta(hours=1),
    )
    r = await pg_api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["error"] == {"code": "auth.expired", "message": "登录已过期，请重新登录"}
    forged, _ = issue_token(
        Settings(mode="test", jwt_secret="another-secret-" + "z" * 30),
        login="admin",
        roles=["admin"],
        region_code="150000",
        name="x",
    )
    r = await pg_api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.invalid_token"


async def test_malformed_login_body_gets_field_errors(pg_api: httpx.AsyncClient) -> None:
    r = await pg_api.post("/api/v1/auth/login", json={"login": ""})
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "request.invalid"
    assert set(body["fields"]) == {"login", "password"}


def _guarded_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.state.db = db
    install_error_handlers(app)
    router = APIRouter()

    @router.post("/decide/{region}")
    async def decide(region: str, staff: Reviewer) -> dict[str, str]:
        ensure_region(staff, region)
        return {"ok": staff.login}

    @router.get("/look/{region}")
    async def look(region: str, staff: StaffUser) -> dict[str, str]:
        ensure_region(staff, region)
        return {"ok": staff.login}

    app.include_router(router)
    return app


@pytest.mark.parametrize(
    ("roles", "staff_region", "method", "case_region", "status", "code"),
    [
        (["reviewer"], "150102", "post", "150102", 200, None),
        (["reviewer"], "150100", "post", "150102", 200, None),  # a league sees its districts
        (["reviewer"], "150102", "post", "150103", 403, "auth.region"),  # a sibling district
        (["reviewer"], "150202", "post", "150102", 403, "auth.region"),  # another city
        (["intake_clerk"], "150102", "post", "150102", 403, "auth.role"),
        (["auditor"], "150000", "post", "150102", 403, "auth.read_only"),
        (["auditor"], "150000", "get", "150102", 200, None),  # auditors read everything in scope
        (["reviewer"], "150700", "get", "150781", 403, "auth.region"),  # Manzhouli is directly administered
    ],
)
async def test_role_and_region_guards(
    settings: Settings,
    sqlite_db: Database,
    roles: list[str],
    staff_region: str,
    method: str,
    case_region: str,
    status: int,
    code: str | None,
) -> None:
    login = f"t.{'-'.join(roles)}.{staff_region}"
    async with sqlite_db.session() as s:  # a token is only good while its account is
        if (await s.exec(select(Staff).where(Staff.login == login))).first() is None:
            s.add(
                Staff(
                    login=login,
                    name="t",
                    password_hash="-",
                    roles=roles,
                    region_code=staff_region,
                    created_at=datetime.now(UTC),
                )
            )
            await s.commit()
    token, _ = issue_token(settings, login=login, roles=roles, region_code=staff_region, name="t")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_guarded_app(settings, sqlite_db)), base_url="http://t"
    ) as c:
        path = f"/decide/{case_region}" if method == "post" else f"/look/{case_region}"
        r = await c.request(method.upper(), path, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code
