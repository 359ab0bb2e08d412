"""The authorization matrix, generated from the app's route table: every route × every kind of
principal and staff role × inside and outside the region (or, for employers and applicants,
their own case or another's) → the status its declared policy implies.

No Temporal server: the policy dependency refuses before Temporal is touched, and an admitted
call only has to get past authorization (any answer but 401/403; 404 for a case outside the
caller's scope). A route that declares no policy fails the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from api.csrf import CSRF_COOKIE, CSRF_HEADER, new_csrf_token
from api.deps import SESSION_COOKIE
from api.principals import (
    READ_ONLY_EXEMPT_PATHS,
    Policy,
    effective_routes,
    policy_of,
    scoped_to_case,
    undeclared_routes,
)
from core.db import Database
from core.security import Kind, issue_token
from core.settings import Settings
from models.benefit import period_id_for
from models.enums import READ_ONLY_ROLES, CaseType, Role
from models.tables import CaseRecord, Document, EmployerAccount, Staff
from tests.conftest import prepared_db

INSIDE, OUTSIDE = "150102", "150202"
STAFF_ROLES = [r for r in Role if r not in (Role.EMPLOYER, Role.ADMIN)]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Caller:
    label: str
    kind: Kind | None
    login: str = ""
    roles: tuple[Role, ...] = ()
    region: str = ""
    akey: str | None = None
    inside: bool = True


@dataclass
class World:
    app: FastAPI
    settings: Settings
    claim_id: str
    dispute_id: str
    doc_id: str
    callers: list[Caller]


def _callers(tag: str, akey: str, other_akey: str) -> list[Caller]:
    out = [Caller("anonymous", None)]
    for role in STAFF_ROLES:
        for inside, region in ((True, INSIDE), (False, OUTSIDE)):
            where = "in" if inside else "out"
            out.append(
                Caller(
                    f"{role.value}/{where}",
                    Kind.STAFF,
                    f"mx{tag}.{role.value}.{where}",
                    (role,),
                    region,
                    inside=inside,
                )
            )
    out.append(Caller("admin", Kind.STAFF, f"mx{tag}.admin", (Role.ADMIN,), "150000"))
    out.append(Caller("employer/own", Kind.EMPLOYER, f"91MX{tag}IN"[:18], region=INSIDE))
    out.append(Caller("employer/other", Kind.EMPLOYER, f"91MX{tag}OUT"[:18], region=INSIDE, inside=False))
    out.append(Caller("applicant/own", Kind.APPLICANT, akey, akey=akey))
    out.append(Caller("applicant/other", Kind.APPLICANT, other_akey, akey=other_akey, inside=False))
    return out


async def _seed(
    db: Database, callers: list[Caller], claim_id: str, dispute_id: str, doc_id: str, akey: str
) -> None:
    now = datetime.now(UTC)
    async with db.session() as s:
        for c in callers:
            if c.kind is Kind.STAFF:
                s.add(
                    Staff(
                        login=c.login,
                        name=c.label,
                        password_hash="-",
                        roles=[r.value for r in c.roles],
                        region_code=c.region,
                        created_at=now,
                    )
                )
            elif c.kind is Kind.EMPLOYER:
                s.add(
                    EmployerAccount(
                        credit_code=c.login,
                        name=c.label,
                        password_hash="-",
                        region_code=c.region,
                        created_at=now,
                    )
                )
        own_employer = next(c.login for c in callers if c.label == "employer/own")
        for case_id, case_type, channel in (
            (claim_id, CaseType.BENEFIT_CLAIM, "online"),
            (dispute_id, CaseType.STOP_REASON_DISPUTE, "employer_website"),
            (period_id_for(claim_id), CaseType.BENEFIT_PERIOD, "online"),
        ):
            s.add(
                CaseRecord(
                    case_id=case_id,
                    case_type=case_type.value,
                    status="under_review",
                    stage="review",
                    region_code=INSIDE,
                    applicant_key=akey,
                    employer_credit_code=own_employer if case_type is CaseType.STOP_REASON_DISPUTE else None,
                    channel=channel,
                    received_at=now,
                    updated_at=now,
                )
            )
        s.add(
            Document(
                id=doc_id,
                kind="termination_agreement",
                filename="x.pdf",
                content_type="application/pdf",
                sha256="0" * 64,
                size=1,
                uploaded_by="clerk",
                uploaded_at=now,
                storage_key="missing",
                case_id=claim_id,
            )
        )
        await s.commit()


@pytest_asyncio.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    """Its own database: the matrix adds staff and cases in a demo district, which would show up
    in other tests' inboxes and reminder recipients if it shared theirs."""

    async def _no_temporal() -> Client:
        raise RuntimeError("no Temporal in the authorization matrix")

    tag = uuid.uuid4().hex[:6].upper()
    akey, other_akey = uuid.uuid4().hex[:24], uuid.uuid4().hex[:24]
    claim_id = f"claim-{INSIDE}-{akey}-1"
    dispute_id = f"dispute-{INSIDE}-{akey}-1"
    doc_id = str(uuid.uuid4())
    callers = _callers(tag, akey, other_akey)
    db = await prepared_db(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}", settings)
    await _seed(db, callers, claim_id, dispute_id, doc_id, akey)
    app = create_app(settings, db=db, temporal_connect=_no_temporal)
    yield World(app, settings, claim_id, dispute_id, doc_id, callers)
    await db.dispose()


