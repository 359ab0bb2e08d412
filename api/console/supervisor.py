"""The supervisor's view: counts by status and region, open overdue and escalated cases, and
three small charts (received per day, decided per day, share decided within the limit).

The counts are grouped queries over the read model in the supervisor's scope (the same scope
rule as the API's ``stats``, whose row-by-row Python aggregation is too slow for a page at
10,000 cases). Charts are inline SVG drawn by the template from plain numbers computed here: no
chart library, nothing fetched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import and_, case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.calendar_in_force import api_calendar
from api.console.export import xlsx_response
from api.console.lists import region_options, status_labels
from api.console.web import ConsoleRoute, render
from api.deps import get_session
from api.params import region_or_blank
from api.principals import SupervisorView
from api.routes.cases import CaseItem, _item, _scope, _today
from models.case import BUSINESS_TZ, local_date
from models.tables import CaseCount, CaseRecord, Staff
from policy.calendar import working_days_between
from policy.errors import PolicyError
from policy.regions import get_region

router = APIRouter(route_class=ConsoleRoute)

DAYS = 30
LIST_LIMIT = 15


@dataclass
class Bar:
    label: str
    value: int
    pct: float  # of the largest value, 0..100
    key: str = ""


@dataclass
class DayBar:
    day: date
    received: int
    decided: int
    x: float
    h_received: float
    h_decided: float
    label: str  # shown under every fifth day


def bars(values: dict[str, int], labels: dict[str, str] | None = None, limit: int = 20) -> list[Bar]:
    items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    top = max((v for _, v in items), default=0) or 1
    names = labels or {}
    return [Bar(label=names.get(k, k), value=v, pct=round(100 * v / top, 1), key=k) for k, v in items]


def day_series(
    received: dict[str, int], decided: dict[str, int], today: date, days: int = DAYS, height: float = 120
) -> tuple[list[DayBar], int]:
    """One slot per calendar day (days without cases are zero, not skipped), scaled to the
    chart's height; returns the bars and the scale's top value."""
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    top = max([received.get(d.isoformat(), 0) for d in span] + [decided.get(d.isoformat(), 0) for d in span])
    top = max(top, 1)
    out = []
    for i, d in enumerate(span):
        r = received.get(d.isoformat(), 0)
        c = decided.get(d.isoformat(), 0)
        out.append(
            DayBar(
                day=d,
                received=r,
                decided=c,
                x=i * 20 + 2,
                h_received=round(height * r / top, 1),
                h_decided=round(height * c / top, 1),
                label=d.strftime("%m-%d") if (days - 1 - i) % 5 == 0 else "",
            )
        )
    return out, top


def local_day(column: Any, dialect: str) -> Any:
    """The business day (Asia/Shanghai) of a stored instant, in SQL, so grouping by day happens in
    the database (PostgreSQL: ``timestamptz``; SQLite: UTC text)."""
    if dialect == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")


@dataclass
class Counts:
    by_status: dict[str, int]
    by_region: dict[str, int]
    open_total: int
    overdue_open: int
    escalated_open: int
    received_per_day: dict[str, int]
    decided_per_day: dict[str, int]
    decided_total: int
    decided_late: int

    @property
    def decided_within_limit(self) -> int:
        return self.decided_total - self.decided_late


def _open_and(flag: Any) -> Any:
    """The count of open cases with ``flag`` set, as a sum over ``case_count`` rows."""
    return case((and_(col(CaseCount.is_open).is_(True), col(flag).is_(True)), CaseCount.n), else_=0)


async def counts(
    session: AsyncSession, codes: list[str], scope: list[Any], since: date, dialect: str
) -> Counts:
    """Everything the view counts: the totals from ``case_count`` (kept exact by triggers,
    migration 0017: a few thousand rows whatever the number of cases), the per-day figures in two
    grouped queries over the window since ``since``."""
    open_n = case((col(CaseCount.is_open).is_(True), CaseCount.n), else_=0)
    grid = (
        await session.exec(
            select(  # type: ignore[call-overload]
                CaseCount.region_code,
                CaseCount.status,
                func.sum(CaseCount.n),
                func.sum(open_n),
                func.sum(_open_and(CaseCount.overdue)),
                func.sum(_open_and(CaseCount.escalated)),
            )
            .where(col(CaseCount.region_code).in_(codes))
            .group_by(CaseCount.region_code, CaseCount.status)
        )
    ).all()
    by_status: dict[str, int] = {}
    by_region: dict[str, int] = {}
    open_total = overdue_open = escalated_open = 0
    for region, status, n, n_open, n_over, n_esc in grid:
        if not n:
            continue
        by_status[status] = by_status.get(status, 0) + int(n)
        by_region[region] = by_region.get(region, 0) + int(n)
        open_total += int(n_open or 0)
        overdue_open += int(n_over or 0)
        escalated_open += int(n_esc or 0)
    start = datetime.combine(since, time.min, BUSINESS_TZ)
    received_day = local_day(CaseRecord.received_at, dialect)
    received = (
        await session.exec(
            select(received_day, func.count())  # type: ignore[call-overload]
            .where(*scope, col(CaseRecord.received_at) >= start)
            .group_by(received_day)
        )
    ).all()
    decided_day = local_day(CaseRecord.decided_at, dialect)
    late = col(CaseRecord.summary)["decided_within_limit"].as_boolean() == False  # noqa: E712
    decided = (
        await session.exec(
            select(decided_day, func.count(), func.sum(case((late, 1), else_=0)))  # type: ignore[call-overload]
            .where(*scope, col(CaseRecord.decided_at) >= start)
            .group_by(decided_day)
        )
    ).all()
    return Counts(
        by_status=by_status,
        by_region=by_region,
        open_total=open_total,
        overdue_open=overdue_open,
        escalated_open=escalated_open,
        received_per_day={str(d): int(n) for d, n in received},
        decided_per_day={str(d): int(n) for d, n, _ in decided},
        decided_total=sum(int(n) for _, n, _ in decided),
        decided_late=sum(int(x or 0) for _, _, x in decided),
    )


@dataclass
class ReviewerRow:
    """One reviewer's line in the supervisor's table."""

    login: str
    name: str
    open: int = 0
    overdue: int = 0
    decided: int = 0
    within_limit: int = 0
    working_days_total: int = 0
    days_counted: int = 0

    @property
    def within_pct(self) -> float | None:
        return round(100 * self.within_limit / self.decided, 1) if self.decided else None

    @property
    def avg_working_days(self) -> float | None:
        return round(self.working_days_total / self.days_counted, 1) if self.days_counted else None


REVIEWER_COLUMNS = (
    "承办人",
    "登录名",
    "在办",
    "其中逾期",
    "期间内办结",
    "时限内办结",
    "时限内办结率",
    "平均办理工作日（受理至决定）",
)


async def reviewer_table(
    session: AsyncSession, scope: list[Any], start: date, end: date
) -> list[ReviewerRow]:
    """Per reviewer: open and overdue now (assigned); decided between ``start`` and ``end``
    (business days, inclusive), how many within the limit, and the average working days from
    receipt to decision. The working days come from the holiday calendar in Python (a few
    thousand decisions at most in a range), not from SQL."""
    lo = datetime.combine(start, time.min, BUSINESS_TZ)
    hi = datetime.combine(end + timedelta(days=1), time.min, BUSINESS_TZ)
    is_open = col(CaseRecord.closed_at).is_(None)
    decided_in = and_(col(CaseRecord.decided_at) >= lo, col(CaseRecord.decided_at) < hi)
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]
                CaseRecord.assigned_to,
                CaseRecord.closed_at,
                CaseRecord.overdue,
                CaseRecord.received_at,
                CaseRecord.decided_at,
                CaseRecord.summary,
            ).where(*scope, or_(and_(col(CaseRecord.assigned_to).is_not(None), is_open), decided_in))
        )
    ).all()
    out: dict[str, ReviewerRow] = {}
    for assigned_to, closed_at, overdue, received_at, decided_at, summary in rows:
        # A decided case counts for whoever decided it; an open one for whom it is assigned to.
        login = (summary or {}).get("decided_by") or assigned_to
        if not login:
            continue
        r = out.setdefault(login, ReviewerRow(login=login, name=login))
        decided_now = decided_at is not None and lo <= decided_at.astimezone(BUSINESS_TZ) < hi
        if decided_now:
            r.decided += 1
            if (summary or {}).get("decided_within_limit") is not False:
                r.within_limit += 1
            try:
                days = working_days_between(local_date(received_at), local_date(decided_at), api_calendar())
            except PolicyError:  # outside the holiday tables: not counted in the average
                continue
            r.working_days_total += days
            r.days_counted += 1
        elif closed_at is None and decided_at is None:
            r.open += 1
            r.overdue += int(bool(overdue))
    names = {
        x.login: x.name or x.login
        for x in (await session.exec(select(Staff).where(col(Staff.login).in_(sorted(out))))).all()
    }
    for r in out.values():
        r.name = names.get(r.login, r.login)
    return sorted(out.values(), key=lambda r: (-r.open, -r.decided, r.login))


def reviewer_cells(rows: list[ReviewerRow]) -> list[list[Any]]:
    return [
        [
            r.name,
            r.login,
            r.open,
            r.overdue,
            r.decided,
            r.within_limit,
            f"{r.within_pct}%" if r.within_pct is not None else "",
            r.avg_working_days if r.avg_working_days is not None else "",
        ]
        for r in rows
    ]


def date_range(raw_from: str, raw_to: str, today: date) -> tuple[date, date]:
    """The chosen range (business days, inclusive); lenient: a bad or missing date falls back to
    the last ``DAYS`` days, a reversed range is put in order, and it is at most two years."""

    def parse(v: str) -> date | None:
        try:
            return date.fromisoformat(v.strip()) if v.strip() else None
        except ValueError:
            return None

    end = parse(raw_to) or today
    start = parse(raw_from) or end - timedelta(days=DAYS - 1)
    if start > end:
        start, end = end, start
    return max(start, end - timedelta(days=731)), end


async def open_flagged(
    session: AsyncSession, scope: list[Any], flag: Any, limit: int = LIST_LIMIT
) -> list[CaseItem]:
    rows = (
        await session.exec(
            select(CaseRecord)
            .where(*scope, flag, col(CaseRecord.closed_at).is_(None))
            .order_by(col(CaseRecord.deadline).asc().nulls_last(), col(CaseRecord.case_id))
            .limit(limit)
        )
    ).all()
    today = _today()
    return [_item(r, today) for r in rows]


@router.get("/supervisor")
async def supervisor_view(
    request: Request,
    staff: SupervisorView,
    session: Annotated[AsyncSession, Depends(get_session)],
    region: str = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    region = region_or_blank(region)
    codes = sorted(_scope(staff, region or None))
    scope = [col(CaseRecord.region_code).in_(codes)]
    today = _today()
    start, end = date_range(date_from, date_to, today)
    reviewers = await reviewer_table(session, scope, start, end)
    since = today - timedelta(days=DAYS - 1)
    c = await counts(session, codes, scope, since, request.app.state.db.dialect)
    overdue_items = await open_flagged(session, scope, CaseRecord.overdue == True)  # noqa: E712
    escalated_items = await open_flagged(session, scope, CaseRecord.escalated == True)  # noqa: E712
    series, top = day_series(c.received_per_day, c.decided_per_day, today)
    region_labels = {code: get_region(code).name for code in c.by_region}
    within_pct = round(100 * c.decided_within_limit / c.decided_total, 1) if c.decided_total else None
    ctx = {
        "nav": "supervisor",
        "c": c,
        "region": region,
        "regions": region_options(staff),
        "status_bars": bars(c.by_status, status_labels()),
        "region_bars": bars(c.by_region, region_labels),
        "series": series,
        "series_top": top,
        "received_30": sum(d.received for d in series),
        "decided_30": sum(d.decided for d in series),
        "within_pct": within_pct,
        "overdue_items": overdue_items,
        "escalated_items": escalated_items,
        "days": DAYS,
        "reviewers": reviewers,
        "range_from": start,
        "range_to": end,
        "range_query": urlencode({"region": region, "from": start.isoformat(), "to": end.isoformat()}),
    }
    return render(request, "supervisor.html", ctx, staff=staff)


@router.get("/supervisor/reviewers.xlsx")
async def reviewers_export(
    staff: SupervisorView,
    session: Annotated[AsyncSession, Depends(get_session)],
    region: str = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """The per-reviewer table of the chosen range and region, as a spreadsheet."""
    region = region_or_blank(region)
    codes = sorted(_scope(staff, region or None))
    scope = [col(CaseRecord.region_code).in_(codes)]
    start, end = date_range(date_from, date_to, _today())
    rows = await reviewer_table(session, scope, start, end)
    return await xlsx_response(
        session,
        staff,
        list_name="reviewers",
        title=f"审核人员工作量 {start.isoformat()}至{end.isoformat()}",
        headers=REVIEWER_COLUMNS,
        rows=reviewer_cells(rows),
        filters={"region": region, "from": start.isoformat(), "to": end.isoformat()},
    )
