"""Lists as spreadsheets (xlsx): the inbox, the case list (with the same filters as on screen) and
the supervisor's per-reviewer table, for the monthly report and the office meeting.

Why xlsx and not CSV: the office opens it in WPS or Excel by double-click, and a CSV in UTF-8
comes up garbled there. Exports carry the same masked data as the screen; every export is written
to the audit log (which list, how many rows), since a file leaves the system's access control."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.web import fmt_date, fmt_dt, region_short, security_headers
from api.routes.cases import CaseItem
from core import audit
from models.staff import StaffActor

EXPORT_ACTION = "list.exported"
#: At most this many rows in one file: a larger list is narrowed with the filters first.
EXPORT_LIMIT = 5000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CASE_COLUMNS = (
    "案件短号",
    "案件编号",
    "类型",
    "申请人",
    "身份证号",
    "地区",
    "状态",
    "受理时间（北京时间）",
    "截止日",
    "逾期",
    "承办人",
)


def case_rows(items: Iterable[CaseItem], names: dict[str, str]) -> list[list[Any]]:
    return [
        [
            it.short_no or "",
            it.case_id,
            it.case_type_label,
            it.applicant_name,
            it.applicant_id_masked,
            region_short(it.region_code),
            it.status_label,
            fmt_dt(it.received_at),
            fmt_date(it.deadline) if it.deadline else "",
            "是" if it.overdue else "",
            names.get(it.assigned_to or "", it.assigned_to or ""),
        ]
        for it in items
    ]


def workbook_bytes(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has one sheet
    ws.title = title[:31]
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([v.isoformat() if isinstance(v, date | datetime) else v for v in row])
    for i, h in enumerate(headers, start=1):
        width = max([len(str(h)) * 2] + [len(str(r[i - 1])) + 2 for r in rows[:200]])
        ws.column_dimensions[get_column_letter(i)].width = min(40, max(8, width))
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def xlsx_response(
    session: AsyncSession,
    staff: StaffActor,
    *,
    list_name: str,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    filters: dict[str, str],
) -> Response:
    """The file, after the export is in the audit log (a failed write refuses the export)."""
    await audit.append(
        session,
        actor=staff.login,
        action=EXPORT_ACTION,
        actor_role=",".join(staff.roles),
        actor_region=staff.region_code,
        payload={"list": list_name, "rows": len(rows), "filters": filters},
        detail={"list": list_name, "rows": len(rows)},
    )
    await session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    filename = f"{title}-{stamp}.xlsx"
    response = Response(
        workbook_bytes(title, headers, rows),
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{quote(filename)}"
        },
    )
    return security_headers(response)
