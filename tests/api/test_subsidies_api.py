"""The skill-upgrade subsidy over the API on PostgreSQL, with a worker on a time-skipping server
and the simulators over HTTP: counter intake → checks → reviewer decision → paid exactly once; and
an employer's batch of 50 internal-evaluation certificates with 5 bad rows."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from sqlmodel import delete

from api.console.web import CSRF_FIELD
from core.db import Database
from core.seed_employers import seed_demo_employers
from models.person import DocumentRef
from models.skill_subsidy import payment_key
from models.tables import LoginThrottle
from sim.testing import SimHandle
from tests.browser.test_console_pages import console_login, csrf_of
from tests.conftest import applicant_login, login
from tests.factories import CaseEnv, sim_certificate, sim_person, store_documents
from tests.waiting import polls

EMPLOYER_PASSWORD = "employer-demo-pass"


@pytest_asyncio.fixture(autouse=True)
async def no_login_lockout(pg_db: Database) -> None:
    """The session's database keeps the login throttle that other test modules trip on purpose
    (same client address); these tests sign in with correct passwords and start from none."""
    async with pg_db.session() as s:
        await s.exec(delete(LoginThrottle))  # type: ignore[call-overload]
        await s.commit()


def application_body(person: dict[str, Any], cert: dict[str, Any], fit: DocumentRef) -> dict[str, Any]:
    """An insured employee's application for an intermediate certificate, with the fit statement."""
    return {
        "id_number": person["id_number"],
        "name": person["name"],
        "phone": person["phone"],
        "applicant_kind": "insured_employee",
        "region_code": "150102",
        "cert_no": cert["cert_no"],
        "occupation_code": cert["occupation_code"],
        "occupation": cert["occupation"],
        "level": "intermediate",
        "issued_on": cert["issued_on"],
        "bank_account": person["account_no"],
        "employer_credit_code": person["last_employer"],
        "fit_statement": fit.model_dump(),
    }


async def _detail(
    api: httpx.AsyncClient, case_id: str, headers: dict[str, str], status: str
) -> dict[str, Any]:
    for _ in polls():
        r = await api.get(f"/api/v1/subsidies/{case_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == status:
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id} stayed {r.json()['status']}")


