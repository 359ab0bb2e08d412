"""The inbox (what waits for me, by deadline) and the case list (everything in my region).

The inbox is the API's ``inbox`` (``inbox_spec``: same stages per role, same region scope, same
ordering); ``tests/browser`` checks that both return the same cases. The case list is the API's
``list_cases`` rule with the filter bar. Both page by keyset cursor for 上一页/下一页 and by
number for the numbered links, and count from ``case_count`` (``api/case_lists.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.case_lists import ListSpec, facet_counts, keyset_page, offset_page
from api.case_lists import Page as KeysetPage
from api.console import disputes
from api.console.export import CASE_COLUMNS, EXPORT_LIMIT, case_rows, xlsx_response
from api.console.web import ConsoleRoute, render
from api.deps import get_session
from api.errors import ApiError
from api.params import region_or_blank
from api.principals import StaffUser
from api.routes.cases import CaseItem, _item, _scope, _today, inbox_spec
from models.benefit import PERIOD_STATUS_LABELS
from models.claim import CLAIM_STATUS_LABELS
from models.enums import CaseType
from models.premium_refund import REFUND_STATUS_LABELS
from models.service_request import STATUS_LABELS as REQUEST_STATUS_LABELS
from models.skill_subsidy import ALERT_STATUS_LABELS, SUBSIDY_STATUS_LABELS
from models.staff import StaffActor
from models.tables import Staff
from models.verification import VerificationStatus
from policy.regions import Region, descendants, get_region

router = APIRouter(route_class=ConsoleRoute)

PAGE_SIZES = (20, 50, 100)
SORTS = {"deadline": "办理时限", "received_at": "受理时间", "updated_at": "最近更新"}


@dataclass
class Filters:
    """The filter bar, parsed leniently: an unknown value is dropped, never an error page."""

    case_type: str = ""
    status: str = ""
    region: str = ""
    overdue: str = ""  # "", "1" (only overdue), "0" (not overdue)
    page: int = 1
    size: int = 50
    sort: str = "deadline"
    default_sort: str = "deadline"
    #: Keyset positions from the pager's 上一页/下一页 (the numbered links page by offset).
    after: str = ""
    before: str = ""

    @classmethod
    def parse(cls, q: dict[str, str], default_sort: str = "deadline") -> Filters:
        f = cls(sort=default_sort, default_sort=default_sort)
        if q.get("type", "") in CaseType._value2member_map_:
            f.case_type = q["type"]
        f.status = q.get("status", "") if q.get("status", "") in status_labels() else ""
        f.region = region_or_blank(q.get("region", ""))
        f.overdue = q.get("overdue", "") if q.get("overdue", "") in ("1", "0") else ""
        f.page = _int(q.get("page"), 1, 1, 100_000)
        size = _int(q.get("size"), 50, 1, 200)
        f.size = size if size in PAGE_SIZES else 50
        f.sort = q.get("sort", default_sort) if q.get("sort", default_sort) in SORTS else default_sort
        f.after = q.get("after", "")[:512]
        f.before = "" if f.after else q.get("before", "")[:512]
        return f

    def query(self, **over: Any) -> str:
        """The query string for a link that changes one thing (paging keeps the filters)."""
        values = {
            "type": self.case_type,
            "status": self.status,
            "region": self.region,
            "overdue": self.overdue,
            "size": str(self.size) if self.size != 50 else "",
            "sort": self.sort if self.sort != self.default_sort else "",
            "page": str(self.page),
        } | {k: str(v) for k, v in over.items() if v is not None}
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == "1")})

    @property
    def active(self) -> bool:
        return bool(self.case_type or self.status or self.region or self.overdue)


@dataclass
class ListPage:
    items: list[CaseItem]
    total: int
    page: int
    page_size: int
    counts_by_status: dict[str, int] = field(default_factory=dict)
    overdue_total: int | None = None
    counts_exact: bool = True
    next_cursor: str | None = None
    prev_cursor: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.page_size)


def _int(v: str | None, default: int, lo: int, hi: int) -> int:
    try:
        n = int(v) if v is not None else default
    except ValueError:
        return default
    return min(hi, max(lo, n))


def status_labels() -> dict[str, str]:
    """Every case type's statuses in Chinese (chips, the filter, the supervisor's chart): a status
    of a type missing here showed as its code (``active``)."""
    labels = {s.value: label for s, label in CLAIM_STATUS_LABELS.items()}
    for value, label in disputes.status_labels().items():
        labels.setdefault(value, label)
    for table in (PERIOD_STATUS_LABELS, SUBSIDY_STATUS_LABELS, REQUEST_STATUS_LABELS, ALERT_STATUS_LABELS):
        for status, label in table.items():
            labels.setdefault(str(status.value), label)
    for v in VerificationStatus:
        labels.setdefault(v.value, v.label_zh)
    for r, label in REFUND_STATUS_LABELS.items():
        labels.setdefault(r.value, label)
    return labels


def region_options(staff: StaffActor) -> list[Region]:
    return [get_region(staff.region_code), *descendants(staff.region_code)]


async def inbox_page(session: AsyncSession, staff: StaffActor, f: Filters) -> ListPage:
    """The API inbox's rule (``inbox_spec``) with the filter bar; counts from ``case_count``."""
    spec = inbox_spec(staff, f.region or None)
    if f.case_type:
        spec.case_types = [f.case_type]
    if f.overdue:
        spec.overdue = f.overdue == "1"
    counts = await facet_counts(session, spec)
    statuses = [f.status] if f.status else None
    spec.statuses = statuses
    got = await _rows(session, spec.record_filters(), f, "deadline", "asc")
    today = _today()
    return ListPage(
        items=[_item(r, today) for r in got.rows],
        total=counts.total(statuses),
        page=f.page,
        page_size=f.size,
        counts_by_status=counts.by_status,
        overdue_total=counts.overdue(statuses),
        counts_exact=counts.exact,
        next_cursor=got.next_cursor,
        prev_cursor=got.prev_cursor,
    )


