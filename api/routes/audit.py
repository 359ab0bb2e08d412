"""Case tracking and audit over HTTP: a case's timeline (from its workflow history), the audit
log, and the integrity check of the audit log and the history archive.

Who may see what:

- A timeline: any staff member whose region scope covers the case (the case's region comes from
  the read model). Payloads are decrypted only for roles that handle or oversee cases (not for
  operations engineers, who get the redacted timeline: events, names and times, no personal data).
- Every timeline view is written to the audit log *before* the answer leaves: if the audit entry
  cannot be written, nobody sees the timeline.
- The audit log and the integrity check: auditors and supervisors (and administrators).

Auditors change nothing: ``api/principals.py`` refuses any non-GET request of a read-only role, and
every route here is a GET.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from api.deps import get_db, get_session, get_temporal
from api.errors import ApiError
from api.principals import DECRYPT_ROLES, AnyCaseForStaff, AuditReader, StaffUser
from core import audit
from core.archive import IntegrityReport, fetch_chain, history_of, verify_all
from core.db import Database
from core.temporal_client import make_data_converter
from core.timeline import (
    VIEW_ACTION,
    RunInfo,
    TimelineEvent,
    build_timeline,
    describe_runs,
    ledger_rows,
    with_ledger,
)
from models.case import BUSINESS_TZ
from models.enums import Role
from models.staff import StaffActor
from models.tables import AuditLog, CaseRecord, HistoryArchive
from policy.regions import REGION_ROOT, subtree_codes

router = APIRouter(prefix="/api/v1", tags=["audit"])

TIMELINE_VIEW_ACTION = VIEW_ACTION
STAFF_ROLES = tuple(r for r in Role if r != Role.EMPLOYER)
# Roles that see decrypted payloads (personal data) in a timeline.
AUDIT_ROLES = (Role.AUDITOR, Role.SUPERVISOR)
QUERY_TIMEOUT = timedelta(seconds=3)

Staff = StaffUser
Auditor = AuditReader  # AUDIT_ROLES
Session = Annotated[AsyncSession, Depends(get_session)]


# --- timeline -----------------------------------------------------------------------------------


class CaseTimelineOut(BaseModel):
    case_id: str
    case_type: str
    region_code: str
    source: str = Field(description="temporal：来自 Temporal；archive：来自历史归档（已超过保留期）")
    decrypted: bool = Field(description="是否已解密载荷（含个人信息）")
    narrative: bool = Field(description="是否并入了工作流自身记录的时间线")
    runs: list[RunInfo]
    events: list[TimelineEvent]


async def _histories(
    request: Request, session: AsyncSession, case_id: str
) -> tuple[list[WorkflowHistory], str, Client | None]:
    """The case's runs from Temporal; past retention (or with Temporal down) from the archive."""
    client: Client | None = None
    unavailable: Exception | None = None
    try:
        client = await get_temporal(request)
        return await fetch_chain(client, case_id), "temporal", client
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            unavailable = e
    except ApiError as e:  # Temporal unavailable: the archive may still have the case
        unavailable = e
    rows = (
        await session.exec(
            select(HistoryArchive)
            .where(HistoryArchive.workflow_id == case_id)
            .order_by(col(HistoryArchive.seq))
        )
    ).all()
    if not rows:
        if unavailable is not None:
            raise ApiError(503, "temporal.unavailable", "工作流服务暂时不可用，请稍后再试") from unavailable
        raise ApiError(404, "case.history_missing", "该案件的工作流历史不在 Temporal 中，也未归档")
    return [history_of(r) for r in rows], "archive", client


async def _recorded(client: Client | None, case_id: str) -> list[Any]:
    """The workflow's own timeline through its ``state_query`` (a worker answers, replaying the
    history if the case is closed). Best effort: without it the timeline is the history alone."""
    if client is None:
        return []
    try:
        state = await client.get_workflow_handle(case_id).query("state_query", rpc_timeout=QUERY_TIMEOUT)
    except Exception:
        return []
    timeline = state.get("timeline") if isinstance(state, dict) else None
    return list(timeline) if isinstance(timeline, list) else []


@router.get(
    "/cases/{case_id}/timeline",
    response_model=CaseTimelineOut,
    summary="案件时间线（由工作流历史重建；每次查看记入审计日志）",
)
async def case_timeline(
    case_id: str,
    record: AnyCaseForStaff,
    staff: Staff,
    request: Request,
    session: Session,
    decrypt: Annotated[bool, Query(description="解密载荷（仅限有权查看个人信息的岗位）")] = True,
    bookkeeping: Annotated[bool, Query(description="包括台账更新、审计写入等记账事件")] = False,
) -> CaseTimelineOut:
    return await build_case_timeline(
        case_id, record, staff, request, session, decrypt=decrypt, bookkeeping=bookkeeping, record_view=True
    )


