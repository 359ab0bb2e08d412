"""One case list across types (the read model), the per-role inbox, and counts for supervisors.

The read model, not Temporal visibility, is the source for staff lists: visibility is eventually
consistent, the read model is written by the workflow before it moves on."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.calendar_in_force import api_calendar
from api.case_lists import ListSpec, facet_counts, keyset_page, offset_page
from api.deps import ensure_region, get_session
from api.errors import ApiError
from api.params import AwareTime, Page, PageSize, RegionQuery
from api.principals import StaffUser
from models.enums import CaseType, Role
from models.staff import StaffActor
from models.tables import CaseCount, CaseRecord
from policy.calendar import working_days_until
from policy.errors import PolicyError
from policy.regions import subtree_codes

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

# The stages each role works on: the inbox shows the cases waiting for this person's level.
INBOX_STAGES: dict[Role, list[str]] = {
    Role.REVIEWER: ["review", "initial_review"],
    Role.SECOND_REVIEWER: ["second_review"],
    Role.FINAL_REVIEWER: ["final_review"],
    Role.RISK_INSPECTOR: ["risk_verification", "verification"],  # flagged claims, verification cases
    # Rejected claims waiting for re-application too: the clerk re-applies for the person.
    Role.INTAKE_CLERK: [
        "awaiting_documents",
        "awaiting_registration",
        "registration",
        "awaiting_reapplication",
    ],
}


class CaseItem(BaseModel):
    case_id: str
    short_no: str | None = None  # the readable number (150102-20261130-0001) read out over the phone
    case_type: str
    case_type_label: str
    status: str
    status_label: str
    stage: str
    region_code: str
    applicant_name: str
    applicant_id_masked: str
    channel: str
    received_at: datetime
    deadline: date | None
    working_days_left: int | None
    overdue: bool
    escalated: bool
    blocked: bool
    risk_flagged: bool
    assigned_to: str | None
    rounds: int


class CaseList(BaseModel):
    items: list[CaseItem]
    total: int
    page: int
    page_size: int
    counts_by_status: dict[str, int]
    #: False when a filter outside the count table capped the count at ``COUNT_CAP``: ``total``
    #: and ``counts_by_status`` are then lower bounds.
    counts_exact: bool = True
    #: Opaque positions for the next/previous page (``after=`` / ``before=``); None at the ends.
    next_cursor: str | None = None
    prev_cursor: str | None = None


#: Statuses whose decision is taken: the review deadline no longer runs, so no days-left (a
#: rejected claim waiting for re-application kept a green "剩10个工作日" badge).
DECIDED_STATUSES = frozenset({"rejected", "approved", "closed", "refused", "withdrawn"})


def _item(r: CaseRecord, today: date) -> CaseItem:
    left: int | None = None
    deadline = None if r.status in DECIDED_STATUSES else r.deadline
    if deadline is not None:
        try:
            left = working_days_until(today, deadline, api_calendar())
        except PolicyError:
            left = None
    return CaseItem(
        case_id=r.case_id,
        short_no=r.short_no,
        case_type=r.case_type,
        case_type_label=CaseType(r.case_type).label,
        status=r.status,
        status_label=str(r.summary.get("status_label", r.status)),
        stage=r.stage,
        region_code=r.region_code,
        applicant_name=r.applicant_name,
        applicant_id_masked=r.applicant_id_masked,
        channel=r.channel,
        received_at=r.received_at,
        deadline=deadline,
        working_days_left=left,
        overdue=r.overdue,
        escalated=r.escalated,
        blocked=r.blocked,
        risk_flagged=r.risk_flagged,
        assigned_to=r.assigned_to,
        rounds=r.rounds,
    )


def _scope(staff: StaffActor, region: str | None) -> frozenset[str]:
    if region:
        ensure_region(staff, region)
        return subtree_codes(region)
    return subtree_codes(staff.region_code)


def _today() -> date:
    from models.case import local_date

    return local_date(datetime.now().astimezone())


async def _page(
    session: AsyncSession,
    spec: ListSpec,
    *,
    page: int,
    page_size: int,
    sort: str,
    order: Literal["asc", "desc"],
    after: str | None,
    before: str | None,
) -> CaseList:
    counts = await facet_counts(session, spec)
    filters = spec.record_filters()
    if after or before or page == 1:
        got = await keyset_page(
            session, filters, sort=sort, order=order, size=page_size, after=after, before=before
        )
    else:
        got = await offset_page(session, filters, sort=sort, order=order, size=page_size, page=page)
    today = _today()
    return CaseList(
        items=[_item(r, today) for r in got.rows],
        total=counts.total(spec.statuses),
        page=page,
        page_size=page_size,
        counts_by_status=counts.by_status,
        counts_exact=counts.exact,
        next_cursor=got.next_cursor,
        prev_cursor=got.prev_cursor,
    )


After = Annotated[
    str | None,
    Query(max_length=512, description="游标：上一次结果的 next_cursor，取其后的一页（优先于 page）"),
]
Before = Annotated[
    str | None, Query(max_length=512, description="游标：上一次结果的 prev_cursor，取其前的一页")
]


@router.get("", response_model=CaseList, summary="案件列表（全部类型，按地区范围）")
async def list_cases(
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    case_type: Annotated[list[CaseType] | None, Query(alias="type")] = None,
    status: Annotated[list[str] | None, Query()] = None,
    region: RegionQuery = None,
    overdue: bool | None = None,
    blocked: bool | None = None,
    assigned_to: str | None = None,
    deadline_from: date | None = None,
    deadline_to: date | None = None,
    received_from: AwareTime = None,
    received_to: AwareTime = None,
    sort: Literal["deadline", "received_at", "updated_at"] = "deadline",
    order: Literal["asc", "desc"] = "asc",
    page: Page = 1,
    page_size: PageSize = 50,
    after: After = None,
    before: Before = None,
) -> CaseList:
    extra: list[Any] = []
    if assigned_to:
        extra.append(CaseRecord.assigned_to == assigned_to)
    if deadline_from:
        extra.append(col(CaseRecord.deadline) >= deadline_from)
    if deadline_to:
        extra.append(col(CaseRecord.deadline) <= deadline_to)
    if received_from:
        extra.append(col(CaseRecord.received_at) >= received_from)
    if received_to:
        extra.append(col(CaseRecord.received_at) <= received_to)
    if deadline_from and deadline_to and deadline_to < deadline_from:
        raise ApiError(422, "filter.range", "截止日期范围不正确")
    spec = ListSpec(
        regions=sorted(_scope(staff, region)),
        case_types=[t.value for t in case_type] if case_type else None,
        statuses=status or None,
        overdue=overdue,
        blocked=blocked,
        extra=extra,
    )
    return await _page(
        session, spec, page=page, page_size=page_size, sort=sort, order=order, after=after, before=before
    )


def inbox_spec(staff: StaffActor, region: str | None) -> ListSpec:
    """Which cases wait for this person's level, in their region (the API's and the console's)."""
    spec = ListSpec(regions=sorted(_scope(staff, region)))
    if staff.has(Role.OPS_ENGINEER):
        spec.blocked = True
    elif staff.has(Role.SUPERVISOR):
        spec.escalated = True
    else:
        spec.stages = sorted({s for r in staff.roles for s in INBOX_STAGES.get(r, [])})
        spec.open_only = True
    return spec


