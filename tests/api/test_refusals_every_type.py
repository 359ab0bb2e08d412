"""Issue 21, "what it must show": a decision refused for the same reason answers the same HTTP
status and the same stable code on every case type that has staff decisions.

Two halves:

* The refusals a route's declared principals make (a wrong role: 403 ``auth.role``; a staff
  member of another region: 404 ``case.not_found``) are decided before any workflow is asked, so
  they are walked over every type on the real app and PostgreSQL with a read-model row of each
  type (as the authorization matrix does), parametrized by type.
* The refusals the workflows make (a missing reason, a decision on a decided case) run on real
  workflows through the real API, one case per type: claim, skill subsidy, dispute, risk
  verification, service request. The benefit period's are in tests/api/test_periods_api.py (the
  same codes: ``period.reason_required`` from its route, ``case.decided`` once finished; its case
  needs the test clock moved, which the other cases here must not share); the premium refund's
  missing reason in tests/api/test_premium_refunds_api.py (``review.reason_required``), and its
  decided/closed refusal is the review kit desk's ``case.decided`` (``check_undecided``), as the
  subsidy's here.

Which types require a reason for which decision (c): a claim, a dispute level, a skill subsidy,
a premium refund and a risk verification's supervisor refuse a *rejection* without one
(``review.reason_required``, the review kit), and a verification's sanction proposal a fine
without its justification; an approval needs none on any type. A benefit-period operation needs
one always (``period.reason_required``). A service request has no reason to give: its answer
needs its content (``service.note_required``, the same 422)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, delete

from core.db import Database
from core.security import issue_token
from core.settings import Settings
from models.benefit import period_id_for
from models.claim import claim_id_for
from models.dispute import dispute_id_for
from models.enums import CaseType, Channel, Role
from models.premium_refund import refund_id_for
from models.service_request import request_id_for
from models.skill_subsidy import subsidy_id_for
from models.tables import CaseRecord, Staff
from models.verification import VerificationParty, verification_id_for
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body, wait_for
from tests.api.test_subsidies_api import application_body
from tests.conftest import login
from tests.factories import (
    CaseEnv,
    applied,
    dispute_input,
    sim_certificate,
    sim_person,
    start_dispute,
    start_verification,
    store_documents,
)
from tests.waiting import polls

REGION, ELSEWHERE = "150102", "150202"


@dataclass(frozen=True)
class Decision:
    """One staff decision of a case type: where it is posted, with what, and who may make it."""

    case_type: CaseType
    case_id: str
    url: str
    body: dict[str, Any]
    roles: tuple[Role, ...]  # a role the route admits


def _decisions() -> list[Decision]:
    key = uuid.uuid4().hex[:24]
    tag = uuid.uuid4().hex[:6]
    claim = claim_id_for(REGION, key, 1)
    verification = verification_id_for(REGION, tag)
    request = request_id_for(REGION, "counter", tag)
    return [
        Decision(CaseType.BENEFIT_CLAIM, claim, f"/api/v1/claims/{claim}/approve", {}, (Role.REVIEWER,)),
        Decision(
            CaseType.STOP_REASON_DISPUTE,
            d := dispute_id_for(REGION, key, 1),
            f"/api/v1/disputes/{d}/reviews/initial/approve",
            {"note": "同意"},
            (Role.REVIEWER,),
        ),
        Decision(
            CaseType.BENEFIT_PERIOD,
            p := period_id_for(claim),
            f"/api/v1/periods/{p}/suspend",
            {"reason": "举报线索核查"},
            (Role.REVIEWER,),
        ),
        Decision(
            CaseType.SKILL_SUBSIDY,
            s := subsidy_id_for(REGION, key, tag),
            f"/api/v1/subsidies/{s}/decide",
            {"action": "approve"},
            (Role.REVIEWER,),
        ),
        Decision(
            CaseType.RISK_CHECK,
            verification,
            f"/api/v1/risk/verifications/{verification}/approval/approve",
            {},
            (Role.SUPERVISOR,),
        ),
        Decision(
            CaseType.COMPLAINT,
            request,
            f"/api/v1/service-requests/{request}/answer",
            {"note": "已电话答复诉求人"},
            (Role.INTAKE_CLERK,),
        ),
        Decision(
            CaseType.PREMIUM_REFUND,
            r := refund_id_for(REGION, key, tag),
            f"/api/v1/premium-refunds/{r}/decide",
            {"action": "approve"},
            (Role.REVIEWER,),
        ),
    ]


DECISIONS = _decisions()


class Seeded:
    """The read-model rows and staff members a test adds to the shared session database, removed
    when it ends: a bare row would show in other tests' inboxes and overviews, a member among
    their reminder recipients."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.cases: list[str] = []
        self.staff: list[str] = []

    async def row(self, d: Decision) -> None:
        now = datetime.now(UTC)
        async with self.db.session() as s:
            s.add(
                CaseRecord(
                    case_id=d.case_id,
                    case_type=d.case_type.value,
                    status="under_review",
                    stage="review",
                    region_code=REGION,
                    applicant_key=uuid.uuid4().hex[:24],
                    channel="counter",
                    received_at=now,
                    updated_at=now,
                )
            )
            await s.commit()
        self.cases.append(d.case_id)

    async def member(self, roles: tuple[Role, ...], region: str) -> dict[str, str]:
        """A staff member of our own (never a demo account another test might lock or change)."""
        login_name = f"refusal-{uuid.uuid4().hex[:10]}"
        async with self.db.session() as s:
            s.add(
                Staff(
                    login=login_name,
                    name="测试人员",
                    password_hash="-",
                    roles=[r.value for r in roles],
                    region_code=region,
                    created_at=datetime.now(UTC),
                )
            )
            await s.commit()
        self.staff.append(login_name)
        token, _ = issue_token(
            self.settings,
            login=login_name,
            roles=[r.value for r in roles],
            region_code=region,
            name="测试人员",
        )
        return {"Authorization": f"Bearer {token}"}

    async def remove(self) -> None:
        async with self.db.session() as s:
            await s.exec(delete(CaseRecord).where(col(CaseRecord.case_id).in_(self.cases)))  # type: ignore[call-overload]
            await s.exec(delete(Staff).where(col(Staff.login).in_(self.staff)))  # type: ignore[call-overload]
            await s.commit()


