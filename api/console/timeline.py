"""The timeline shown on a case page.

Taken from the API's ``case_timeline`` (``GET /api/v1/cases/{id}/timeline``): rebuilt from the
workflow history (the legal record; from the archive once Temporal no longer keeps it), with the
workflow's own narrative merged in, decrypted only for roles entitled to it, and every view
written to the audit log. Staff read the same account an auditor rebuilds.

If that route is not there, or refuses (e.g. a league reviewer with delegated dispute authority
outside their region scope), or the history cannot be read, the page falls back to the narrative
the workflow recorded in its state, and says so: a case page never fails because its timeline
could not be built."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from core.timeline import VIEW_ACTION as TIMELINE_VIEW_ACTION
from models.case import TimelineEntry
from models.staff import StaffActor
from models.tables import AuditLog, CaseRecord, Staff

log = logging.getLogger("uiflow.console")

CATEGORY_LABELS = {
    "narrative": "办理经过",
    "decision": "决定",
    "request": "申请",
    "external": "外部系统",
    "check": "核验",
    "notification": "通知",
    "timer": "定时",
    "status": "状态",
    "receipt": "回执",
    "failure": "异常",
    "lifecycle": "案件",
    "bookkeeping": "台账",
}
# Names the history builder does not translate (yet): shown to staff in Chinese.
_NAMES_ZH = {
    "initial_review": "初审决定",
    "second_review": "复审决定",
    "final_review": "终审决定",
    "BenefitClaimWorkflow": "失业保险金申领",
    "StopReasonDisputeWorkflow": "停保原因争议",
    "BenefitPeriodWorkflow": "失业保险金发放",
}

#: The systems that act on a case, by the names staff know them (the timeline's 操作人).
SYSTEM_ACTORS = {
    "uiflow": "经办系统",
    "uiflow-archiver": "经办系统（归档）",
    "worker": "经办系统",
    "timer": "定时器",
    "notifier": "消息通知平台",
    "risk-scan": "风险筛查",
    "bank": "代发银行",
    "certificates": "职业资格证书查询",
    "contribution-records": "缴费记录系统",
    "contributions": "缴费记录系统",
    "cross-province": "跨省重复领取核查",
    "demand-platform": "金保工程需求平台",
    "employer-registry": "用人单位登记系统",
    "employers": "用人单位登记系统",
    "insurance-record": "参保记录系统",
    "medical-insurance": "医疗保险系统",
    "medical": "医疗保险系统",
    "registration-platform": "失业登记平台",
    "registration": "失业登记平台",
    "training-subsidies": "职业培训补贴系统",
    "training": "职业培训补贴系统",
    "hotline": "12333热线",
    "stop-reason-dispute": "停保原因争议",
    "applicant": "",
    "employer": "",
    "external": "",
}


#: A staff login inside a narrative text (``窗口受理（clerk.xc）``): named like the actor column.
_LOGIN_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_.])[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*(?![A-Za-z0-9_.])")


async def _name_actors(session: AsyncSession, rows: list[Row]) -> None:
    """Staff by name (logins are for the audit log), systems in Chinese; an actor without a
    Chinese name shows its kind only (a credit code or a masked person stays as it is)."""
    logins = sorted(
        {r.actor for r in rows if r.actor_kind == "staff" and r.actor}
        | {m for r in rows for m in _LOGIN_IN_TEXT.findall(r.text)}
    )
    names: dict[str, str] = {}
    if logins:
        found = (await session.exec(select(Staff).where(col(Staff.login).in_(logins)))).all()
        names = {x.login: x.name or x.login for x in found}
    for r in rows:
        r.text = _LOGIN_IN_TEXT.sub(lambda m: names.get(m.group(0), m.group(0)), r.text)
        if r.actor_kind == "staff":
            r.actor_name = names.get(r.actor, r.actor)
        elif r.actor in SYSTEM_ACTORS:
            r.actor_name = SYSTEM_ACTORS[r.actor]
        elif r.actor.isascii() and any(c.isalpha() for c in r.actor) and not r.actor[:1].isdigit():
            r.actor_name = ""
        else:
            r.actor_name = r.actor


#: Shown when the page opens; the others are one click away (the filter chips).
DEFAULT_CATEGORIES = frozenset({"narrative", "decision", "request", "failure", "lifecycle"})


@dataclass
class Row:
    at: datetime
    category: str
    actor_kind: str
    actor: str
    text: str
    source: str  # "history" or "workflow"
    event_id: int | None = None
    documents: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    actor_name: str = ""  # who, as staff read it: a colleague's name, a system's Chinese name


@dataclass
class Timeline:
    rows: list[Row]
    from_history: bool
    categories: list[tuple[str, str, int]]  # (key, label, count), in display order
    default_categories: frozenset[str] = DEFAULT_CATEGORIES
    archived: bool = False  # rebuilt from the history archive (past Temporal's retention)

    def __len__(self) -> int:
        return len(self.rows)


def _from_recorded(recorded: list[TimelineEntry]) -> Timeline:
    rows = [
        Row(
            at=e.at,
            category="narrative",
            actor_kind=e.actor_kind,
            actor=e.actor,
            text=e.text_zh,
            source="workflow",
        )
        for e in recorded
    ]
    return Timeline(rows, False, _categories(rows))


def _categories(rows: list[Row]) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.category] = counts.get(r.category, 0) + 1
    return [(k, label, counts[k]) for k, label in CATEGORY_LABELS.items() if k in counts]


def _text(text: str) -> str:
    for name, zh in _NAMES_ZH.items():
        if name in text:
            text = text.replace(name, zh)
    return text


def _category(ev: Any) -> str:
    """A decision's completion ("已办结") is filed as a receipt, hidden by default: the accepted
    decision just above it already says what was decided."""
    if ev.event_type == "WORKFLOW_EXECUTION_UPDATE_COMPLETED" and ev.category != "failure":
        return "receipt"
    return str(ev.category)


def _route() -> Any:
    from api.routes.audit import build_case_timeline

    return build_case_timeline


#: A page that reloads itself while the system works is one visit: its reloads (``?auto=1``) record
#: no further view when this staff member's view of the case was recorded within this window.
VISIT_WINDOW = timedelta(minutes=15)


async def _viewed_this_visit(
    request: Request, staff: StaffActor, session: AsyncSession, case_id: str
) -> bool:
    """True for an automatic reload whose visit already has its view in the audit log. Checked
    against the log itself, so adding ``auto=1`` by hand never hides a first view."""
    if request.query_params.get("auto") != "1":
        return False
    since = datetime.now(UTC) - VISIT_WINDOW
    found = (
        await session.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.case_id == case_id,
                AuditLog.actor == staff.login,
                AuditLog.action == TIMELINE_VIEW_ACTION,
                col(AuditLog.at) >= since,
            )
        )
    ).one()
    return bool(found)


async def entries(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    case_id: str,
    recorded: list[TimelineEntry],
) -> Timeline:
    """The case's timeline. Payload details (``detail``, which may hold personal data) are never
    put on the page, only the events' Chinese text, actors, times and evidence hashes."""
    timeline = await _entries(request, staff, session, case_id, recorded)
    if timeline.from_history:
        timeline.rows = once_per_decision(timeline.rows)
        timeline.categories = _categories(timeline.rows)
    await _name_actors(session, timeline.rows)
    return timeline


