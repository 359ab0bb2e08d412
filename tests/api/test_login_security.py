"""Issue 12 items 8 and 9: cookie-authenticated API writes need the CSRF header; sign-ins are
throttled and locked out per login and per address (audited), cost the same for an unknown login,
hash off the event loop (employers too); a deactivated member, a changed password or a raised
token version revokes tokens already issued within the revocation cache's lifetime."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from sqlmodel import select
from temporalio.client import Client

import api.principals
import core.security
from api.app import create_app
from api.csrf import CSRF_COOKIE, CSRF_HEADER, new_csrf_token
from api.deps import SESSION_COOKIE
from api.login_guard import LOCKOUT, MAX_ADDRESS_FAILURES, MAX_LOGIN_FAILURES
from api.principals import REVOCATION_CACHE_SECONDS
from core.db import Database
from core.security import hash_password
from core.settings import Settings
from models.enums import Role
from models.tables import AuditLog, EmployerAccount, Staff

PASSWORD = "correct-horse-battery"
PW_HASH = hash_password(PASSWORD)


@pytest_asyncio.fixture
async def app_for(settings: Settings, pg_db: Database) -> AsyncIterator[object]:
    """A fresh app (own revocation cache) and a client factory with a chosen client address."""

    async def _no_temporal() -> Client:
        raise RuntimeError("no Temporal here")

    app = create_app(settings, db=pg_db, temporal_connect=_no_temporal)

    def client(address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    yield client


async def _new_staff(db: Database, *, active: bool = True) -> str:
    login = f"sec.{uuid.uuid4().hex[:8]}"
    async with db.session() as s:
        s.add(
            Staff(
                login=login,
                name="安全测试",
                password_hash=PW_HASH,
                roles=[Role.REVIEWER.value],
                region_code="150102",
                created_at=datetime.now(UTC),
                active=active,
            )
        )
        await s.commit()
    return login


async def _actions(db: Database, actor: str) -> list[str]:
    async with db.session() as s:
        rows = (await s.exec(select(AuditLog).where(AuditLog.actor == actor))).all()
    return [r.action for r in rows]


class _Spy:
    """The password hasher, recording on which thread each verification runs."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.real = PasswordHasher()

    def verify(self, password_hash: str, password: str) -> bool:
        self.calls.append(threading.current_thread().name)
        return self.real.verify(password_hash, password)

    def hash(self, password: str) -> str:
        return self.real.hash(password)


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


