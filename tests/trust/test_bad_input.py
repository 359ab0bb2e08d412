"""Issue 12 item 13 (model/policy half): an ID number with a future birth date, a separation date
far in the future, and money with more than two decimals are refused with a Chinese message."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlmodel import select

from api.schemas import ClaimApplicationIn
from core.db import Database
from models.case import BUSINESS_TZ
from models.money import Money
from models.tables import AuditLog
from policy.errors import PolicyError
from policy.identity import IdentityError, make_credit_code, make_resident_id, parse_resident_id
from policy.money import parse_amount
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body
from tests.conftest import login
from tests.factories import sim_person

TODAY = datetime.now(BUSINESS_TZ).date()
FUTURE_ID = make_resident_id("150102", TODAY + timedelta(days=400), 123)


def _application(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id_number": make_resident_id("150102", date(1980, 5, 17), 123),
        "name": "乌云其其格",
        "phone": "13912345678",
        "bank_account": "6217000123456789012",
        "region_code": "150102",
        "employer_credit_code": make_credit_code("150100", 12345678),
        "separation_date": (TODAY - timedelta(days=30)).isoformat(),
    }
    body.update(over)
    return body


def test_resident_id_with_a_future_birth_date_is_invalid() -> None:
    with pytest.raises(IdentityError) as e:
        parse_resident_id(FUTURE_ID, today=TODAY)
    assert e.value.code == "id.birth_future" and "出生日期" in e.value.message_zh
    born_today = make_resident_id("150102", TODAY, 124)
    assert parse_resident_id(born_today, today=TODAY).birth == TODAY


def test_intake_refuses_future_birth_and_far_future_separation() -> None:
    assert ClaimApplicationIn.model_validate(_application()).separation_date < TODAY
    with pytest.raises(ValidationError, match="出生日期"):
        ClaimApplicationIn.model_validate(_application(id_number=FUTURE_ID))
    with pytest.raises(ValidationError, match="离职日期"):
        ClaimApplicationIn.model_validate(
            _application(separation_date=(TODAY + timedelta(days=60)).isoformat())
        )
    with pytest.raises(ValidationError, match="离职日期"):
        ClaimApplicationIn.model_validate(_application(separation_date="2031-01-01"))
    # a few days ahead is tolerated (a contract ending this week, a clerk a day early)
    soon = TODAY + timedelta(days=3)
    assert (
        ClaimApplicationIn.model_validate(_application(separation_date=soon.isoformat())).separation_date
        == soon
    )


class _Priced(BaseModel):
    amount: Money


@pytest.mark.parametrize("text", ["0.30000000000000004", "1.005", "12.345"])
def test_money_with_more_than_two_decimals_is_refused(text: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse_amount(text, field="个人实际缴纳金额")
    assert e.value.code == "amount.precision" and "两位小数" in e.value.message_zh
    with pytest.raises(ValidationError, match="两位小数"):
        _Priced(amount=text)  # type: ignore[arg-type]


def test_money_type_accepts_cents_and_refuses_floats_and_junk() -> None:
    assert _Priced(amount="2156.50").amount == Decimal("2156.50")  # type: ignore[arg-type]
    assert _Priced(amount=Decimal("280.000")).amount == Decimal("280")
    assert parse_amount("300.5") == Decimal("300.5")
    for bad in (0.3, "NaN", "1e3", "-1", "abc", True):
        with pytest.raises(ValidationError):
            _Priced(amount=bad)  # type: ignore[arg-type]


async def test_refund_with_float_noise_is_422_in_chinese(pg_api: httpx.AsyncClient) -> None:
    pg_api.headers.update(await login(pg_api, "reviewer.xc"))
    r = await pg_api.get("/api/v1/policy/refund", params={"paid": "0.30000000000000004", "standard": "280"})
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "amount.precision" and "两位小数" in body["message"]
    ok = await pg_api.get("/api/v1/policy/refund", params={"paid": "0.30", "standard": "280"})
    assert ok.status_code == 200 and ok.json()["refund"] == "0.3"


async def test_check_id_says_a_future_birth_date_is_invalid(pg_api: httpx.AsyncClient) -> None:
    pg_api.headers.update(await login(pg_api, "reviewer.xc"))
    r = await pg_api.post("/api/v1/policy/check-id", json={"number": FUTURE_ID})
    assert r.status_code == 200
    assert r.json()["valid"] is False and r.json()["error"] == "id.birth_future"


async def _submitted(db: Database) -> int:
    async with db.session() as s:
        rows = await s.exec(select(AuditLog).where(AuditLog.action == "claim.submitted"))
        return len(rows.all())


async def test_intake_answers_422_and_creates_nothing(
    case_api: httpx.AsyncClient, sim: SimHandle, pg_db: Database
) -> None:
    before = await _submitted(pg_db)
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    clerk = await login(case_api, "clerk.xc")
    base = claim_body(person)
    for over in ({"id_number": FUTURE_ID}, {"separation_date": "2031-06-30"}):
        r = await case_api.post("/api/v1/claims", json={**base, **over}, headers=clerk)
        assert r.status_code == 422, r.text
        assert "日期" in r.text, r.text
    assert await _submitted(pg_db) == before