@router.get("/inbox", response_model=CaseList, summary="我的待办（按本人岗位与地区，按办理时限排序）")
async def inbox(
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    case_type: Annotated[list[CaseType] | None, Query(alias="type")] = None,
    status: Annotated[list[str] | None, Query()] = None,
    region: RegionQuery = None,
    overdue: bool | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
    after: After = None,
    before: Before = None,
) -> CaseList:
    spec = inbox_spec(staff, region)
    if case_type:
        spec.case_types = [t.value for t in case_type]
    spec.overdue = overdue
    spec.statuses = status or None
    return await _page(
        session,
        spec,
        page=page,
        page_size=page_size,
        sort="deadline",
        order="asc",
        after=after,
        before=before,
    )


class Stats(BaseModel):
    by_status: dict[str, int]
    by_region: dict[str, int]
    overdue: int
    escalated: int
    received_per_day: dict[str, int]
    decided_per_day: dict[str, int]
    decided_total: int
    decided_within_limit: int


def _local_day(column: Any, dialect: str) -> Any:
    """The Asia/Shanghai calendar day of a timestamp column, computed in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.date(column, "+8 hours")


@router.get("/stats", response_model=Stats, summary="统计（按状态、地区、逾期、每日受理与办结）")
async def stats(
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    region: RegionQuery = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Stats:
    """Totals from ``case_count`` (a few thousand rows, never the cases); the per-day counts over
    the last ``days`` days up to the latest day with a case in scope, each an index range over
    ``(region_code, received_at)`` / ``(region_code, decided_at)``."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    codes = sorted(_scope(staff, region))
    in_scope = col(CaseCount.region_code).in_(codes)

    async def summed(column: Any, *extra: Any) -> dict[str, int]:
        rows = (
            await session.exec(
                select(column, func.sum(CaseCount.n)).where(in_scope, *extra).group_by(column)  # type: ignore[call-overload]
            )
        ).all()
        return {str(k): int(v) for k, v in rows if v}

    async def per_day(column: Any) -> dict[str, int]:
        scope = [col(CaseRecord.region_code).in_(codes), col(column).is_not(None)]
        latest = (await session.exec(select(func.max(column)).where(*scope))).one()
        if latest is None:
            return {}
        since = latest - timedelta(days=days + 1)  # a day more: the local day starts 8 h earlier
        day = _local_day(column, dialect)
        rows = (
            await session.exec(
                select(day, func.count()).where(*scope, col(column) >= since).group_by(day)  # type: ignore[call-overload]
            )
        ).all()
        got = {str(k): int(v) for k, v in rows if k is not None}
        return {d: got[d] for d in sorted(got)[-days:]}

    flags = await summed(CaseCount.decided, CaseCount.decided == True)  # noqa: E712
    late = await summed(CaseCount.late, CaseCount.late == True)  # noqa: E712
    decided_total = sum(flags.values())
    return Stats(
        by_status=await summed(CaseCount.status),
        by_region=await summed(CaseCount.region_code),
        overdue=sum((await summed(CaseCount.overdue, CaseCount.overdue == True)).values()),  # noqa: E712
        escalated=sum((await summed(CaseCount.escalated, CaseCount.escalated == True)).values()),  # noqa: E712
        received_per_day=await per_day(CaseRecord.received_at),
        decided_per_day=await per_day(CaseRecord.decided_at),
        decided_total=decided_total,
        decided_within_limit=decided_total - sum(late.values()),
    )
