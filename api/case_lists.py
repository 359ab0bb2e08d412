"""Keyset pages and counts that do not scan: what every case list and inbox is built on.

A page is found by its position in the order, not by skipping rows: the cursor is the last (or
first) row's sort value and case id, and the next page is the rows after it in the index
``(<sort column>, case_id)``. A row inserted or moved between two requests is never shown twice
and never makes another row skip a page (only the rows that moved across the cursor are seen
at their new place or not at all, as in any live list). Rows whose sort value is NULL come last
(a closed case has no deadline); they are a second segment ordered by case id, so each query is
one index range, never ``OR col IS NULL`` (which turns an index range into a filter of the whole
index).

Totals and the status chips are sums over ``case_count`` (kept exact by triggers, migration
0017) when every filter is one of its dimensions; a filter it does not have (承办人, date ranges)
counts at most ``COUNT_CAP`` rows and says so (``counts_exact`` false: the console shows
"超过 N 件" and no chips)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import case, func, literal, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from models.tables import CaseCount, CaseRecord

SortKey = Literal["deadline", "received_at", "updated_at"]
SORT_COLUMNS: dict[str, Any] = {
    "deadline": CaseRecord.deadline,
    "received_at": CaseRecord.received_at,
    "updated_at": CaseRecord.updated_at,
}
#: A filter outside ``case_count``'s dimensions counts at most this many rows.
COUNT_CAP = 10_000


@dataclass
class ListSpec:
    """Which cases a list shows, in terms both ``case_record`` and ``case_count`` understand."""

    regions: list[str]
    case_types: list[str] | None = None
    statuses: list[str] | None = None
    stages: list[str] | None = None
    open_only: bool = False
    overdue: bool | None = None
    escalated: bool | None = None
    blocked: bool | None = None
    #: Filters on columns ``case_count`` does not have (assignee, date ranges).
    extra: list[Any] = field(default_factory=list)

    def record_filters(self, *, with_status: bool = True) -> list[Any]:
        f: list[Any] = [col(CaseRecord.region_code).in_(self.regions)]
        if self.case_types:
            f.append(col(CaseRecord.case_type).in_(self.case_types))
        if self.stages is not None:
            f.append(col(CaseRecord.stage).in_(self.stages or ["-"]))
        if self.open_only:
            f.append(col(CaseRecord.closed_at).is_(None))
        # Written as the partial indexes of migration 0004 are (``overdue``, ``escalated IS TRUE``).
        if self.overdue is not None:
            f.append(CaseRecord.overdue == self.overdue)
        if self.escalated is not None:
            f.append(col(CaseRecord.escalated).is_(self.escalated))
        if self.blocked is not None:
            f.append(CaseRecord.blocked == self.blocked)
        if with_status and self.statuses:
            f.append(col(CaseRecord.status).in_(self.statuses))
        return [*f, *self.extra]

    def count_filters(self) -> list[Any]:
        f: list[Any] = [col(CaseCount.region_code).in_(self.regions)]
        if self.case_types:
            f.append(col(CaseCount.case_type).in_(self.case_types))
        if self.stages is not None:
            f.append(col(CaseCount.stage).in_(self.stages or ["-"]))
        if self.open_only:
            f.append(CaseCount.is_open == True)  # noqa: E712 (SQL expression)
        for column, value in (
            (CaseCount.overdue, self.overdue),
            (CaseCount.escalated, self.escalated),
            (CaseCount.blocked, self.blocked),
        ):
            if value is not None:
                f.append(column == value)
        return f


@dataclass
class Counts:
    by_status: dict[str, int]
    overdue_by_status: dict[str, int]
    exact: bool

    def total(self, statuses: list[str] | None) -> int:
        return sum(n for s, n in self.by_status.items() if not statuses or s in statuses)

    def overdue(self, statuses: list[str] | None) -> int:
        return sum(n for s, n in self.overdue_by_status.items() if not statuses or s in statuses)


async def facet_counts(session: AsyncSession, spec: ListSpec) -> Counts:
    """Per-status counts of the list without its status filter (the chips), with the overdue
    share of each: from ``case_count`` when it can, else a capped count of ``case_record``."""
    if not spec.extra:
        overdue_n = func.sum(case((col(CaseCount.overdue).is_(True), CaseCount.n), else_=0))
        grouped = (
            await session.exec(
                select(CaseCount.status, func.sum(CaseCount.n), overdue_n)  # type: ignore[call-overload]
                .where(*spec.count_filters())
                .group_by(CaseCount.status)
            )
        ).all()
        return Counts(
            {str(s): int(n) for s, n, _ in grouped if n},
            {str(s): int(o or 0) for s, n, o in grouped if n},
            exact=True,
        )
    capped = (
        select(CaseRecord.status, CaseRecord.overdue)  # type: ignore[call-overload]
        .where(*spec.record_filters(with_status=False))
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    rows = (await session.exec(select(capped.c.status, capped.c.overdue))).all()  # type: ignore[call-overload]
    by: dict[str, int] = {}
    over: dict[str, int] = {}
    for s, o in rows[:COUNT_CAP]:
        by[str(s)] = by.get(str(s), 0) + 1
        over[str(s)] = over.get(str(s), 0) + (1 if o else 0)
    return Counts(by, over, exact=len(rows) <= COUNT_CAP)


# --- cursors -----------------------------------------------------------------------------------


def encode_cursor(sort: str, value: Any, case_id: str) -> str:
    v = value.isoformat() if isinstance(value, date | datetime) else value
    raw = json.dumps([sort, v, case_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """The (sort value, case id) a cursor points at; a cursor of another sort or a damaged one
    is refused (the console starts again at the first page)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        s, v, case_id = json.loads(raw)
        if s != sort or not isinstance(case_id, str):
            raise ValueError(s)
        if v is not None:
            v = date.fromisoformat(v) if sort == "deadline" else datetime.fromisoformat(v)
    except (ValueError, TypeError, json.JSONDecodeError) as e:
        raise ApiError(422, "cursor.invalid", "翻页位置无效，请从第一页重新查看") from e
    return v, case_id


