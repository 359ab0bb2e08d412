"""The medical-premium refund over the API on PostgreSQL, with a worker on a time-skipping server
(the real benefit period and pay day record the failed months) and the simulators over HTTP:
counter application with uploaded receipts → review → paid; amounts per month equal
min(self-paid, standard); exactly one ledger entry per person and month."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlmodel import delete, select

from api.app import create_app
from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.case import BUSINESS_TZ
from models.premium_refund import payment_key
from models.rules import YearMonth as YM
from models.tables import LoginThrottle, PremiumMonth
from sim.testing import SimHandle
from tests.conftest import applicant_login, case_env, login
from tests.factories import CaseEnv, sim_person
from tests.refund_support import bank_payments, ledger_rows, self_paid
from tests.waiting import polls
from tests.workflow.conftest import period_input, start_period

STANDARD = Decimal("368.50")
OVERLAY = f"""\
parameters:
  medical.proxy_standard_monthly:
    values:
      - effective_from: 2020-01-01
        value: "{STANDARD}"
        status: unconfirmed
        source: "test: the 医保 bureau's on-behalf standard"
"""
PDF = b"%PDF-1.4\n% receipt\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest_asyncio.fixture
async def refund_api(
    wf_settings: Settings, pg_db: Database, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, CaseEnv]]:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "operator.yaml").write_text(OVERLAY, encoding="utf-8")
    s = wf_settings.model_copy(
        update={"documents_dir": tmp_path / "documents", "params_dir": tmp_path / "params"}
    )
    async with pg_db.session() as sess:
        await sess.exec(delete(LoginThrottle))  # type: ignore[call-overload]
        await sess.commit()
    async with case_env(s, pg_db) as ce:
        app = create_app(ce.settings, db=pg_db, temporal=ce.env.client)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
        ):
            yield client, ce


async def _upload(api: httpx.AsyncClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    r = await api.post(
        "/api/v1/documents",
        data={"kind": "premium_receipt"},
        files={"file": (name, PDF + name.encode(), "application/pdf")},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return {k: r.json()[k] for k in ("id", "kind", "sha256", "filename")}


async def _detail(
    api: httpx.AsyncClient, case_id: str, headers: dict[str, str], status: str
) -> dict[str, Any]:
    for _ in polls():
        r = await api.get(f"/api/v1/premium-refunds/{case_id}", headers=headers)
        # The create route wrote the case's first row before it answered: never 404.
        assert r.status_code == 200, r.text
        if r.json()["status"] == status:
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id} never reached {status}: {r.text[:300]}")


async def _failed_months(db: Database, case_id: str, n: int) -> list[str]:
    for _ in polls():
        async with db.session() as s:
            rows = (await s.exec(select(PremiumMonth).where(PremiumMonth.case_id == case_id))).all()
        if len(rows) >= n:
            return sorted(r.month for r in rows if r.status == "failed")
        await asyncio.sleep(0.05)
    raise AssertionError("the pay day did not record the premiums")


def _body(
    person: dict[str, Any], year: int, receipts: list[dict[str, Any]], claimed: dict[str, str]
) -> dict[str, Any]:
    return {
        "id_number": person["id_number"],
        "name": person["name"],
        "phone": person["phone"],
        "region_code": "150102",
        "basis": "year_end",
        "year": year,
        "claimed": [{"month": m, "amount": a} for m, a in claimed.items()],
        "receipts": receipts,
        "bank_account": person["account_no"],
    }


async def test_counter_application_with_receipts_to_payment_once(
    refund_api: tuple[httpx.AsyncClient, CaseEnv], sim: SimHandle
) -> None:
    api, ce = refund_api
    year = datetime.now(BUSINESS_TZ).year - 1  # a contribution year that has ended
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    number = person["id_number"]
    await self_paid(sim, number, YM(year, 10), "200.00")  # less than the standard
    await self_paid(sim, number, YM(year, 11), "450.00")  # more: the standard
    inp = period_input(ce.settings, person, first=YM(year, 9), months=3)
    await start_period(ce, inp)  # past months: today's pay day pays September, refused Oct/Nov
    assert await _failed_months(ce.db, inp.case_id, 3) == [f"{year}-10", f"{year}-11"]

    # The supervisors see who may claim, by league (the year-end run's figures), before anyone applies.
    sup = await login(api, "supervisor.hhht")
    r = await api.get("/api/v1/premium-refunds/supervisor/overview", headers=sup)
    assert r.status_code == 200, r.text
    league = [x for x in r.json()["districts"] if x["region_code"] == "150100"]
    assert r.json()["year"] == year and league[0]["people"] >= 1 and league[0]["months"] >= 2
    page = await api.get("/console/premium-refunds/overview", headers=sup)
    assert page.status_code == 200 and "待录入代缴标准的月数" in page.text

    clerk = await login(api, "clerk.xc")
    receipts = [await _upload(api, clerk, f"receipt-{m}.pdf") for m in (10, 11)]
    body = _body(person, year, receipts, {f"{year}-10": "200.00", f"{year}-11": "480.00"})
    no_receipts = await api.post("/api/v1/premium-refunds", json={**body, "receipts": []}, headers=clerk)
    assert (
        no_receipts.status_code == 422 and no_receipts.json()["error"]["code"] == "refund.receipts_required"
    )
    forged = [{**receipts[0], "sha256": "0" * 64}]
    r = await api.post("/api/v1/premium-refunds", json={**body, "receipts": forged}, headers=clerk)
    assert r.status_code == 422 and r.json()["error"]["code"] == "refund.receipt_unknown"
    early = await api.post("/api/v1/premium-refunds", json={**body, "year": year + 1}, headers=clerk)
    assert early.status_code == 422 and early.json()["error"]["code"] == "refund.too_early"
    assert f"{year + 2}-01-01" in early.json()["error"]["message"]  # the date from which he may apply
    r = await api.post("/api/v1/premium-refunds", json=body, headers=clerk)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert number not in case_id

    reviewer = await login(api, "reviewer.xc")
    d = await _detail(api, case_id, reviewer, "under_review")
    lines = {x["month"]: x for x in d["state"]["rounds"][0]["report"]["assessment"]["lines"]}
    assert Decimal(lines[f"{year}-10"]["refund"]) == Decimal("200.00")
    assert Decimal(lines[f"{year}-11"]["refund"]) == STANDARD
    assert "480.00" in lines[f"{year}-11"]["note_zh"] and "450.00" in lines[f"{year}-11"]["note_zh"]
    assert d["state"]["receipts"] == [x["sha256"] for x in receipts]
    # The clerk cannot decide; a refusal needs reason and remedy.
    r = await api.post(f"/api/v1/premium-refunds/{case_id}/decide", json={"action": "approve"}, headers=clerk)
    assert r.status_code == 403
    r = await api.post(
        f"/api/v1/premium-refunds/{case_id}/decide", json={"action": "reject"}, headers=reviewer
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "review.reason_required"
    key = {"Idempotency-Key": "refund-approve-1"}
    first = await api.post(
        f"/api/v1/premium-refunds/{case_id}/decide",
        json={"action": "approve", "round": 1},
        headers={**reviewer, **key},
    )
    assert first.status_code == 200, first.text
    d = await _detail(api, case_id, reviewer, "paid")
    assert Decimal(d["state"]["payment"]["amount"]) == Decimal("200.00") + STANDARD
    retried = await api.post(
        f"/api/v1/premium-refunds/{case_id}/decide",
        json={"action": "approve", "round": 1},
        headers={**reviewer, **key},
    )
    assert retried.status_code == 200 and retried.json() == first.json()
    assert await bank_payments(sim, payment_key(case_id)) == 1
    page = await api.get(f"/console/cases/{case_id}", headers=reviewer)
    assert page.status_code == 200 and "医保费返还" in page.text and "已返还" in page.text
    assert "医保系统记录" in page.text and number not in page.text  # masked on the page
    key_of = applicant_key(ce.settings, number)
    assert await ledger_rows(ce.db, key_of) == [
        (f"{year}-10", case_id, Decimal("200.00")),
        (f"{year}-11", case_id, STANDARD),
    ]

    # The person applies again online: nothing left, the reviewer cannot approve; the ledger holds.
    me = await applicant_login(api, sim.base_url, number)
    r = await api.post("/api/v1/premium-refunds", json={**body, "receipts": []}, headers=me)
    assert r.status_code == 201, r.text
    second = r.json()["case_id"]
    d = await _detail(api, second, reviewer, "under_review")
    assert Decimal(d["state"]["rounds"][0]["report"]["assessment"]["total"]) == 0
    r = await api.post(
        f"/api/v1/premium-refunds/{second}/decide", json={"action": "approve"}, headers=reviewer
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "review.invalid"
    assert len(await ledger_rows(ce.db, key_of)) == 2

    # Another district's reviewer does not see the case.
    other = await login(api, "reviewer.dh")
    r = await api.get(f"/api/v1/premium-refunds/{case_id}", headers=other)
    assert r.status_code == 404
