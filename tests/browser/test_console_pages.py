"""The console's pages over HTTP, in process, on PostgreSQL (no browser, no Temporal): sign-in
and its cookie, CSRF, role and region gates, the inbox's order, filters, paging and overdue
marks over synthetic cases, the supervisor's counts and charts, and the synthetic-data helper
itself."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import col, select

from api.console.fixtures import (
    SYNTHETIC_PREFIX,
    delete_synthetic_cases,
    insert_synthetic_cases,
    synthetic_rows,
)
from api.console.web import CSRF_COOKIE, CSRF_FIELD
from core.db import Database
from core.seed import DEMO_PASSWORD, upsert_staff
from models.case import local_date
from models.enums import Role
from models.tables import AuditLog, CaseRecord

pytestmark = pytest.mark.postgres

# A county no other test files cases in, so the counts below are exact.
REGION = "150121"  # 土默特左旗
N = 260


async def console_login(
    client: httpx.AsyncClient, login: str, password: str = DEMO_PASSWORD
) -> httpx.Response:
    client.cookies.clear()  # a fresh browser: no session, no token
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return await client.post(
        "/console/login", data={"login": login, "password": password, CSRF_FIELD: token.group(1)}
    )


def csrf_of(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m
    return m.group(1)


def row_ids(html: str) -> list[str]:
    return re.findall(r'<td class="c-id"[^>]*><a href="/console/cases/([^"]+)"', html)


@pytest_asyncio.fixture(scope="module")
async def synthetic(pg_db: Database) -> AsyncIterator[int]:
    """Synthetic cases in ``REGION`` and a reviewer and a supervisor there; removed afterwards."""
    async with pg_db.session() as s:
        await upsert_staff(s, "reviewer.tmz", "测审核（土左旗）", [Role.REVIEWER], REGION, DEMO_PASSWORD)
        await upsert_staff(s, "supervisor.tmz", "测主管（土左旗）", [Role.SUPERVISOR], REGION, DEMO_PASSWORD)
        await upsert_staff(s, "auditor.tmz", "测审计（土左旗）", [Role.AUDITOR], REGION, DEMO_PASSWORD)
    await delete_synthetic_cases(pg_db, REGION)
    n = await insert_synthetic_cases(pg_db, REGION, N, seed=8)
    try:
        yield n
    finally:
        await delete_synthetic_cases(pg_db, REGION)


async def test_sign_in_sets_a_strict_httponly_session_and_csrf_guards_it(
    console_http: httpx.AsyncClient, pg_db: Database
) -> None:
    r = await console_http.get("/console/inbox")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/inbox"

    page = await console_http.get("/console/login")
    assert page.status_code == 200 and "工作人员登录" in page.text
    assert (
        "Content-Security-Policy" in page.headers
        and "script-src 'self'" in page.headers["content-security-policy"]
    )
    # No token, a forged token: refused before the password is even looked at.
    r = await console_http.post("/console/login", data={"login": "reviewer.xc", "password": DEMO_PASSWORD})
    assert r.status_code == 403 and "页面已过期" in r.text
    r = await console_http.post(
        "/console/login", data={"login": "reviewer.xc", "password": DEMO_PASSWORD, CSRF_FIELD: "x.y"}
    )
    assert r.status_code == 403

    bad = await console_login(console_http, "reviewer.xc", "wrong")
    assert bad.status_code == 401 and "用户名或密码不正确" in bad.text

    ok = await console_login(console_http, "reviewer.xc")
    assert ok.status_code == 303 and ok.headers["location"] == "/console/inbox"
    cookies = [h for k, h in ok.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("uiflow_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert any(c.startswith(f"{CSRF_COOKIE}=") for c in cookies)

    inbox = await console_http.get("/console/inbox")
    assert inbox.status_code == 200
    assert "李审核（新城区）" in inbox.text and "审核员" in inbox.text and "呼和浩特市 新城区" in inbox.text
    assert inbox.headers["cache-control"] == "no-store"

    # The anonymous token from the sign-in form is void once signed in; the page's token works.
    r = await console_http.post("/console/logout", data={CSRF_FIELD: "nope.nope"})
    assert r.status_code == 403
    r = await console_http.post("/console/logout", data={CSRF_FIELD: csrf_of(inbox.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login?bye=1"
    assert (await console_http.get("/console/inbox")).status_code == 303
    async with pg_db.session() as s:
        n = (
            await s.exec(
                select(func.count())
                .select_from(AuditLog)
                .where(
                    AuditLog.actor == "reviewer.xc", col(AuditLog.action).in_(["auth.login", "auth.logout"])
                )
            )
        ).one()
    assert n >= 2


async def test_open_redirects_and_static_files(console_http: httpx.AsyncClient) -> None:
    await console_login(console_http, "reviewer.xc")
    page = await console_http.get("/console/login")  # already signed in: straight on
    assert page.status_code == 303
    r = await console_http.get("/console/login?next=//evil.example/x")
    assert r.headers["location"] == "/console/inbox"
    js = await console_http.get("/console/static/htmx-2.0.11.min.js")
    assert js.status_code == 200 and "htmx" in js.text[:200]
    css = await console_http.get("/console/static/console.css")
    assert css.status_code == 200 and "--navy" in css.text


async def test_inbox_sorted_by_deadline_with_overdue_in_red_filters_and_paging(
    console_http: httpx.AsyncClient, synthetic: int, pg_db: Database
) -> None:
    await console_login(console_http, "reviewer.tmz")
    r = await console_http.get("/console/inbox?size=20")
    assert r.status_code == 200
    async with pg_db.session() as s:
        waiting = (
            await s.exec(
                select(CaseRecord).where(
                    CaseRecord.region_code == REGION,
                    col(CaseRecord.stage).in_(["review", "initial_review"]),
                    col(CaseRecord.closed_at).is_(None),
                )
            )
        ).all()
    expected = sorted(waiting, key=lambda c: (c.deadline or date.max, c.case_id))
    assert f"共 <strong>{len(expected)}</strong> 件" in r.text
    assert row_ids(r.text) == [c.case_id for c in expected[:20]]
    # The most urgent come first and are overdue: marked red, with the working days past due.
    first = re.search(
        r'<tr class="(due-[a-z]+)" data-row>\s*<td class="c-due"[^>]*><span class="due [^"]+">([^<]+)<',
        r.text,
    )
    assert first and first.group(1) == "due-over" and re.fullmatch(r"逾期\d+个工作日", first.group(2))
    overdue = [c for c in expected if c.overdue]
    assert f"其中逾期 <strong>{len(overdue)}</strong> 件" in r.text

    # The same cases, in the same order, as the API's inbox.
    token = await httpx_api_login(console_http, "reviewer.tmz")
    api = (await console_http.get("/api/v1/cases/inbox?page_size=200", headers=token)).json()
    console_all = row_ids((await console_http.get("/console/inbox?size=100")).text) + row_ids(
        (await console_http.get("/console/inbox?size=100&page=2")).text
    )
    assert console_all[: len(api["items"])] == [i["case_id"] for i in api["items"]]

    # Filters: overdue only, by type, by status; paging keeps them.
    only_over = await console_http.get("/console/inbox?overdue=1&size=20")
    ids = row_ids(only_over.text)
    assert ids and set(ids) <= {c.case_id for c in overdue}
    disputes = row_ids((await console_http.get("/console/inbox?type=stop_reason_dispute&size=100")).text)
    assert disputes == [c.case_id for c in expected if c.case_type == "stop_reason_dispute"][:100]
    page2 = await console_http.get("/console/inbox?size=20&page=2")
    assert row_ids(page2.text) == [c.case_id for c in expected[20:40]]
    assert "第 21–40 件" in page2.text
    # 下一页/上一页 carry a keyset cursor (issue 19): page 3 by cursor is page 3 by number, and
    # its 上一页 is page 2 again.
    nxt = re.search(
        r'data-pager="next" href="(/console/inbox\?size=20&amp;page=3&amp;after=[^"]+)"', page2.text
    )
    assert nxt, "the next link carries the cursor"
    page3 = await console_http.get(html.unescape(nxt.group(1)))
    assert row_ids(page3.text) == [c.case_id for c in expected[40:60]] and "第 41–60 件" in page3.text
    prv = re.search(r'data-pager="prev" href="([^"]+)"', page3.text)
    assert prv and "before=" in prv.group(1)
    assert row_ids((await console_http.get(html.unescape(prv.group(1)))).text) == row_ids(page2.text)

    # htmx asks for the table only.
    part = await console_http.get(
        "/console/inbox?size=20", headers={"HX-Request": "true", "HX-Target": "case-table"}
    )
    assert part.text.lstrip().startswith('<div id="case-table"') and "<html" not in part.text


async def httpx_api_login(client: httpx.AsyncClient, login: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"login": login, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_region_and_role_scope(console_http: httpx.AsyncClient, synthetic: int) -> None:
    await console_login(console_http, "reviewer.dh")
    listed = await console_http.get(f"/console/cases?region={REGION}")
    assert listed.status_code == 403 and "不在您所属地区的管辖范围内" in listed.text
    everything = await console_http.get("/console/cases?size=100")
    assert not any(i.startswith(f"{SYNTHETIC_PREFIX}{REGION}") for i in row_ids(everything.text))
    case = await console_http.get(f"/console/cases/{SYNTHETIC_PREFIX}{REGION}-8-000000")
    assert case.status_code == 404 and "未找到该案件" in case.text  # outside the scope it does not exist
    assert (await console_http.get("/console/cases/nope")).status_code == 404
    # A reviewer has no counter intake and no supervisor view.
    intake = await console_http.get("/console/intake")
    assert intake.status_code == 403 and "窗口受理员" in intake.text
    assert (await console_http.get("/console/supervisor")).status_code == 403
    # htmx gets a fragment aimed at the alert area, not a whole page.
    frag = await console_http.get("/console/supervisor", headers={"HX-Request": "true"})
    assert frag.status_code == 403 and frag.headers["HX-Retarget"] == "#flash" and "<html" not in frag.text

    # Operations staff get the link into the Temporal Web UI; a case type without its own page
    # still shows its read-model record.
    refund = next(r for r in synthetic_rows(REGION, N, seed=8) if r["case_type"] == "premium_refund")
    await console_login(console_http, "ops.nmg")
    page = await console_http.get(f"/console/cases/{refund['case_id']}")
    assert page.status_code == 200 and "医保费退费" in page.text
    assert f'href="http://127.0.0.1:8233/namespaces/default/workflows/{refund["case_id"]}"' in page.text
    r = await console_http.get(f"/console/go?q={refund['case_id']}")
    assert r.status_code == 303 and r.headers["location"] == f"/console/cases/{refund['case_id']}"
    assert (await console_http.get("/console/go?q=claim-nope")).status_code == 404
    await console_login(console_http, "reviewer.tmz")
    page = await console_http.get(f"/console/cases/{refund['case_id']}")
    assert page.status_code == 200 and "Temporal Web UI" not in page.text

    # An auditor reads but never writes (the API's own rule), and can still sign out.
    await console_login(console_http, "auditor.tmz")
    page = await console_http.get("/console/supervisor")
    assert page.status_code == 200
    r = await console_http.post(
        f"/console/cases/{SYNTHETIC_PREFIX}{REGION}-8-000000/decide",
        data={CSRF_FIELD: csrf_of(page.text), "decision": "approve"},
    )
    assert r.status_code == 403 and "审计角色只能查看" in r.text
    # Signing out is the one POST a read-only role may make: it changes only their own session.
    r = await console_http.post("/console/logout", data={CSRF_FIELD: csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login?bye=1"


async def test_supervisor_view_counts_and_charts(
    console_http: httpx.AsyncClient, synthetic: int, pg_db: Database
) -> None:
    await console_login(console_http, "supervisor.tmz")
    r = await console_http.get("/console/supervisor")
    assert r.status_code == 200
    rows = synthetic_rows(REGION, N, seed=8)
    open_rows = [c for c in rows if c["closed_at"] is None]
    overdue_open = [c for c in open_rows if c["overdue"]]

    def kpi(label: str) -> str:
        m = re.search(
            rf'<span class="kpi-label">{label}</span><span class="kpi-value">([^<]+)</span>', r.text
        )
        assert m, label
        return m.group(1)

    assert kpi("在办案件") == str(len(open_rows))
    assert kpi("逾期未办结") == str(len(overdue_open))
    since = local_date(datetime.now(UTC)) - timedelta(days=29)
    decided = [c for c in rows if c["decided_at"] is not None and local_date(c["decided_at"]) >= since]
    within = [c for c in decided if c["summary"].get("decided_within_limit")]
    assert kpi("近30日时限内办结率") == f"{round(100 * len(within) / len(decided), 1)}%"
    assert kpi("近30日受理") == str(sum(1 for c in rows if local_date(c["received_at"]) >= since))
    # Charts are inline SVG: 30 days of paired bars, bars per status and region.
    assert r.text.count('class="bar-received"') == 30 and r.text.count('class="bar-decided"') == 30
    assert "待审核" in r.text and "土默特左旗" in r.text and "<script" not in r.text.split("</head>")[1]
    assert len(row_ids_any(r.text)) > 0


def row_ids_any(html: str) -> list[str]:
    return re.findall(r'href="/console/cases/([^"]+)"', html)


async def test_synthetic_rows_are_plausible_and_removable(pg_db: Database) -> None:
    rows: list[dict[str, Any]] = synthetic_rows("150100", 500, seed=3)
    assert {r["region_code"] for r in rows} > {"150102", "150105"}  # spread over the league's counties
    assert all(
        r["case_id"].startswith(SYNTHETIC_PREFIX) and "********" in r["applicant_id_masked"] for r in rows
    )
    today = local_date(datetime.now(UTC))
    assert all((r["deadline"] < today) == r["overdue"] for r in rows if r["deadline"])
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert synthetic_rows("150100", 50, seed=3, now=now) == synthetic_rows("150100", 50, seed=3, now=now)
    assert await insert_synthetic_cases(pg_db, "150105", 1500, seed=99) == 1500
    assert await delete_synthetic_cases(pg_db, "150105") == 1500