#: How far apart the history's decision and the workflow's own line about it may be.
_SAME_DECISION = timedelta(seconds=5)


def once_per_decision(rows: list[Row]) -> list[Row]:
    """Every decision once: the history's accepted Update (with its event number, the legal record)
    stays; the workflow's narrative line about the same decision (same staff member, same moment)
    is dropped, since it said the same thing a second time."""
    decisions = [r for r in rows if r.category == "decision" and r.actor_kind == "staff"]

    def duplicate(r: Row) -> bool:
        return (
            r.category == "narrative"
            and r.actor_kind == "staff"
            and any(d.actor == r.actor and abs(d.at - r.at) <= _SAME_DECISION for d in decisions)
        )

    return [r for r in rows if not duplicate(r)]


async def _entries(
    request: Request,
    staff: StaffActor,
    session: AsyncSession,
    case_id: str,
    recorded: list[TimelineEntry],
) -> Timeline:
    case_timeline = _route()
    if case_timeline is None:
        return _from_recorded(recorded)
    record = await session.get(CaseRecord, case_id)  # the page has checked the caller's scope
    if record is None:
        return _from_recorded(recorded)
    try:
        out = await case_timeline(
            case_id,
            record,
            staff,
            request,
            session,
            decrypt=True,
            bookkeeping=False,
            record_view=not await _viewed_this_visit(request, staff, session, case_id),
        )
    except ApiError as e:
        log.info("timeline route refused (%s); showing the recorded narrative", e.code)
        return _from_recorded(recorded)
    except Exception as e:  # the history service: fall back, never fail the page
        log.warning("timeline from history unavailable: %s", type(e).__name__)
        return _from_recorded(recorded)
    rows = [
        Row(
            at=ev.at,
            category=_category(ev),
            actor_kind=ev.actor_kind,
            actor=ev.actor,
            text=_text(ev.text_zh),
            source=ev.source,
            event_id=ev.event_id if ev.source == "history" else None,
            documents=list(ev.evidence.documents),
            versions=dict(ev.evidence.versions),
        )
        for ev in out.events
    ]
    return Timeline(rows, True, _categories(rows), archived=out.source == "archive")