@pytest_asyncio.fixture
async def seeded(pg_db: Database, settings: Settings) -> AsyncIterator[Seeded]:
    seeded = Seeded(pg_db, settings)
    try:
        yield seeded
    finally:
        await seeded.remove()


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, str(r.json()["error"]["code"])


@pytest.mark.parametrize("d", DECISIONS, ids=[d.case_type.value for d in DECISIONS])
async def test_principal_refusals_are_the_same_on_every_type(
    pg_api: httpx.AsyncClient, seeded: Seeded, d: Decision
) -> None:
    await seeded.row(d)
    # (a) A role the decision does not admit (an operations engineer, region-wide): 403 auth.role.
    ops = await seeded.member((Role.OPS_ENGINEER,), "150000")
    assert _error(await pg_api.post(d.url, json=d.body, headers=ops)) == (403, "auth.role")
    # (b) The right role, another region: the case does not exist for them.
    elsewhere = await seeded.member(d.roles, ELSEWHERE)
    assert _error(await pg_api.post(d.url, json=d.body, headers=elsewhere)) == (404, "case.not_found")


async def test_a_service_request_without_its_row_is_not_found_whatever_its_id_says(
    pg_api: httpx.AsyncClient, seeded: Seeded
) -> None:
    """A request is scoped by its read-model row only: intake writes the row before it answers
    (tests/api/test_service_requests_api.py), so the loader no longer reads a region out of the
    id; an id naming the caller's own region but without a row is 404 for everyone."""
    case_id = request_id_for(REGION, "counter", uuid.uuid4().hex[:12])
    for region in (ELSEWHERE, REGION):
        who = await seeded.member((Role.INTAKE_CLERK,), region)
        for method, url in (("GET", ""), ("POST", "/contact")):
            r = await pg_api.request(method, f"/api/v1/service-requests/{case_id}{url}", headers=who)
            assert _error(r) == (404, "case.not_found"), r.text