async def _record_view(
    session: AsyncSession,
    staff: StaffActor,
    case_id: str,
    decrypted: bool,
    source: str,
    histories: list[WorkflowHistory],
    events: int,
) -> None:
    await audit.append(
        session,
        actor=staff.login,
        action=TIMELINE_VIEW_ACTION,
        case_id=case_id,
        actor_role=",".join(staff.roles),
        actor_region=staff.region_code,
        payload={"decrypted": decrypted, "runs": [h.run_id for h in histories], "events": events},
        detail={"decrypted": decrypted, "source": source, "events": events},
    )
    await session.commit()


async def build_case_timeline(
    case_id: str,
    record: CaseRecord,
    staff: StaffActor,
    request: Request,
    session: AsyncSession,
    *,
    decrypt: bool,
    bookkeeping: bool,
    record_view: bool,
) -> CaseTimelineOut:
    """The timeline, and the audit entry of the view. ``record_view`` is False only for the
    console's own automatic reloads of a page already viewed (and recorded) in this visit: a case
    page refreshing while the system works must not write one view per reload."""
    decrypted = decrypt and (staff.has(*DECRYPT_ROLES) or staff.has(Role.ADMIN))
    histories, source, client = await _histories(request, session, case_id)
    recorded = await _recorded(client, case_id) if decrypted and source == "temporal" else []
    converter = make_data_converter(codec=request.app.state.codec) if decrypted else None
    events = await build_timeline(histories, converter, recorded=recorded, include_bookkeeping=bookkeeping)
    if record.case_type == "benefit_period":
        events = with_ledger(events, await ledger_rows(session, case_id))
    # The view is recorded before the data leaves; a failed write refuses the view.
    if record_view:
        await _record_view(session, staff, case_id, decrypted, source, histories, len(events))
    return CaseTimelineOut(
        case_id=case_id,
        case_type=record.case_type,
        region_code=record.region_code,
        source=source,
        decrypted=decrypted,
        narrative=bool(recorded),
        runs=describe_runs(histories),
        events=events,
    )


# --- the audit log ------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str | None
    actor_region: str | None
    action: str
    case_id: str | None
    payload_hash: str
    detail: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditLogPage(BaseModel):
    entries: list[AuditEntryOut]
    next_before_id: int | None = Field(description="下一页：把它作为 before_id 传入")


@router.get(
    "/audit/log", response_model=AuditLogPage, summary="审计日志（按案件、人员、事项、时间筛选；新的在前）"
)
async def audit_log(
    staff: Auditor,
    session: Session,
    case_id: str | None = None,
    actor: str | None = None,
    action: Annotated[str | None, Query(description="事项；以 .* 结尾按前缀匹配，如 claim.*")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # the id column is 32-bit
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditLogPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                422,
                "request.invalid",
                "时间须带时区，如 2026-01-01T00:00:00+08:00",
                fields={name: "须带时区"},
            )
    stmt = select(AuditLog)
    if case_id:
        stmt = stmt.where(AuditLog.case_id == case_id)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if action:
        if action.endswith(".*"):
            stmt = stmt.where(col(AuditLog.action).startswith(action[:-1]))
        else:
            stmt = stmt.where(AuditLog.action == action)
    if since is not None:
        stmt = stmt.where(col(AuditLog.at) >= since)
    if until is not None:
        stmt = stmt.where(col(AuditLog.at) < until)
    if before_id is not None:
        stmt = stmt.where(col(AuditLog.id) < before_id)
    if staff.region_code != REGION_ROOT:
        # In scope: entries about cases of the region, and entries by staff of the region.
        codes = sorted(subtree_codes(staff.region_code))
        cases_in_scope = select(CaseRecord.case_id).where(col(CaseRecord.region_code).in_(codes))
        stmt = stmt.where(
            or_(col(AuditLog.actor_region).in_(codes), col(AuditLog.case_id).in_(cases_in_scope))
        )
    rows = (await session.exec(stmt.order_by(col(AuditLog.id).desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return AuditLogPage(
        entries=[
            AuditEntryOut(
                id=r.id or 0,
                at=r.at.astimezone(BUSINESS_TZ),
                actor=r.actor,
                actor_role=r.actor_role,
                actor_region=r.actor_region,
                action=r.action,
                case_id=r.case_id,
                payload_hash=r.payload_hash,
                detail=r.detail,
                prev_hash=r.prev_hash,
                entry_hash=r.entry_hash,
            )
            for r in page
        ],
        next_before_id=page[-1].id if len(rows) > limit and page else None,
    )


@router.get(
    "/audit/verify",
    response_model=IntegrityReport,
    summary="校验审计日志哈希链与历史归档（每个案件的哈希链及其审计锚点）",
)
async def audit_verify(
    staff: Auditor, db: Annotated[Database, Depends(get_db)], case_id: str | None = None
) -> IntegrityReport:
    return await verify_all(db, case_id)
