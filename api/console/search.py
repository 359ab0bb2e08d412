"""Finding a person or a case at the counter: by name, full ID number, the ID number's last four
characters with the birth date, the short case number (150102-20261130-0001) or the full case id.

Why a POST: what staff type here is personal data, and a query string ends up in browser history,
proxy and server logs. Every search, with or without results, is written to the audit log with
what kind of search it was and how many cases it found, never what was typed. The read model is
matched on keyed hashes (``core/person_search.py``), so neither a name nor an ID number is ever
compared, or kept, in plain text; results show masked names and ID numbers only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.web import ConsoleRoute, csrf_protect, redirect, render, settings_of
from api.deps import get_session
from api.principals import StaffUser
from api.routes.cases import _item, _scope, _today
from core import audit, person_search
from core.applicant import applicant_key
from models.staff import StaffActor
from models.tables import CaseRecord
from policy.identity import is_valid_resident_id

router = APIRouter(route_class=ConsoleRoute)

SEARCH_ACTION = "person.searched"
MAX_RESULTS = 100
KIND_LABELS = {
    "short_no": "案件短号",
    "case_id": "案件编号",
    "id_number": "身份证号",
    "id_tail": "身份证后四位与出生日期",
    "name": "姓名",
}
_CASE_ID_RE = re.compile(r"^[a-z][a-z_]*-[0-9A-Za-z_\-]+$")


@dataclass
class Query:
    """What was typed, understood: which kind of search, and the key to match (never the value)."""

    kind: str
    column: Any = None
    key: str | None = None
    error: str | None = None


def parse(settings: Any, q: str, birth: str) -> Query:
    text = q.strip()
    if not text:
        return Query("", error="请输入姓名、身份证号、身份证后四位或案件编号")
    if person_search.SHORT_NO_RE.match(text):
        return Query("short_no", CaseRecord.short_no, text)
    upper = text.upper()
    if len(upper) == 18 and upper[:17].isdigit():
        if not is_valid_resident_id(upper):
            return Query("id_number", error="身份证号校验不通过，请核对")
        return Query("id_number", CaseRecord.applicant_key, applicant_key(settings, upper))
    if person_search.ID_TAIL_RE.match(upper):
        try:
            born = date.fromisoformat(birth.strip())
        except ValueError:
            return Query("id_tail", error="按身份证后四位查找时，请同时填写出生日期")
        return Query("id_tail", CaseRecord.tail_key, person_search.tail_key(settings, upper, born))
    if _CASE_ID_RE.match(text) and len(text) > 12:
        return Query("case_id", CaseRecord.case_id, text)
    if any(c.isdigit() for c in text):
        return Query("", error="无法识别：请输入姓名、18位身份证号、身份证后四位（另填出生日期）或案件编号")
    return Query("name", CaseRecord.name_key, person_search.name_key(settings, text))


async def find(session: AsyncSession, staff: StaffActor, query: Query) -> list[CaseRecord]:
    """Cases in the staff member's region scope matching the key, newest first."""
    if query.column is None or not query.key:
        return []
    rows = (
        await session.exec(
            select(CaseRecord)
            .where(
                query.column == query.key,
                col(CaseRecord.region_code).in_(sorted(_scope(staff, None))),
            )
            .order_by(col(CaseRecord.received_at).desc())
            .limit(MAX_RESULTS)
        )
    ).all()
    return list(rows)


@router.get("/search")
async def search_form(request: Request, staff: StaffUser) -> Response:
    ctx = {
        "nav": "search",
        "q": "",
        "birth": "",
        "results": None,
        "error": None,
        "kind_label": "",
        "capped": False,
    }
    return render(request, "search.html", ctx, staff=staff)


@router.post("/search", dependencies=[Depends(csrf_protect)])
async def search(
    request: Request,
    staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Response:
    form = await request.form()
    q = str(form.get("q") or "")[:64]
    birth = str(form.get("birth") or "")[:10]
    query = parse(settings_of(request), q, birth)
    rows = await find(session, staff, query)
    if query.kind:
        await audit.append(
            session,
            actor=staff.login,
            action=SEARCH_ACTION,
            actor_role=",".join(staff.roles),
            actor_region=staff.region_code,
            payload={"kind": query.kind, "results": len(rows)},
            detail={"kind": query.kind, "results": len(rows)},
        )
        await session.commit()
    # A case number names one case: open it (the case page checks scope and records its view).
    if query.kind in ("short_no", "case_id") and len(rows) == 1:
        return redirect(request, f"/console/cases/{quote(rows[0].case_id, safe='')}")
    today = _today()
    ctx = {
        "nav": "search",
        # Typed values are shown back only when they are not personal data.
        "q": q if query.kind in ("short_no", "case_id", "") else "",
        "birth": "",
        "kind_label": KIND_LABELS.get(query.kind, ""),
        "error": query.error,
        "results": [_item(r, today) for r in rows],
        "capped": len(rows) >= MAX_RESULTS,
    }
    return render(request, "search.html", ctx, staff=staff, status=422 if query.error else 200)
