"""One case list across types (the read model), the per-role inbox, and counts for supervisors.

The read model, not Temporal visibility, is the source for staff lists: visibility is eventually
consistent, the read model is written by the workflow before it moves on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from api.deps import ensure_region, get_session
from api.errors import ApiError
from api.params import AwareTime, Page, PageSize, RegionQuery
from api.principals import StaffUser
from models.enums import CaseType, Role
from models.staff import StaffActor
from models.tables import CaseRecord
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
SORTS = {
    "deadline": CaseRecord.deadline,
    "received_at": CaseRecord.received_at,
    "updated_at": CaseRecord.updated_at,
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


#: Statuses whose decision is taken: the review deadline no longer runs, so no days-left (a
#: rejected claim waiting for re-application kept a green "剩10个工作日" badge).
DECIDED_STATUSES = frozenset({"rejected", "approved", "closed", "refused", "withdrawn"})


def _item(r: CaseRecord, today: date) -> CaseItem:
    left: int | None = None
    deadline = None if r.status in DECIDED_STATUSES else r.deadline
    if deadline is not None:
        try:
            left = working_days_until(today, deadline)
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
    q: SelectOfScalar[CaseRecord],
    base_filters: list[Any],
    facet_filters: list[Any],
    page: int,
    page_size: int,
    sort: str,
    order: str,
) -> CaseList:
    total = (await session.exec(select(func.count()).select_from(CaseRecord).where(*base_filters))).one()
    counts_rows = (
        await session.exec(
            select(CaseRecord.status, func.count()).where(*facet_filters).group_by(CaseRecord.status)  # type: ignore[call-overload]
        )
    ).all()
    column = SORTS[sort]
    ordering = col(column).desc() if order == "desc" else col(column).asc()
    q = (
        q.order_by(ordering.nulls_last(), col(CaseRecord.case_id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = (await session.exec(q)).all()
    today = _today()
    return CaseList(
        items=[_item(r, today) for r in rows],
        total=int(total),
        page=page,
        page_size=page_size,
        counts_by_status={str(s): int(n) for s, n in counts_rows},
    )


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
) -> CaseList:
    filters: list[Any] = [col(CaseRecord.region_code).in_(sorted(_scope(staff, region)))]
    if case_type:
        filters.append(col(CaseRecord.case_type).in_([t.value for t in case_type]))
    if overdue is not None:
        filters.append(CaseRecord.overdue == overdue)
    if blocked is not None:
        filters.append(CaseRecord.blocked == blocked)
    if assigned_to:
        filters.append(CaseRecord.assigned_to == assigned_to)
    if deadline_from:
        filters.append(col(CaseRecord.deadline) >= deadline_from)
    if deadline_to:
        filters.append(col(CaseRecord.deadline) <= deadline_to)
    if received_from:
        filters.append(col(CaseRecord.received_at) >= received_from)
    if received_to:
        filters.append(col(CaseRecord.received_at) <= received_to)
    if deadline_from and deadline_to and deadline_to < deadline_from:
        raise ApiError(422, "filter.range", "截止日期范围不正确")
    facet = list(filters)  # the per-status counts ignore the status filter (a facet)
    if status:
        filters.append(col(CaseRecord.status).in_(status))
    return await _page(
        session, select(CaseRecord).where(*filters), filters, facet, page, page_size, sort, order
    )


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
) -> CaseList:
    stages = sorted({s for r in staff.roles for s in INBOX_STAGES.get(r, [])})
    filters: list[Any] = [col(CaseRecord.region_code).in_(sorted(_scope(staff, region)))]
    if staff.has(Role.OPS_ENGINEER):
        filters.append(CaseRecord.blocked == True)  # noqa: E712 (SQL expression)
    elif staff.has(Role.SUPERVISOR):
        filters.append(col(CaseRecord.escalated).is_(True))
    else:
        filters.append(col(CaseRecord.stage).in_(stages or ["-"]))
        filters.append(col(CaseRecord.closed_at).is_(None))
    if case_type:
        filters.append(col(CaseRecord.case_type).in_([t.value for t in case_type]))
    if overdue is not None:
        filters.append(CaseRecord.overdue == overdue)
    facet = list(filters)
    if status:
        filters.append(col(CaseRecord.status).in_(status))
    return await _page(
        session, select(CaseRecord).where(*filters), filters, facet, page, page_size, "deadline", "asc"
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


def _within_limit(dialect: str) -> Any:
    if dialect == "postgresql":
        return CaseRecord.summary["decided_within_limit"].as_boolean()  # type: ignore[index]
    return func.json_extract(CaseRecord.summary, "$.decided_within_limit")


@router.get("/stats", response_model=Stats, summary="统计（按状态、地区、逾期、每日受理与办结）")
async def stats(
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
    region: RegionQuery = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Stats:
    """Grouped in the database (no row is loaded into Python), so it stays fast at any size."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    scope = [col(CaseRecord.region_code).in_(sorted(_scope(staff, region)))]

    async def grouped(column: Any, *extra: Any) -> dict[str, int]:
        rows = (await session.exec(select(column, func.count()).where(*scope, *extra).group_by(column))).all()
        return {str(k): int(v) for k, v in rows if k is not None}

    received_day = _local_day(CaseRecord.received_at, dialect)
    decided_day = _local_day(CaseRecord.decided_at, dialect)
    received = await grouped(received_day)
    decided = await grouped(decided_day, col(CaseRecord.decided_at).is_not(None))
    decided_total = sum(decided.values())
    late = (
        await session.exec(
            select(func.count())
            .select_from(CaseRecord)
            .where(
                *scope,
                col(CaseRecord.decided_at).is_not(None),
                _within_limit(dialect).is_(False),
            )
        )
    ).one()
    overdue = (
        await session.exec(
            select(func.count()).select_from(CaseRecord).where(*scope, col(CaseRecord.overdue).is_(True))
        )
    ).one()
    escalated = (
        await session.exec(
            select(func.count()).select_from(CaseRecord).where(*scope, col(CaseRecord.escalated).is_(True))
        )
    ).one()
    return Stats(
        by_status=await grouped(CaseRecord.status),
        by_region=await grouped(CaseRecord.region_code),
        overdue=int(overdue),
        escalated=int(escalated),
        received_per_day={d: received[d] for d in sorted(received)[-days:]},
        decided_per_day={d: decided[d] for d in sorted(decided)[-days:]},
        decided_total=decided_total,
        decided_within_limit=decided_total - int(late),
    )