def _path(w: World, route: Any) -> str:
    values = {
        "case_id": w.dispute_id if "/disputes/" in route.path else w.claim_id,
        "dispute_id": w.dispute_id,
        "period_id": period_id_for(w.claim_id),
        "doc_id": w.doc_id,
        "level": "initial",
        "action": "approve",
        "key": "not-the-key",
        "region_code": INSIDE,
        "pay_date": "2026-12-10",
        "batch_id": "batch-none",
        "notice_id": "0" * 32,
        "code": "AAAA-BBBB-CCCC-DDDD",
    }
    path = route.path
    for name in route.param_convertors:
        path = path.replace("{" + name + "}", values[name])
    return path


def _expected(policy: Policy, route: Any, method: str, c: Caller) -> str:
    """What the declared policy implies: "refused-login", "refused", "not-found" or "admitted"."""
    if policy.public:
        return "public"
    if c.kind is None:
        return "refused-login"
    if not policy.admits(c.kind, c.roles):
        return "refused"
    if (
        method in UNSAFE
        and route.path not in READ_ONLY_EXEMPT_PATHS
        and all(r in READ_ONLY_ROLES for r in c.roles)
        and c.roles
    ):
        return "refused"
    if scoped_to_case(route) and not c.inside:
        return "not-found"
    if "region_code" in route.param_convertors and not c.inside:
        return "refused"  # a region's report, asked from outside that region
    return "admitted"


def _request_args(w: World, route: Any, c: Caller) -> dict[str, dict[str, str]]:
    console = route.path.startswith("/console")
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if c.kind is not None:
        token, _ = issue_token(
            w.settings,
            login=c.login,
            roles=[r.value for r in c.roles],
            region_code=c.region,
            name=c.label,
            applicant_key=c.akey,
            kind=c.kind,
        )
        if console:
            cookies[SESSION_COOKIE] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
    if console:  # the console's forms carry their CSRF token; give every caller a valid pair
        csrf = new_csrf_token(w.settings, c.login if c.kind is Kind.STAFF else "anon")
        cookies[CSRF_COOKIE] = csrf
        headers[CSRF_HEADER] = csrf
    return {"headers": headers, "cookies": cookies}


async def test_every_route_declares_a_policy(world: World) -> None:
    assert undeclared_routes(world.app.routes) == []


async def test_a_route_without_a_declared_policy_fails_the_matrix(world: World) -> None:
    @world.app.get("/api/v1/throwaway")
    async def throwaway() -> dict[str, str]:
        return {"secret": "open to all"}

    assert undeclared_routes(world.app.routes) == ["['GET'] /api/v1/throwaway"]


async def test_authorization_matrix(world: World) -> None:
    w = world
    failures: list[str] = []
    cells = 0
    routes = [r for r in effective_routes(w.app.routes) if getattr(r, "dependant", None) is not None]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=w.app), base_url="http://test") as client:
        for route in routes:
            policy = policy_of(route)
            assert policy is not None, route.path
            path = _path(w, route)
            console = route.path.startswith("/console")
            for method in sorted(route.methods - {"HEAD"}):
                for c in w.callers:
                    expect = _expected(policy, route, method, c)
                    args = _request_args(w, route, c)
                    client.cookies.clear()
                    client.cookies.update(args["cookies"])
                    r = await client.request(
                        method,
                        path,
                        json={} if method in UNSAFE and not console else None,
                        follow_redirects=False,
                        headers=args["headers"],
                    )
                    cells += 1
                    got = r.status_code
                    to_login = got == 303 and r.headers.get("location", "").startswith("/console/login")
                    ok = {
                        "public": got < 500 or got == 503,
                        "refused-login": to_login if console else got == 401,
                        "refused": got in (401, 403) and not (console and got == 401),
                        "not-found": got == 404,
                        "admitted": got not in (401, 403) and not to_login,
                    }[expect]
                    if not ok:
                        failures.append(
                            f"{method} {route.path} as {c.label}: expected {expect}, got {got} {r.text[:120]}"
                        )
    assert not failures, f"{len(failures)} of {cells} cells:\n" + "\n".join(failures)
    assert cells > 1000


@pytest.mark.parametrize("kind", [Kind.EMPLOYER, Kind.APPLICANT])
async def test_staff_routes_refuse_employer_and_applicant_tokens(world: World, kind: Kind) -> None:
    """Issue 12 item 1: an employer's (or applicant's) token opened the case list, the claim
    detail, the full applicant view and the document download."""
    c = next(x for x in world.callers if x.kind is kind and x.inside)
    args = _request_args(
        world, next(r for r in effective_routes(world.app.routes) if r.path == "/api/v1/cases"), c
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url="http://test"
    ) as client:
        for path in (
            "/api/v1/cases",
            "/api/v1/cases/inbox",
            "/api/v1/cases/stats",
            f"/api/v1/claims/{world.claim_id}",
            f"/api/v1/claims/{world.claim_id}/applicant?full=true",
            f"/api/v1/documents/{world.doc_id}",
            f"/api/v1/cases/{world.claim_id}/timeline",
        ):
            r = await client.get(path, headers=args["headers"])
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"]["code"] == "auth.kind"
