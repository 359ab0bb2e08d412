"""Keyset pages and the count table (issue 19), on PostgreSQL and SQLite: walking a list by its
cursors shows every row exactly once, in order, while rows are inserted and updated between the
pages (ties on the sort key and NULL sort values included), backwards too; the totals and status
chips from ``case_count`` equal a GROUP BY over ``case_record`` after inserts, updates and
deletes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete, func, update
from sqlmodel import col, select

from api.app import create_app
from core.db import Database
from core.settings import Settings
from models.tables import CaseCount, CaseRecord
from tests.conftest import login

REGION = "150105"  # 赛罕区: no other test writes here
PREFIX = "test-keyset-"
T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def _row(i: int, **over: Any) -> CaseRecord:
    base: dict[str, Any] = dict(
        case_id=f"{PREFIX}{i:04d}",
        case_type="benefit_claim",
        status="under_review",
        stage="review",
        region_code=REGION,
        applicant_key=f"ks{i}",
        applicant_name=f"键{i}",
        applicant_id_masked="150105********0000",
        # Three distinct deadlines and every fifth row without one: ties and NULLs everywhere.
        deadline=None if i % 5 == 0 else date(2026, 11, 20) + timedelta(days=i % 3),
        received_at=T0 + timedelta(hours=i % 4),
        updated_at=T0,
        summary={"status_label": "待审核"},
        version=1,
    )
    base.update(over)
    return CaseRecord(**base)


@pytest_asyncio.fixture(params=["pg", "sqlite"])
async def db(request: pytest.FixtureRequest, pg_db: Database, sqlite_db: Database) -> AsyncIterator[Database]:
    chosen = pg_db if request.param == "pg" else sqlite_db
    async with chosen.session() as s:
        await s.exec(delete(CaseRecord).where(col(CaseRecord.case_id).like(f"{PREFIX}%")))  # type: ignore[call-overload]
        s.add_all([_row(i) for i in range(1, 61)])
        await s.commit()
    yield chosen
    async with chosen.session() as s:
        await s.exec(delete(CaseRecord).where(col(CaseRecord.case_id).like(f"{PREFIX}%")))  # type: ignore[call-overload]
        await s.commit()


@pytest_asyncio.fixture
async def api(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def _get(api: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]) -> Any:
    r = await api.get("/api/v1/cases", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _churn(db: Database, step: int) -> None:
    """Between two pages: new cases at the start, middle and end of the order (and without a
    deadline), and updates of columns other than the sort key."""
    async with db.session() as s:
        s.add_all(
            [
                _row(1000 + step * 10 + k, deadline=d)
                for k, d in enumerate([date(2026, 11, 19), date(2026, 11, 21), date(2026, 12, 31), None])
            ]
        )
        await s.exec(
            update(CaseRecord)  # type: ignore[call-overload]
            .where(col(CaseRecord.case_id).in_([f"{PREFIX}{i:04d}" for i in range(step, 61, 7)]))
            .values(status="checking", stage="checks", overdue=True, updated_at=T0 + timedelta(days=step))
        )
        await s.commit()


async def _walk(
    api: httpx.AsyncClient, db: Database, headers: dict[str, str], params: dict[str, Any], direction: str
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    r = (await api.get("/api/v1/cases", params=params, headers=headers)).json()
    step = 0
    while True:
        seen.extend(r["items"])
        cursor = r["next_cursor"] if direction == "after" else r["prev_cursor"]
        if cursor is None:
            return seen
        step += 1
        await _churn(db, step)
        r = (await api.get("/api/v1/cases", params=params | {direction: cursor}, headers=headers)).json()


@pytest.mark.parametrize("sort,order", [("deadline", "asc"), ("received_at", "desc")])
async def test_cursor_walk_shows_each_row_once_in_order_while_rows_change(
    api: httpx.AsyncClient, db: Database, sort: str, order: str
) -> None:
    admin = await login(api, "admin")
    params: dict[str, Any] = {"region": REGION, "page_size": 7, "sort": sort, "order": order}
    original = [
        i["case_id"]
        for i in (await api.get("/api/v1/cases", params=params | {"page_size": 200}, headers=admin)).json()[
            "items"
        ]
    ]
    assert len(original) == 60
    seen = await _walk(api, db, admin, params, "after")
    ids = [i["case_id"] for i in seen]
    assert not [c for c, n in Counter(ids).items() if n > 1], "a row was shown twice"
    assert [c for c in ids if c in set(original)] == original, "an original row was skipped or reordered"
    # The order of the whole walk is the list's order (NULLs last, then case id, both directions).
    final = [
        i["case_id"]
        for i in (await api.get("/api/v1/cases", params=params | {"page_size": 200}, headers=admin)).json()[
            "items"
        ]
    ]
    assert [c for c in final if c in set(ids)] == ids


async def test_backward_walk_from_the_last_page_is_the_same_rows_reversed(
    api: httpx.AsyncClient, db: Database
) -> None:
    admin = await login(api, "admin")
    params: dict[str, Any] = {"region": REGION, "page_size": 9}
    pages = [(await api.get("/api/v1/cases", params=params, headers=admin)).json()]
    while pages[-1]["next_cursor"]:
        pages.append(
            (
                await api.get(
                    "/api/v1/cases", params=params | {"after": pages[-1]["next_cursor"]}, headers=admin
                )
            ).json()
        )
    forward = [i["case_id"] for p in pages for i in p["items"]]
    assert len(forward) == 60 and pages[-1]["total"] == 60
    back: list[str] = []
    r = pages[-1]
    while True:
        back = [i["case_id"] for i in r["items"]] + back
        if r["prev_cursor"] is None:
            break
        r = (
            await api.get("/api/v1/cases", params=params | {"before": r["prev_cursor"]}, headers=admin)
        ).json()
    assert back == forward
    # Page numbers still work, and agree with the cursors.
    third = (await api.get("/api/v1/cases", params=params | {"page": 3}, headers=admin)).json()
    assert [i["case_id"] for i in third["items"]] == forward[18:27]


async def test_a_damaged_cursor_is_refused_in_chinese(api: httpx.AsyncClient) -> None:
    admin = await login(api, "admin")
    r = await api.get("/api/v1/cases", params={"region": REGION, "after": "not-a-cursor"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "cursor.invalid"


async def _truth(db: Database) -> dict[tuple[Any, ...], int]:
    """The count table's key computed from ``case_record`` itself, for every row."""
    async with db.session() as s:
        rows = (await s.exec(select(CaseRecord))).all()
    out: Counter[tuple[Any, ...]] = Counter()
    for r in rows:
        late = r.decided_at is not None and r.summary.get("decided_within_limit") is False
        key = (r.region_code, r.case_type, r.status, r.stage, r.closed_at is None, bool(r.overdue),
               bool(r.escalated), bool(r.blocked), r.decided_at is not None, late)  # fmt: skip
        out[key] += 1
    return dict(out)