async def _until(api: httpx.AsyncClient, url: str, who: dict[str, str], ok: Any) -> dict[str, Any]:
    """Poll a case page until ``ok(page)`` (a workflow step the test waits for)."""
    for _ in polls():
        r = await api.get(url, headers=who)
        # 404 until the first projection of a case the test started on the workflow client.
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200 and ok(r.json()):
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url}: {r.text[:300]}")


async def test_workflow_refusals_are_the_same_on_every_type(
    case_api: httpx.AsyncClient, pg_case_env: CaseEnv, sim: SimHandle
) -> None:
    """(c) and (d) on real workflows, one case per type: a missing reason is 422
    ``review.reason_required`` (a request's missing answer ``service.note_required``); a decision
    on a decided case is 409 ``case.decided``, whether its workflow still runs (the desk's own
    code, ``DecisionDesk.check_undecided``) or has finished (Temporal's NOT_FOUND)."""
    api = case_api
    clerk = await login(api, "clerk.xc")
    reviewer = await login(api, "reviewer.xc")

    # The claim (a one-level review).
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    r = await api.post("/api/v1/claims", json=claim_body(person), headers=clerk)
    assert r.status_code == 201, r.text
    claim = r.json()["case_id"]
    await wait_for(api, reviewer, claim, "under_review")
    r = await api.post(
        f"/api/v1/claims/{claim}/reject", json={"reason_code": "other", "remedy": " "}, headers=reviewer
    )
    assert _error(r) == (422, "review.reason_required"), r.text
    r = await api.post(f"/api/v1/claims/{claim}/approve", json={"note": "符合条件"}, headers=reviewer)
    assert r.status_code == 200, r.text
    await pg_case_env.env.client.get_workflow_handle(claim).result()
    r = await api.post(f"/api/v1/claims/{claim}/approve", json={}, headers=reviewer)
    assert _error(r) == (409, "case.decided"), r.text  # finished (Temporal's NOT_FOUND)

    # The skill subsidy: decided while its payment is still being made, then paid.
    person = await sim_person(sim.base_url, sim.token, cumulative_months=60)
    cert = await sim_certificate(sim, person)
    [fit] = await store_documents(pg_case_env.db, "job_fit_statement")
    r = await api.post("/api/v1/subsidies", json=application_body(person, cert, fit), headers=clerk)
    assert r.status_code == 201, r.text
    subsidy = r.json()["case_id"]
    page = f"/api/v1/subsidies/{subsidy}"
    await _until(api, page, reviewer, lambda d: d["status"] == "under_review")
    url = f"{page}/decide"
    r = await api.post(url, json={"action": "reject"}, headers=reviewer)
    assert _error(r) == (422, "review.reason_required"), r.text
    r = await api.post(url, json={"action": "approve"}, headers=reviewer)
    assert r.status_code == 200, r.text
    await _until(api, page, reviewer, lambda d: d["status"] == "paid")
    r = await api.post(url, json={"action": "reject", "reason": "重复", "remedy": "无"}, headers=reviewer)
    assert _error(r) == (409, "case.decided"), r.text  # running: the desk's case.decided

    # The dispute's first level (the review kit's reject needs a reason too).
    person = await sim_person(sim.base_url, sim.token, scenario="voluntary_resignation", registered=True)
    inp = await dispute_input(pg_case_env, person, channel=Channel.COUNTER)
    number = f"dispute-{REGION}-{inp.applicant_key}-{uuid.uuid4().int % 999_999 + 1}"  # the API's id pattern
    inp = inp.model_copy(update={"case_id": number})
    await start_dispute(pg_case_env, inp)
    await _until(
        api,
        f"/api/v1/disputes/{inp.case_id}",
        reviewer,
        lambda d: any(lv["status"] == "open" for lv in d["review"]["levels"]),
    )
    r = await api.post(
        f"/api/v1/disputes/{inp.case_id}/reviews/initial/reject", json={"reason": ""}, headers=reviewer
    )
    assert _error(r) == (422, "review.reason_required"), r.text

    # The risk verification: the inspector's sanction proposal needs the fine's justification, the
    # supervisor's rejection a reason; once decided, another approval is a decision on a decided case.
    tag = uuid.uuid4().hex[:8]
    party = VerificationParty(kind="intermediary", key=f"agent-{tag}", label="同一代办人", claim_ids=[])
    h = await start_verification(pg_case_env, [party], f"refusals-{tag}")
    page = f"/api/v1/risk/verifications/{h.id}"
    inspector, supervisor = await login(api, "inspector.nmg"), await login(api, "supervisor.hhht")
    await _until(api, page, inspector, lambda d: d["review"]["current"] == "propose")
    evidence = [d.model_dump(mode="json") for d in await store_documents(pg_case_env.db, "bank_statement")]
    finding = "经调取银行流水和询问笔录，认定由同一中介代办"
    sanction = {"outcome": "sanction", "finding": finding, "evidence": evidence, "recovery": True}
    r = await api.post(f"{page}/proposal", json=sanction | {"fine_multiple": "3"}, headers=inspector)
    assert _error(r) == (422, "review.reason_required"), r.text
    cleared = {"outcome": "cleared", "finding": finding + "，经核实无骗保情形", "evidence": evidence}
    r = await api.post(f"{page}/proposal", json=cleared, headers=inspector)
    assert r.status_code == 200, r.text
    await _until(api, page, supervisor, lambda d: d["review"]["current"] == "approve")
    await applied(h)  # the proposal answered on acceptance; until applied the next is review.busy
    r = await api.post(f"{page}/approval/reject", json={"reason": ""}, headers=supervisor)
    assert _error(r) == (422, "review.reason_required"), r.text
    r = await api.post(f"{page}/approval/approve", json={}, headers=supervisor)
    assert r.status_code == 200, r.text
    await _until(api, page, supervisor, lambda d: d["review"]["current"] is None)
    await applied(h)
    r = await api.post(f"{page}/approval/approve", json={}, headers=supervisor)
    assert _error(r) == (409, "case.decided"), r.text

    # The service request: usable as soon as it is created (its row may not be written yet).
    body = {
        "kind": "consultation",
        "channel": "counter",
        "region_code": REGION,
        "topic": "benefit",
        "content": "请问失业保险金怎么申领？",
        "requester_name": "张三",
        "requester_phone": "13900000001",
    }
    r = await api.post("/api/v1/service-requests", json=body, headers=clerk)
    assert r.status_code == 201, r.text
    request = r.json()["case_id"]
    page = f"/api/v1/service-requests/{request}"
    await _until(api, page, clerk, lambda d: d["request"]["stage"] == "assigned")
    r = await api.post(f"{page}/answer", json={"note": ""}, headers=clerk)
    assert _error(r) == (422, "service.note_required"), r.text
    # One answered on the spot is closed: another action is a decision on a decided case.
    r = await api.post(
        "/api/v1/service-requests",
        json=body | {"answer_on_spot": "已当场告知申领流程和所需材料"},
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    answered = r.json()["case_id"]
    await _until(
        api, f"/api/v1/service-requests/{answered}", clerk, lambda d: d["request"]["stage"] == "closed"
    )
    r = await api.post(
        f"/api/v1/service-requests/{answered}/answer", json={"note": "再次答复"}, headers=clerk
    )
    assert _error(r) == (409, "case.decided"), r.text