async def test_counter_application_to_payment_exactly_once(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    api = case_api
    person = await sim_person(sim.base_url, sim.token, cumulative_months=60)
    cert = await sim_certificate(sim, person)
    [fit] = await store_documents(pg_case_env.db, "job_fit_statement")
    body = application_body(person, cert, fit)
    clerk = await login(api, "clerk.xc")
    r = await api.post("/api/v1/subsidies", json=body, headers=clerk)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert person["id_number"] not in case_id
    again = await api.post("/api/v1/subsidies", json=body, headers=clerk)
    assert again.status_code == 409 and again.json()["error"]["code"] == "subsidy.exists"

    reviewer = await login(api, "reviewer.xc")
    d = await _detail(api, case_id, reviewer, "under_review")
    assert d["state"]["rounds"][0]["report"]["assessment"]["eligible"] is True
    # The clerk who took it in cannot decide it; a refusal needs reason and remedy.
    r = await api.post(f"/api/v1/subsidies/{case_id}/decide", json={"action": "approve"}, headers=clerk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.role"
    r = await api.post(f"/api/v1/subsidies/{case_id}/decide", json={"action": "reject"}, headers=reviewer)
    assert r.status_code == 422 and r.json()["error"]["code"] == "review.reason_required"

    key = {"Idempotency-Key": "approve-once-1"}
    first = await api.post(
        f"/api/v1/subsidies/{case_id}/decide",
        json={"action": "approve", "round": 1},
        headers={**reviewer, **key},
    )
    assert first.status_code == 200, first.text
    d = await _detail(api, case_id, reviewer, "paid")
    assert Decimal(d["state"]["payment"]["amount"]) == Decimal("1500")
    retried = await api.post(
        f"/api/v1/subsidies/{case_id}/decide",
        json={"action": "approve", "round": 1},
        headers={**reviewer, **key},
    )
    assert retried.status_code == 200 and retried.json() == first.json()
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        ledger = (await c.get("/admin/bank/ledger")).json()
    assert ledger["payments_per_key"][payment_key(case_id)] == 1
    page = await api.get(f"/console/cases/{case_id}", headers=reviewer)
    assert page.status_code == 200 and "技能提升补贴" in page.text and "已发放" in page.text
    assert person["id_number"] not in page.text  # masked on the page


async def test_employer_batch_of_50_with_5_bad_rows(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, pg_db: Database, sim: SimHandle
) -> None:
    api = case_api
    first = await sim_person(sim.base_url, sim.token, cumulative_months=60)
    employer = first["last_employer"]
    async with pg_db.session() as s:
        await seed_demo_employers(s, [employer], password=EMPLOYER_PASSWORD, regions={employer: "150102"})
    r = await api.post(
        "/api/v1/disputes/employer-login", json={"credit_code": employer, "password": EMPLOYER_PASSWORD}
    )
    emp = {"Authorization": f"Bearer {r.json()['access_token']}"}
    people = [first] + [
        await sim_person(sim.base_url, sim.token, cumulative_months=60, last_employer=employer)
        for _ in range(44)
    ]
    lines = ["id_number,name,phone,bank_account,cert_no,occupation_code,occupation,level,issued_on"]
    for p in people:
        c = await sim_certificate(sim, p, issuer="本单位企业技能等级认定")
        row = [p["id_number"], p["name"], p["phone"], p["account_no"], c["cert_no"]]
        lines.append(",".join([*row, c["occupation_code"], c["occupation"], "中级", c["issued_on"]]))
    ok = lines[1].split(",")
    bad_id = ok[0][:-1] + ("0" if ok[0][-1] != "0" else "1")
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    lines += [
        ",".join([bad_id, *ok[1:4], "BAD0000001", *ok[5:]]),  # line 47: ID checksum
        ",".join([*ok[:4], "BAD0000002", ok[5], ok[6], "特级", ok[8]]),  # line 48: level
        ",".join([*ok[:4], "BAD0000003", ok[5], ok[6], ok[7], tomorrow]),  # line 49: future date
        ",".join(ok),  # line 50: the certificate of line 2 again
        ",".join([*ok[:3], "12", "BAD0000005", *ok[5:]]),  # line 51: bank account
    ]
    [fit] = await store_documents(pg_db, "job_fit_statement")
    r = await api.post(
        "/api/v1/subsidies/batches",
        json={"fit_statement": fit.model_dump(), "csv": "\n".join(lines)},
        headers=emp,
    )
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["rows_total"] == 50 and batch["rows_valid"] == 45
    errors = {row["line"]: row["error_zh"] for row in batch["rows"] if row["error_zh"]}
    assert sorted(errors) == [47, 48, 49, 50, 51]
    assert "身份证" in errors[47] and "等级" in errors[48] and "核发日期" in errors[49]
    assert "重复" in errors[50] and "银行账号" in errors[51]
    assert all(e.startswith(f"第{n}行") for n, e in errors.items())

    staff = await login(api, "reviewer.xc")
    r = await api.post(
        "/api/v1/subsidies/batches", json={"fit_statement": fit.model_dump(), "csv": lines[0]}, headers=staff
    )
    assert r.status_code == 403
    for _ in polls():
        page = (await api.get(f"/api/v1/subsidies/batches/{batch['batch_id']}", headers=emp)).json()
        states = [row["status"] for row in page["rows"] if row["case_id"]]
        if states.count("under_review") == 45:
            break
        await asyncio.sleep(0.1)
    assert states.count("under_review") == 45, states
    one = next(row["case_id"] for row in page["rows"] if row["case_id"])
    d = await _detail(api, one, staff, "under_review")
    assert d["state"]["batch_id"] == batch["batch_id"] and d["state"]["fit_statement_sha256"] == fit.sha256
    assert d["state"]["rounds"][0]["report"]["assessment"]["eligible"] is True
    page = await api.get(f"/console/subsidies/batches/{batch['batch_id']}", headers=staff)
    assert page.status_code == 200 and page.text.count("第4") >= 1 and "银行账号" in page.text

    # The same certificate filed again in a later batch meets its running case: reported, not doubled.
    r = await api.post(
        "/api/v1/subsidies/batches",
        json={"fit_statement": fit.model_dump(), "csv": "\n".join(lines[:2])},
        headers=emp,
    )
    assert r.status_code == 201, r.text
    [row] = r.json()["rows"]
    assert row["case_id"] is None and row["error_zh"].startswith("第2行：") and "重复" in row["error_zh"]


async def test_online_application_by_the_signed_in_applicant_only_for_themselves(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    api = case_api
    person = await sim_person(sim.base_url, sim.token, cumulative_months=60)
    other = await sim_person(sim.base_url, sim.token, cumulative_months=60)
    cert = await sim_certificate(sim, person)
    [fit] = await store_documents(pg_case_env.db, "job_fit_statement")
    body = application_body(person, cert, fit)
    assert (await api.post("/api/v1/subsidies", json=body)).status_code == 401
    someone_else = await applicant_login(api, sim.base_url, other["id_number"])
    r = await api.post("/api/v1/subsidies", json=body, headers=someone_else)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.applicant"
    me = await applicant_login(api, sim.base_url, person["id_number"])
    r = await api.post("/api/v1/subsidies", json=body, headers=me)
    assert r.status_code == 201 and r.json()["channel"] == "online", r.text
    reviewer = await login(api, "reviewer.xc")
    d = await _detail(api, r.json()["case_id"], reviewer, "under_review")
    assert d["state"]["channel"] == "online"
    # The supervisor view of alerts answers (none raised here); a reviewer may not open it.
    supervisor = await login(api, "supervisor.hhht")
    assert (await api.get("/api/v1/subsidies/alerts", headers=supervisor)).status_code == 200
    assert (await api.get("/api/v1/subsidies/alerts", headers=reviewer)).status_code == 403


async def test_console_counter_intake_and_decision(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    """The clerk takes the application in on the console (fit statement uploaded), the reviewer
    approves on the case page; the subsidy is paid once."""
    api = case_api
    person = await sim_person(sim.base_url, sim.token, cumulative_months=60)
    cert = await sim_certificate(sim, person)
    [fit] = await store_documents(pg_case_env.db, "job_fit_statement")
    await console_login(api, "clerk.xc")
    page = await api.get("/console/intake/subsidy")
    assert page.status_code == 200 and "证岗相适" in page.text
    form = {
        CSRF_FIELD: csrf_of(page.text),
        **{k: v for k, v in application_body(person, cert, fit).items() if k != "fit_statement"},
        "doc_id": fit.id,
        "doc_kind": fit.kind,
        "doc_sha256": fit.sha256,
        "doc_filename": "fit.pdf",
    }
    bad = await api.post("/console/intake/subsidy", data=form | {"id_number": person["id_number"][:-1] + "0"})
    assert bad.status_code == 422 and "需要修改" in bad.text
    r = await api.post("/console/intake/subsidy", data=form)
    assert r.status_code == 303, r.text[:300]
    case_url = r.headers["location"]
    case_id = case_url.rsplit("/", 1)[-1]

    await console_login(api, "reviewer.xc")
    for _ in polls():
        page = await api.get(case_url)
        if "提交审核决定" in page.text:
            break
        await asyncio.sleep(0.05)
    assert "已确认" in page.text and "未确认" in page.text  # the rule versions that decide it
    # A rejection without its reason: the page again, with the validator's words and the form.
    r = await api.post(
        f"/console/subsidies/{case_id}/decide",
        data={CSRF_FIELD: csrf_of(page.text), "action": "reject", "round": "1"},
    )
    assert r.status_code == 422 and "必须写明理由和处置方式" in r.text and "不予通过的理由" in r.text
    r = await api.post(
        f"/console/subsidies/{case_id}/decide",
        data={CSRF_FIELD: csrf_of(page.text), "action": "approve", "round": "1"},
    )
    assert r.status_code == 303, r.text[:300]
    reviewer = await login(api, "reviewer.xc")
    await _detail(api, case_id, reviewer, "paid")
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        ledger = (await c.get("/admin/bank/ledger")).json()
    assert ledger["payments_per_key"][payment_key(case_id)] == 1
    await console_login(api, "supervisor.hhht")
    alerts = await api.get("/console/subsidies/alerts")
    assert alerts.status_code == 200 and "技能提升补贴预警" in alerts.text and "补贴预警</a>" in alerts.text
