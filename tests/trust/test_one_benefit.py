"""Issue 12 item 5: one benefit at a time, region-wide. Intake refuses a person with an open claim
or an active benefit period anywhere in the region, naming the district; two racing intakes make
one claim; and the database refuses a second active period even when everything above is bypassed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.exceptions import ApplicationError

from activities.case_store import CaseStoreActivities
from activities.gov import GovClients
from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.case import CaseProjection
from models.enums import CaseType
from models.tables import CaseRecord
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body
from tests.conftest import login
from tests.factories import sim_person


@pytest.fixture(params=["pg", "sqlite"])
def db(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue("pg_db" if request.param == "pg" else "sqlite_db")  # type: ignore[no-any-return]


def _body(person: dict[str, Any], region: str) -> dict[str, Any]:
    return claim_body(person, region_code=region)


def _period(key: str, region: str, status: str = "active") -> CaseProjection:
    return CaseProjection(
        case_id=f"period-{region}-{uuid.uuid4().hex[:12]}",
        case_type=CaseType.BENEFIT_PERIOD,
        status=status,
        region_code=region,
        applicant_key=key,
        received_at=datetime.now(UTC),
        version=1,
    )


async def test_an_open_claim_in_another_league_refuses_intake(
    case_api: httpx.AsyncClient, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    xc, dh = await login(case_api, "clerk.xc"), await login(case_api, "clerk.dh")
    first = await case_api.post("/api/v1/claims", json=_body(person, "150102"), headers=xc)
    assert first.status_code == 201, first.text
    second = await case_api.post("/api/v1/claims", json=_body(person, "150202"), headers=dh)
    assert second.status_code == 409, second.text
    err = second.json()["error"]
    assert err["code"] == "claim.duplicate_benefit" and "新城区" in err["message"]
    assert person["id_number"] not in second.text


async def test_an_active_period_elsewhere_refuses_intake(
    case_api: httpx.AsyncClient, sim: SimHandle, pg_case_env: object, pg_db: Database, wf_settings: Settings
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    key = applicant_key(wf_settings, str(person["id_number"]))
    acts = CaseStoreActivities(wf_settings, pg_db, GovClients.from_settings(wf_settings))
    await acts.project_case(_period(key, "150202", status="suspended"))
    r = await case_api.post(
        "/api/v1/claims", json=_body(person, "150102"), headers=await login(case_api, "clerk.xc")
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "claim.duplicate_benefit"
    assert "东河区" in r.json()["error"]["message"] and "正在领取" in r.json()["error"]["message"]


async def test_two_racing_intakes_in_two_leagues_make_one_claim(
    case_api: httpx.AsyncClient, sim: SimHandle, pg_db: Database, wf_settings: Settings
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    xc, dh = await login(case_api, "clerk.xc"), await login(case_api, "clerk.dh")
    answers = await asyncio.gather(
        case_api.post("/api/v1/claims", json=_body(person, "150102"), headers=xc),
        case_api.post("/api/v1/claims", json=_body(person, "150202"), headers=dh),
    )
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    key = applicant_key(wf_settings, str(person["id_number"]))
    async with pg_db.session() as s:
        rows = (await s.exec(select(CaseRecord).where(CaseRecord.applicant_key == key))).all()
    assert len(rows) == 1 and rows[0].case_type == CaseType.BENEFIT_CLAIM.value


async def test_the_database_refuses_a_second_active_period(db: Database, settings: Settings) -> None:
    key = f"k-{uuid.uuid4().hex}"
    acts = CaseStoreActivities(settings, db, GovClients.from_settings(settings))
    one, two = _period(key, "150102"), _period(key, "150202")
    results = await asyncio.gather(acts.project_case(one), acts.project_case(two), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1, results
    err = refused[0]
    assert isinstance(err, ApplicationError) and err.type == "claim.duplicate_benefit" and err.non_retryable
    assert "同一时间只能享受一份" in err.message
    async with db.session() as s:
        rows = (await s.exec(select(CaseRecord).where(CaseRecord.applicant_key == key))).all()
    assert len(rows) == 1
    # the one period goes on (suspended, resumed); once closed, a new period may start
    acts_row = rows[0]
    assert acts_row.status == "active"
    closed = _period(key, acts_row.region_code, status="closed").model_copy(
        update={"case_id": acts_row.case_id, "version": 2}
    )
    await acts.project_case(closed)
    await acts.project_case(_period(key, "150203"))


async def test_the_database_refuses_a_second_open_claim(db: Database, settings: Settings) -> None:
    key = f"k-{uuid.uuid4().hex}"
    acts = CaseStoreActivities(settings, db, GovClients.from_settings(settings))
    claims = [
        _period(key, r).model_copy(update={"case_type": CaseType.BENEFIT_CLAIM, "status": "checking"})
        for r in ("150102", "150202")
    ]
    results = await asyncio.gather(*(acts.project_case(c) for c in claims), return_exceptions=True)
    assert sum(isinstance(r, ApplicationError) for r in results) == 1, results