@dataclass
class Page:
    rows: list[CaseRecord]
    next_cursor: str | None
    prev_cursor: str | None


async def keyset_page(
    session: AsyncSession,
    filters: list[Any],
    *,
    sort: str,
    order: Literal["asc", "desc"],
    size: int,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """``size`` rows after ``after`` (or before ``before``, or from the start), ordered by
    ``sort`` (``order``, NULLs last) then case id in the same direction."""
    column = SORT_COLUMNS[sort]
    forward = before is None
    cursor = decode_cursor(after, sort) if after else decode_cursor(before, sort) if before else None
    ascending = (order == "asc") == forward
    segments = ["value", "null"] if forward else ["null", "value"]
    if cursor is not None:
        # Start in the cursor's own segment: rows with a value come before the NULLs.
        segments = segments[segments.index("null" if cursor[0] is None else "value") :]
    rows: list[CaseRecord] = []
    for seg in segments:
        want = size + 1 - len(rows)
        if want <= 0:
            break
        q = select(CaseRecord).where(*filters)
        bounded = cursor is not None and (cursor[0] is None) == (seg == "null")
        if seg == "null":
            q = q.where(col(column).is_(None))
            if bounded:
                assert cursor is not None
                cid = col(CaseRecord.case_id)
                q = q.where(cid > cursor[1] if ascending else cid < cursor[1])
            q = q.order_by(col(CaseRecord.case_id).asc() if ascending else col(CaseRecord.case_id).desc())
        else:
            key = tuple_(column, CaseRecord.case_id)
            if bounded:
                assert cursor is not None
                at = tuple_(
                    literal(cursor[0], CaseRecord.__table__.c[sort].type),  # type: ignore[attr-defined]
                    literal(cursor[1], CaseRecord.__table__.c["case_id"].type),  # type: ignore[attr-defined]
                )
                q = q.where(key > at if ascending else key < at)
            else:
                q = q.where(col(column).is_not(None))
            q = q.order_by(
                *(
                    (col(column).asc(), col(CaseRecord.case_id).asc())
                    if ascending
                    else (col(column).desc(), col(CaseRecord.case_id).desc())
                )
            )
        rows.extend((await session.exec(q.limit(want))).all())
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    first = encode_cursor(sort, getattr(rows[0], sort), rows[0].case_id) if rows else None
    last = encode_cursor(sort, getattr(rows[-1], sort), rows[-1].case_id) if rows else None
    if forward:
        return Page(rows, last if more else None, first if cursor is not None else None)
    return Page(rows, last, first if more else None)


async def offset_page(
    session: AsyncSession, filters: list[Any], *, sort: str, order: str, size: int, page: int
) -> Page:
    """Page by number (``page``, kept for links to page N): costs the rows it skips. The cursors
    it returns continue by keyset from there."""
    column = SORT_COLUMNS[sort]
    direction = (
        (col(column).asc().nulls_last(), col(CaseRecord.case_id).asc())
        if order == "asc"
        else (col(column).desc().nulls_last(), col(CaseRecord.case_id).desc())
    )
    q = select(CaseRecord).where(*filters).order_by(*direction).offset((page - 1) * size).limit(size + 1)
    rows = list((await session.exec(q)).all())
    more = len(rows) > size
    rows = rows[:size]
    first = encode_cursor(sort, getattr(rows[0], sort), rows[0].case_id) if rows else None
    last = encode_cursor(sort, getattr(rows[-1], sort), rows[-1].case_id) if rows else None
    return Page(rows, last if more else None, first if page > 1 else None)
