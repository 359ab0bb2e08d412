"""Bad input on the lists, inbox, stats and console pages, and in credential headers, is a 4xx
with a clear Chinese message, never a 500 (issue 12 item 13)."""

from __future__ import annotations

import httpx
import pytest

from activities.gov.callbacks import SIGNATURE_HEADER
from api.console.web import CSRF_HEADER
from tests.browser.test_console_pages import console_login, csrf_of
from tests.conftest import login

pytestmark = pytest.mark.postgres

API_LISTS = ("/api/v1/cases", "/api/v1/cases/inbox", "/api/v1/cases/stats")
HUGE = str(10**19)


@pytest.mark.parametrize("path", API_LISTS)
@pytest.mark.parametrize(
    "query,field,words",
    [
        ({"region": "abc"}, "region", "地区"),
        ({"region": "159999"}, "region", "地区"),
        ({"page": HUGE}, "page", "数值过大"),
    ],
)
async def test_lists_refuse_bad_query_with_a_chinese_message(
    pg_api: httpx.AsyncClient, path: str, query: dict[str, str], field: str, words: str
) -> None:
    if field == "page" and path.endswith("stats"):
        query = {"days": HUGE}
        field, words = "days", "数值过大"
    r = await pg_api.get(path, params=query, headers=await login(pg_api, "supervisor.hhht"))
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "request.invalid" and words in err["fields"][field], err


async def test_naive_received_from_is_refused(pg_api: httpx.AsyncClient) -> None:
    headers = await login(pg_api, "supervisor.hhht")
    r = await pg_api.get("/api/v1/cases", params={"received_from": "2026-01-05T09:00:00"}, headers=headers)
    assert r.status_code == 422 and "时区" in r.json()["error"]["fields"]["received_from"]
    r = await pg_api.get(
        "/api/v1/cases", params={"received_from": "2026-01-05T09:00:00+08:00"}, headers=headers
    )
    assert r.status_code == 200, r.text


async def test_nul_in_a_parameter_or_body_is_refused_before_the_database(pg_api: httpx.AsyncClient) -> None:
    headers = await login(pg_api, "admin")
    r = await pg_api.get("/api/v1/audit/verify", params={"case_id": "a\x00b"}, headers=headers)
    assert r.status_code == 422 and "NUL" in r.json()["error"]["message"]
    r = await pg_api.get("/api/v1/claims/claim%00x", headers=headers)
    assert r.status_code == 422
    r = await pg_api.post("/api/v1/auth/login", json={"login": "a\x00", "password": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"


@pytest.mark.parametrize("path", ["/api/v1/callbacks/gov", "/api/v1/disputes/callbacks/ticket"])
async def test_non_ascii_signature_is_refused(pg_api: httpx.AsyncClient, path: str) -> None:
    r = await pg_api.post(path, content=b"{}", headers={SIGNATURE_HEADER: "签名".encode()})  # type: ignore[dict-item]
    assert r.status_code == 400 and "ASCII" in r.json()["error"]["message"]


async def test_console_pages_survive_bad_filters_and_headers(pg_api: httpx.AsyncClient) -> None:
    r = await console_login(pg_api, "supervisor.hhht")
    assert r.status_code == 303, r.text
    for path in ("/console/inbox", "/console/cases", "/console/supervisor"):
        for query in ({"region": "abc"}, {"region": "159999"}, {"page": HUGE}, {"received_from": "x"}):
            r = await pg_api.get(path, params=query)
            assert r.status_code < 500, (path, query, r.status_code, r.text[:300])
    page = await pg_api.get("/console/inbox")
    assert csrf_of(page.text)
    r = await pg_api.post("/console/logout", headers={CSRF_HEADER: "令牌".encode()})  # type: ignore[dict-item]
    assert r.status_code == 400 and "ASCII" in r.json()["error"]["message"]