async def test_cookie_api_writes_need_the_csrf_header(
    app_for: object, settings: Settings, pg_db: Database
) -> None:
    login = await _new_staff(pg_db)
    async with app_for(_address()) as c:  # type: ignore[operator]
        r = await c.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        token = r.json()["access_token"]
        body = {"number": "11010519491231002X"}
        # The console's cookie, no CSRF header: refused (before the fix, accepted).
        c.cookies.set(SESSION_COOKIE, token)
        r = await c.post("/api/v1/policy/check-id", json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf.invalid"
        # A header that does not match the cookie, or is signed for another login: refused.
        csrf = new_csrf_token(settings, login)
        c.cookies.set(CSRF_COOKIE, csrf)
        r = await c.post(
            "/api/v1/policy/check-id", json=body, headers={CSRF_HEADER: new_csrf_token(settings, login)}
        )
        assert r.status_code == 403
        other = new_csrf_token(settings, "someone.else")
        c.cookies.set(CSRF_COOKIE, other)
        r = await c.post("/api/v1/policy/check-id", json=body, headers={CSRF_HEADER: other})
        assert r.status_code == 403
        r = await c.post("/api/v1/policy/check-id", json=body, headers={CSRF_HEADER: "非ASCII".encode()})
        assert r.status_code == 400 and r.json()["error"]["code"] == "request.header"  # refused at the edge
        # The matching pair: accepted. Reads need none.
        c.cookies.set(CSRF_COOKIE, csrf)
        r = await c.post("/api/v1/policy/check-id", json=body, headers={CSRF_HEADER: csrf})
        assert r.status_code == 200, r.text
        assert (await c.get("/api/v1/auth/me")).status_code == 200
        # A bearer token needs no CSRF header (a browser never attaches one on its own).
        c.cookies.clear()
        r = await c.post("/api/v1/policy/check-id", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200


async def test_a_login_is_locked_after_repeated_failures_and_audited(
    app_for: object, pg_db: Database
) -> None:
    login = await _new_staff(pg_db)
    async with app_for(_address()) as c:  # type: ignore[operator]
        for _ in range(MAX_LOGIN_FAILURES):
            r = await c.post("/api/v1/auth/login", json={"login": login, "password": "guess"})
            assert r.status_code == 401
        r = await c.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        assert r.status_code == 429 and r.json()["error"]["code"] == "auth.locked"
        assert int(r.headers["retry-after"]) <= LOCKOUT.total_seconds()
    async with app_for(_address()) as c:  # type: ignore[operator]  # from anywhere else too
        r = await c.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        assert r.status_code == 429
    actions = await _actions(pg_db, login)
    assert actions.count("auth.login_failed") == MAX_LOGIN_FAILURES
    assert "auth.lockout" in actions and "auth.login_locked" in actions


async def test_an_address_is_locked_after_failures_across_logins(app_for: object, pg_db: Database) -> None:
    address = _address()
    good = await _new_staff(pg_db)
    async with app_for(address) as c:  # type: ignore[operator]
        for i in range(MAX_ADDRESS_FAILURES):
            r = await c.post("/api/v1/auth/login", json={"login": f"nobody.{i}.{address}", "password": "x"})
            assert r.status_code == 401
        r = await c.post("/api/v1/auth/login", json={"login": good, "password": PASSWORD})
        assert r.status_code == 429
    async with app_for(_address()) as c:  # type: ignore[operator]  # the account itself is fine
        r = await c.post("/api/v1/auth/login", json={"login": good, "password": PASSWORD})
        assert r.status_code == 200


async def test_an_unknown_login_costs_a_password_hash_like_a_known_one(
    app_for: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing oracle: before, an unknown login answered without hashing (about 0.5 s faster)."""
    hashed: list[str] = []
    monkeypatch.setattr(core.security, "_hasher", _Spy(hashed))
    async with app_for(_address()) as c:  # type: ignore[operator]
        r = await c.post("/api/v1/auth/login", json={"login": f"nobody.{uuid.uuid4().hex}", "password": "x"})
        assert r.status_code == 401
        assert len(hashed) == 1
        r = await c.post("/api/v1/auth/login", json={"login": "reviewer.xc", "password": "wrong"})
        assert r.status_code == 401 and len(hashed) == 2
    assert threading.main_thread().name not in hashed  # never on the event loop


async def test_employer_login_hashes_off_the_event_loop(
    app_for: object, pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "91150102MA0SEC" + uuid.uuid4().hex[:4].upper()
    async with pg_db.session() as s:
        s.add(
            EmployerAccount(
                credit_code=code,
                name="测试单位",
                password_hash=PW_HASH,
                region_code="150102",
                created_at=datetime.now(UTC),
            )
        )
        await s.commit()
    threads: list[str] = []
    monkeypatch.setattr(core.security, "_hasher", _Spy(threads))
    async with app_for(_address()) as c:  # type: ignore[operator]
        r = await c.post("/api/v1/disputes/employer-login", json={"credit_code": code, "password": PASSWORD})
        assert r.status_code == 200, r.text
        unknown = "91150102MA0NONE" + uuid.uuid4().hex[:3].upper()
        r = await c.post("/api/v1/disputes/employer-login", json={"credit_code": unknown, "password": "x"})
        assert r.status_code == 401
    assert len(threads) == 2 and threading.main_thread().name not in threads


@pytest.mark.parametrize("change", ["deactivated", "password_changed", "version_raised"])
async def test_a_revoked_member_loses_access_within_the_cache_lifetime(
    app_for: object, pg_db: Database, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    assert REVOCATION_CACHE_SECONDS <= 60  # "within a minute"
    monkeypatch.setattr(api.principals, "REVOCATION_CACHE_SECONDS", 0.0)  # do not wait it out here
    login = await _new_staff(pg_db)
    async with app_for(_address()) as c:  # type: ignore[operator]
        r = await c.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert (await c.get("/api/v1/auth/me", headers=headers)).status_code == 200
        async with pg_db.session() as s:
            staff = (await s.exec(select(Staff).where(Staff.login == login))).one()
            if change == "deactivated":
                staff.active = False
            elif change == "password_changed":
                staff.password_changed_at = datetime.now(UTC) + timedelta(seconds=5)
            else:
                staff.token_version += 1
            s.add(staff)
            await s.commit()
        r = await c.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.revoked"
