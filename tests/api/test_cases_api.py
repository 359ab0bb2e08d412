"""The case list, the inbox and the supervisors' counts over the read model, on both dialects:
region scope, filters, sorting by deadline, paging, and per-day counts in Asia/Shanghai."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete

from api.app import create_app
from core.db import Database
from core.settings import Settings
from models.tables import CaseRecord
from tests.conftest import login

# 17:30 UTC, 01:30 the next day in Asia/Shanghai: counting by the UTC day would show here. Twenty
# days back from the clock, not a fixed date: the per-day counts cover the 30 days up to the latest
# case in scope, which other tests create today (a fixed 1 Nov 2026 fell out of the window in
# December, or under scripts/test-as-of).
T0 = datetime.combine(datetime.now(UTC).date() - timedelta(days=20), time(17, 30), UTC)
D1, D2 = (T0 + timedelta(days=1)).date().isoformat(), (T0 + timedelta(days=2)).date().isoformat()


def _row(i: int, **over: object) -> CaseRecord:
    base: dict[str, object] = dict(
        case_id=f"test-cases-{i:03d}",
        case_type="benefit_claim",
        status="under_review",
        stage="review",
        region_code="150102",
        applicant_key=f"k{i}",
        applicant_name=f"测试{i}",
        applicant_id_masked="150102********0000",
        received_at=T0 + timedelta(days=i % 5),
        deadline=T0.date() + timedelta(days=19 + i % 7),
        updated_at=T0,
        summary={"status_label": "待审核"},
        version=1,
    )
    base.update(over)
    return CaseRecord(**base)  # type: ignore[arg-type]


@pytest_asyncio.fixture(params=["pg", "sqlite"])
async def seeded(
    request: pytest.FixtureRequest, settings: Settings, pg_db: Database, sqlite_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    db = pg_db if request.param == "pg" else sqlite_db
    rows = [_row(i) for i in range(30)]
    rows += [_row(100 + i, region_code="150103") for i in range(5)]  # a sibling district
    rows += [_row(200 + i, region_code="150202") for i in range(5)]  # another city
    rows += [
        _row(
            300,
            status="rejected",
            stage="awaiting_reapplication",
            overdue=True,
            escalated=True,
            decided_at=T0 + timedelta(days=12),
            summary={"decided_within_limit": False},
        ),
        _row(
            301,
            status="approved",
            stage="approved",
            decided_at=T0 + timedelta(hours=28),  # 21:30Z on 2 Nov = 05:30 on 3 Nov in Shanghai
            summary={"decided_within_limit": True},
            closed_at=T0 + timedelta(hours=28),
        ),
    ]
    async with db.session() as s:
        await s.exec(delete(CaseRecord).where(CaseRecord.case_id.like("test-cases-%")))  # type: ignore[call-overload,attr-defined]
        s.add_all(rows)
        await s.commit()
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
    async with db.session() as s:
        await s.exec(delete(CaseRecord).where(CaseRecord.case_id.like("test-cases-%")))  # type: ignore[call-overload,attr-defined]
        await s.commit()


async def test_list_is_scoped_filtered_sorted_and_paged(seeded: httpx.AsyncClient) -> None:
    district = await login(seeded, "reviewer.xc")
    league = await login(seeded, "reviewer.hhht")
    listed = (await seeded.get("/api/v1/cases?page_size=200", headers=district)).json()["items"]
    mine = [i for i in listed if i["case_id"].startswith("test-cases-")]
    assert {i["region_code"] for i in mine} == {"150102"} and len(mine) == 32
    theirs = [
        i
        for i in (await seeded.get("/api/v1/cases?page_size=200", headers=league)).json()["items"]
        if i["case_id"].startswith("test-cases-")
    ]
    assert {i["region_code"] for i in theirs} == {"150102", "150103"}
    r = await seeded.get("/api/v1/cases?region=150202", headers=district)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.region"

    page1 = (await seeded.get("/api/v1/cases?status=under_review&page_size=10", headers=district)).json()
    page2 = (
        await seeded.get("/api/v1/cases?status=under_review&page_size=10&page=2", headers=district)
    ).json()
    deadlines = [i["deadline"] for i in page1["items"] + page2["items"]]
    assert deadlines == sorted(deadlines)
    assert not {i["case_id"] for i in page1["items"]} & {i["case_id"] for i in page2["items"]}
    assert page1["counts_by_status"]["rejected"] >= 1

    overdue = (await seeded.get("/api/v1/cases?overdue=true", headers=district)).json()["items"]
    assert [i["case_id"] for i in overdue if i["case_id"].startswith("test-cases-")] == ["test-cases-300"]


async def test_inbox_shows_this_level_only(seeded: httpx.AsyncClient) -> None:
    reviewer = await login(seeded, "reviewer.xc")
    inbox = (await seeded.get("/api/v1/cases/inbox?page_size=200", headers=reviewer)).json()["items"]
    ours = [i for i in inbox if i["case_id"].startswith("test-cases-")]
    assert len(ours) == 30 and {i["stage"] for i in ours} == {"review"}
    none = (await seeded.get("/api/v1/cases/inbox?status=approved", headers=reviewer)).json()["items"]
    assert not [i for i in none if i["case_id"].startswith("test-cases-")]
    supervisor = await login(seeded, "supervisor.hhht")
    escalated = (await seeded.get("/api/v1/cases/inbox", headers=supervisor)).json()["items"]
    assert "test-cases-300" in [i["case_id"] for i in escalated]


async def test_stats_count_in_sql_by_local_day(seeded: httpx.AsyncClient) -> None:
    reviewer = await login(seeded, "reviewer.xc")
    st = (await seeded.get("/api/v1/cases/stats", headers=reviewer)).json()
    assert st["by_region"]["150102"] >= 32 and "150202" not in st["by_region"]
    assert st["received_per_day"][D1] >= 7  # 17:30Z on T0's day is 01:30 the next day in Shanghai
    assert st["received_per_day"].get(T0.date().isoformat(), 0) == 0  # the UTC day is not the business day
    assert st["decided_per_day"][D2] >= 1  # 21:30Z on D1 = 05:30 on D2 in Shanghai
    assert st["decided_per_day"].get(D1, 0) == 0
    assert st["decided_total"] >= 2 and st["decided_total"] - st["decided_within_limit"] >= 1
    assert st["overdue"] >= 1 and st["escalated"] >= 1


async def test_days_left_count_with_the_operators_calendar(settings: Settings, pg_db: Database) -> None:
    """A deadline in a year only the operator's tables cover (UIFLOW_CALENDAR_DIR; here the
    synthetic one of tests/clock.py, as the 2027 table will be in production): the list counts the
    working days left with them, as the worker computed the deadline. With the packaged tables
    alone the count is unknown (the API used them alone: as of 2027-02-15 no case showed its days)."""
    from tests.clock import FUTURE_YEAR

    row = _row(900, deadline=date(FUTURE_YEAR, 3, 1))
    async with pg_db.session() as s:
        await s.exec(delete(CaseRecord).where(CaseRecord.case_id == row.case_id))  # type: ignore[call-overload,arg-type]
        s.add(row)
        await s.commit()
    try:
        counts = {}
        packaged_only = settings.model_copy(update={"calendar_dir": None})
        url = f"/api/v1/cases?deadline_from={FUTURE_YEAR}-01-01&page_size=200"
        for name, cfg in (("operator", settings), ("packaged", packaged_only)):
            app = create_app(cfg, db=pg_db)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                items = (await c.get(url, headers=await login(c, "reviewer.xc"))).json()["items"]
            (item,) = [i for i in items if i["case_id"] == row.case_id]
            counts[name] = item["working_days_left"]
        assert counts["packaged"] is None, counts
        assert isinstance(counts["operator"], int) and counts["operator"] > 0, counts
    finally:
        async with pg_db.session() as s:
            await s.exec(delete(CaseRecord).where(CaseRecord.case_id == row.case_id))  # type: ignore[call-overload,arg-type]
            await s.commit()
