"""api.routes.policy: the same calculators over HTTP, with structured 422 refusals, on the real app
with its authentication (signed in as a clerk)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from core.db import Database
from core.settings import Settings
from tests.conftest import login


@pytest.fixture
async def client(settings: Settings, sqlite_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (the calculators are for signed-in staff only), signed in as a clerk."""
    app = create_app(settings, db=sqlite_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        c.headers.update(await login(c, "clerk.xc"))
        yield c


async def test_the_calculators_need_a_signed_in_staff_member(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "retirement-age"), ("POST", "check-id")):
        r = await client.request(
            method,
            f"/api/v1/policy/{path}",
            headers={"Authorization": ""},
            params={"category": "male", "birth": "1965-08"},
            json={"number": "11010519491231002X"},
        )
        assert r.status_code == 401, (path, r.text)


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(f"/api/v1/policy/{path}", params=params)


async def test_retirement_age(client: httpx.AsyncClient) -> None:
    r = await get(client, "retirement-age", category="male", birth="1965-08")
    assert r.status_code == 200
    body = r.json()
    assert body["retirement_month"] == "2025-10" and body["delay_months"] == 2
    assert body["parameter_version"].startswith("params-")


async def test_review_deadline_and_working_days(client: httpx.AsyncClient) -> None:
    r = await get(client, "review-deadline", received="2025-01-20")
    assert r.status_code == 200
    assert r.json()["deadline"] == "2025-02-08" and r.json()["calendar_version"].startswith("cn-")
    r = await get(client, "working-days", start="2025-01-01", end="2025-12-31")
    assert r.json()["count"] == 248


async def test_entitlement_and_amount(client: httpx.AsyncClient) -> None:
    r = await get(client, "entitlement", contribution_months=11)
    assert r.json()["eligible"] is False and r.json()["reason"] == "eligibility.contribution_short"
    assert r.json()["reason_zh"]
    r = await get(client, "benefit-amount", month_index=13, pay_month="2024-12")
    body = r.json()
    assert (body["amount"], body["rate"], body["base"], body["confirmed"]) == ("1929.5", "0.85", "2270", True)
    assert {p["name"] for p in body["parameters"]} >= {"minimum_wage.category1_monthly"}
    r = await get(client, "benefit-amount", month_index=1, pay_month="2025-12")
    assert r.json()["amount"] == "2261" and r.json()["confirmed"] is False


async def test_other_calculators(client: httpx.AsyncClient) -> None:
    assert (await get(client, "min-contribution", retirement_year=2039)).json() == {"months": 240}
    assert (await get(client, "refund", paid="300.5", standard="280")).json() == {"refund": "280"}
    r = await get(
        client,
        "near-retirement",
        category="male",
        birth="1966-03",
        expiry="2025-05",
        receiving_on_2024_12_31="yes",
    )
    body = r.json()
    assert body["outcome"] == "transitional_to_original_retirement" and body["pay_through"] == "2026-03"
    assert body["requires_application"] is True and body["outcome_zh"]
    r = await client.post("/api/v1/policy/check-id", json={"number": "11010519491231002X"})
    assert r.json()["valid"] is True and r.json()["sex"] == "female"
    r = await client.post("/api/v1/policy/check-id", json={"number": "110105194912310021"})
    assert r.status_code == 200 and r.json()["valid"] is False and r.json()["error"] == "id.checksum"


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("retirement-age", {"category": "male", "birth": "1965-13"}, "yearmonth.invalid"),
        ("retirement-age", {"category": "robot", "birth": "1965-01"}, "request.invalid"),
        ("review-deadline", {"received": "2099-01-05"}, "calendar.year_missing"),
        ("review-deadline", {"received": "2025-02-30"}, "date.invalid"),
        ("review-deadline", {"received": "2025-01-20", "working_days": -1}, "calendar.count_invalid"),
        ("working-days", {"start": "2025-02-09", "end": "2025-02-08"}, "calendar.range_invalid"),
        ("entitlement", {"contribution_months": -1}, "entitlement.months_invalid"),
        ("entitlement", {"contribution_months": "x"}, "request.invalid"),
        ("benefit-amount", {"month_index": 0, "pay_month": "2025-01"}, "benefit.month_index_invalid"),
        ("refund", {"paid": "-1", "standard": "280"}, "amount.negative"),
        ("refund", {"paid": "NaN", "standard": "280"}, "amount.invalid"),
        ("min-contribution", {"retirement_year": 1990}, "retirement.year_out_of_range"),
    ],
)
async def test_bad_input_is_a_structured_422(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], code: str
) -> None:
    r = await get(client, path, **params)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == code and err["message"]


async def test_every_route_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = {p: v for p, v in spec["paths"].items() if p.startswith("/api/v1/policy/")}
    assert len(paths) == 9
    schemas = spec["components"]["schemas"]
    for p, ops in paths.items():
        op = ops.get("get") or ops["post"]
        assert op.get("summary"), p
        has_example = any(
            "example" in prm or "examples" in prm or "examples" in prm.get("schema", {})
            for prm in op.get("parameters", [])
        )
        if "requestBody" in op:  # POST (check-id): the example is on the body schema's fields
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            has_example = any("examples" in f for f in schemas[ref]["properties"].values())
        assert has_example, p