async def _rows(session: AsyncSession, filters: list[Any], f: Filters, sort: str, order: Any) -> KeysetPage:
    """By cursor from 上一页/下一页 and on the first page; by offset from a numbered link. A cursor
    that does not decode (an old bookmark) starts again at the first page."""
    try:
        if f.after or f.before or f.page == 1:
            return await keyset_page(
                session,
                filters,
                sort=sort,
                order=order,
                size=f.size,
                after=f.after or None,
                before=f.before or None,
            )
    except ApiError:
        f.page, f.after, f.before = 1, "", ""
        return await keyset_page(session, filters, sort=sort, order=order, size=f.size)
    return await offset_page(session, filters, sort=sort, order=order, size=f.size, page=f.page)


async def staff_names(session: AsyncSession, logins: Iterable[str | None]) -> dict[str, str]:
    """Login -> name, for the 承办人 column: staff are named as colleagues know them."""
    wanted = sorted({x for x in logins if x})
    if not wanted:
        return {}
    rows = (await session.exec(select(Staff).where(col(Staff.login).in_(wanted)))).all()
    return {r.login: r.name or r.login for r in rows}


def _table_only(request: Request) -> bool:
    return request.headers.get("HX-Target") == "case-table"


def _list_context(
    staff: StaffActor, f: Filters, page: ListPage, base: str, names: dict[str, str]
) -> dict[str, Any]:
    return {
        "names": names,
        "f": f,
        "page": page,
        "base": base,
        "status_labels": status_labels(),
        "case_types": list(CaseType),
        "regions": region_options(staff),
        "page_sizes": PAGE_SIZES,
        "sorts": SORTS,
    }


@router.get("/inbox")
async def inbox_view(
    request: Request,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    f = Filters.parse(dict(request.query_params))
    page = await inbox_page(session, staff, f)
    if page.total and f.page > page.pages:
        f.page = page.pages
        page = await inbox_page(session, staff, f)
    names = await staff_names(session, (it.assigned_to for it in page.items))
    ctx = _list_context(staff, f, page, "/console/inbox", names) | {"nav": "inbox", "mode": "inbox"}
    return render(request, "_case_table.html" if _table_only(request) else "inbox.html", ctx, staff=staff)


@router.get("/cases")
async def cases_view(
    request: Request,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    f = Filters.parse(dict(request.query_params), default_sort="received_at")
    page = await cases_page(session, staff, f)
    names = await staff_names(session, (it.assigned_to for it in page.items))
    ctx = _list_context(staff, f, page, "/console/cases", names) | {"nav": "cases", "mode": "cases"}
    return render(request, "_case_table.html" if _table_only(request) else "cases.html", ctx, staff=staff)


async def cases_page(session: AsyncSession, staff: StaffActor, f: Filters) -> ListPage:
    """The API list's rule (scope and filters) with the console's pager."""
    spec = ListSpec(
        regions=sorted(_scope(staff, f.region or None)),
        case_types=[f.case_type] if f.case_type else None,
        overdue={"1": True, "0": False}.get(f.overdue),
    )
    counts = await facet_counts(session, spec)
    spec.statuses = [f.status] if f.status else None
    got = await _rows(session, spec.record_filters(), f, f.sort, "asc" if f.sort == "deadline" else "desc")
    today = _today()
    return ListPage(
        items=[_item(r, today) for r in got.rows],
        total=counts.total(spec.statuses),
        page=f.page,
        page_size=f.size,
        counts_by_status=counts.by_status,
        counts_exact=counts.exact,
        next_cursor=got.next_cursor,
        prev_cursor=got.prev_cursor,
    )


@router.get("/inbox/export.xlsx")
async def inbox_export(
    request: Request,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    """The inbox with the filters on screen, as a spreadsheet (at most ``EXPORT_LIMIT`` rows)."""
    f = Filters.parse(dict(request.query_params))
    f.page, f.size, f.after, f.before = 1, EXPORT_LIMIT, "", ""
    return await _export(session, staff, "inbox", "我的待办", f, await inbox_page(session, staff, f))


@router.get("/cases/export.xlsx")
async def cases_export(
    request: Request,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    """The case list with the filters on screen, as a spreadsheet (at most ``EXPORT_LIMIT`` rows)."""
    f = Filters.parse(dict(request.query_params), default_sort="received_at")
    f.page, f.size, f.after, f.before = 1, EXPORT_LIMIT, "", ""
    return await _export(session, staff, "cases", "全部案件", f, await cases_page(session, staff, f))


async def _export(
    session: AsyncSession, staff: StaffActor, list_name: str, title: str, f: Filters, page: ListPage
) -> Response:
    names = await staff_names(session, (it.assigned_to for it in page.items))
    filters = {"type": f.case_type, "status": f.status, "region": f.region, "overdue": f.overdue}
    return await xlsx_response(
        session,
        staff,
        list_name=list_name,
        title=title,
        headers=CASE_COLUMNS,
        rows=case_rows(page.items, names),
        filters={k: v for k, v in filters.items() if v},
    )