async def _table(db: Database) -> dict[tuple[Any, ...], int]:
    async with db.session() as s:
        rows = (await s.exec(select(CaseCount).where(CaseCount.n != 0))).all()
    return {
        (c.region_code, c.case_type, c.status, c.stage, c.is_open, c.overdue, c.escalated, c.blocked,
         c.decided, c.late): c.n
        for c in rows
    }  # fmt: skip


async def test_count_table_equals_a_group_by_after_every_kind_of_write(
    api: httpx.AsyncClient, db: Database
) -> None:
    assert await _table(db) == await _truth(db)
    async with db.session() as s:
        # A projection's life: decided late, closed, escalated, blocked; one deleted.
        await s.exec(
            update(CaseRecord)  # type: ignore[call-overload]
            .where(col(CaseRecord.case_id).in_([f"{PREFIX}{i:04d}" for i in range(1, 11)]))
            .values(
                status="rejected",
                stage="awaiting_reapplication",
                decided_at=T0 + timedelta(days=20),
                summary={"decided_within_limit": False},
            )
        )
        row = await s.get(CaseRecord, f"{PREFIX}0011")
        assert row is not None
        row.status, row.stage, row.closed_at, row.decided_at = "approved", "approved", T0, T0
        row.summary = {"decided_within_limit": True}
        s.add(row)
        await s.exec(
            update(CaseRecord)
            .where(col(CaseRecord.case_id) == f"{PREFIX}0012")
            .values(escalated=True, blocked=True)  # type: ignore[call-overload]
        )
        bump = update(CaseRecord).where(col(CaseRecord.case_id) == f"{PREFIX}0013")
        await s.exec(bump.values(updated_at=T0))  # type: ignore[call-overload]
        await s.exec(delete(CaseRecord).where(col(CaseRecord.case_id) == f"{PREFIX}0014"))  # type: ignore[call-overload]
        await s.commit()
    assert await _table(db) == await _truth(db)

    admin = await login(api, "admin")
    listed = (await api.get("/api/v1/cases", params={"region": REGION}, headers=admin)).json()
    async with db.session() as s:
        grouped = dict(
            (
                await s.exec(
                    select(CaseRecord.status, func.count())
                    .where(CaseRecord.region_code == REGION)
                    .group_by(CaseRecord.status)
                )
            ).all()  # type: ignore[call-overload]
        )
    assert listed["counts_by_status"] == grouped and listed["total"] == 59 and listed["counts_exact"]
    st = (await api.get("/api/v1/cases/stats", params={"region": REGION}, headers=admin)).json()
    assert st["by_status"] == grouped and st["decided_total"] == 11 and st["decided_within_limit"] == 1
    assert st["escalated"] == 1
    # A filter the count table does not have counts the rows themselves (below the cap: exact).
    by_assignee = (
        await api.get("/api/v1/cases", params={"region": REGION, "assigned_to": "nobody"}, headers=admin)
    ).json()
    assert by_assignee["total"] == 0 and by_assignee["counts_exact"]


async def test_concurrent_projections_moving_cases_both_ways_keep_exact_counts(pg_db: Database) -> None:
    """Two writers at once, one moving cases under_review → checking, the other checking →
    under_review, each case in its own transaction as a projection does: the trigger locks the two
    count rows in one order (the smaller key first), so neither waits for the other in a cycle
    (PostgreSQL would abort one with a deadlock), and the counts stay exact."""
    ids = [f"{PREFIX}c{i:03d}" for i in range(40)]
    async with pg_db.session() as s:
        await s.exec(delete(CaseRecord).where(col(CaseRecord.case_id).like(f"{PREFIX}%")))  # type: ignore[call-overload]
        s.add_all(
            [
                _row(2000 + i, case_id=c, status="under_review" if i % 2 else "checking")
                for i, c in enumerate(ids)
            ]
        )
        await s.commit()

    async def writer(mine: list[str], to: str) -> None:
        for _ in range(5):
            for c in mine:
                async with pg_db.session() as s:
                    await s.exec(update(CaseRecord).where(col(CaseRecord.case_id) == c).values(status=to))  # type: ignore[call-overload]
                    await s.commit()
            to = "checking" if to == "under_review" else "under_review"

    await asyncio.gather(writer(ids[0::2], "under_review"), writer(ids[1::2], "checking"))
    try:
        assert await _table(pg_db) == await _truth(pg_db)
    finally:
        async with pg_db.session() as s:
            await s.exec(delete(CaseRecord).where(col(CaseRecord.case_id).like(f"{PREFIX}%")))  # type: ignore[call-overload]
            await s.commit()
