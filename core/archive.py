"""The history archive: each closed case's full workflow history, exported to the case database
with its payloads still encrypted, hash-chained per case and anchored in the audit log.

Why: Temporal keeps a closed workflow's history only for the namespace retention period, and its
own archival is experimental. The history is the legal record of a case, so it must outlive
retention, and any later change to the stored copy must be detectable.

How tampering is detected:

- ``content_hash`` is the SHA-256 of the stored history JSON, exactly as stored (no
  re-serialisation), so a change of one byte changes it.
- ``chain_hash`` seals the row's identity, position and content together with the previous row of
  the same case (``prev_hash``); the runs of a continue-as-new chain are rows 1, 2, 3… of one case.
  Deleting, reordering or editing a row breaks the chain.
- Each archived run also appends a ``history.archived`` entry to the audit log whose payload hash
  commits to the run's hashes. Someone who rewrites a row *and* recomputes its chain still leaves
  an audit entry that no longer matches, and the audit log is itself a hash chain (``core.audit``).

The payloads stay encrypted: the archive holds no personal data in plain text, and reading it back
(timeline, replay) needs the same codec keys as the workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, text, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from core import audit
from core.db import Database
from models.tables import AuditLog, HistoryArchive

log = logging.getLogger("uiflow.archive")

GENESIS = "0" * 64
ARCHIVE_ACTION = "history.archived"
ARCHIVER_ACTOR = "uiflow-archiver"
ARCHIVER_WORKFLOW_TYPE = "ArchiverWorkflow"
# A continue-as-new chain longer than this is a bug, not a case; it bounds every walk.
MAX_CHAIN = 10_000
VERIFY_PAGE = 200

CLOSE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)


class ArchiveError(Exception):
    """A history that cannot be archived (not closed, not a workflow history)."""


# --- hashes -------------------------------------------------------------------------------------


def content_hash(history_json: str) -> str:
    return hashlib.sha256(history_json.encode("utf-8")).hexdigest()


def chain_hash(
    prev: str,
    workflow_id: str,
    run_id: str,
    workflow_type: str,
    seq: int,
    c_hash: str,
    archived_at: datetime,
) -> str:
    line = "|".join(
        [prev, workflow_id, run_id, workflow_type, str(seq), c_hash, archived_at.astimezone(UTC).isoformat()]
    )
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def anchor_payload(row: HistoryArchive) -> dict[str, Any]:
    """What the audit-log entry of an archived run commits to (through its payload hash)."""
    return {
        "run_id": row.run_id,
        "seq": row.seq,
        "content_hash": row.content_hash,
        "chain_hash": row.chain_hash,
    }


# --- history facts ------------------------------------------------------------------------------


def workflow_type_of(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def previous_run_id(history: WorkflowHistory) -> str | None:
    """The run this one continued from (continue-as-new), or None for the first run."""
    prev = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    return prev or None


def is_closed(history: WorkflowHistory) -> bool:
    return bool(history.events) and history.events[-1].event_type in CLOSE_EVENTS


def _check_history(history: WorkflowHistory) -> None:
    if not history.events or not history.events[0].HasField("workflow_execution_started_event_attributes"):
        raise ArchiveError(f"{history.workflow_id}: not a workflow history (no start event)")
    if not is_closed(history):
        raise ArchiveError(f"{history.workflow_id}/{history.run_id}: run is still open; only closed runs")


# --- writing ------------------------------------------------------------------------------------


class ArchivedRun(BaseModel):
    workflow_id: str
    run_id: str
    workflow_type: str
    seq: int
    content_hash: str
    chain_hash: str
    created: bool  # False: this run was already in the archive


async def _lock_case(session: AsyncSession, workflow_id: str) -> None:
    """Serialise archivers of one case on PostgreSQL (SQLite serialises writers by itself), so two
    runs of one case never get the same position."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.exec(  # type: ignore[call-overload]
            text("SELECT pg_advisory_xact_lock(hashtext(:wid))").bindparams(wid=workflow_id)
        )


async def archive_history(
    session: AsyncSession,
    history: WorkflowHistory,
    *,
    actor: str = ARCHIVER_ACTOR,
    archived_at: datetime | None = None,
) -> ArchivedRun:
    """Append one closed run to its case's chain and anchor it in the audit log (the caller
    commits). Archiving a run twice is a no-op that returns the stored row."""
    _check_history(history)
    wid, rid = history.workflow_id, history.run_id
    await _lock_case(session, wid)
    existing = (
        await session.exec(
            select(HistoryArchive).where(HistoryArchive.workflow_id == wid, HistoryArchive.run_id == rid)
        )
    ).first()
    if existing is not None:
        return _outcome(existing, created=False)
    last = (
        await session.exec(
            select(HistoryArchive)
            .where(HistoryArchive.workflow_id == wid)
            .order_by(col(HistoryArchive.seq).desc())
            .limit(1)
        )
    ).first()
    prev = last.chain_hash if last else GENESIS
    seq = (last.seq + 1) if last else 1
    body = history.to_json()
    c_hash = content_hash(body)
    at = archived_at or datetime.now(UTC)
    wtype = workflow_type_of(history)
    row = HistoryArchive(
        workflow_id=wid,
        run_id=rid,
        workflow_type=wtype,
        seq=seq,
        history_json=body,
        content_hash=c_hash,
        prev_hash=prev,
        chain_hash=chain_hash(prev, wid, rid, wtype, seq, c_hash, at),
        archived_at=at,
    )
    session.add(row)
    payload = anchor_payload(row)
    await audit.append(
        session,
        actor=actor,
        action=ARCHIVE_ACTION,
        case_id=wid,
        payload=payload,
        actor_role="system",
        detail={**payload, "workflow_type": wtype, "events": len(history.events)},
        at=at,
    )
    await session.flush()
    return _outcome(row, created=True)


def _outcome(row: HistoryArchive, *, created: bool) -> ArchivedRun:
    return ArchivedRun(
        workflow_id=row.workflow_id,
        run_id=row.run_id,
        workflow_type=row.workflow_type,
        seq=row.seq,
        content_hash=row.content_hash,
        chain_hash=row.chain_hash,
        created=created,
    )


async def is_archived(session: AsyncSession, workflow_id: str, run_id: str) -> bool:
    row = (
        await session.exec(
            select(HistoryArchive.id).where(
                HistoryArchive.workflow_id == workflow_id, HistoryArchive.run_id == run_id
            )
        )
    ).first()
    return row is not None


# --- reading from Temporal ----------------------------------------------------------------------


async def fetch_run(client: Client, workflow_id: str, run_id: str | None = None) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


async def fetch_chain(client: Client, workflow_id: str, run_id: str | None = None) -> list[WorkflowHistory]:
    """Every run of a case, first to last: start from the given (default: latest) run and follow
    ``continued_execution_run_id`` back to the first run. Works without visibility, so also on the
    time-skipping test server."""
    hist = await fetch_run(client, workflow_id, run_id)
    chain = [hist]
    while (prev := previous_run_id(hist)) is not None:
        if len(chain) >= MAX_CHAIN:
            raise ArchiveError(f"{workflow_id}: continue-as-new chain longer than {MAX_CHAIN}")
        hist = await fetch_run(client, workflow_id, prev)
        chain.append(hist)
    chain.reverse()
    return chain


def closed_query(since: datetime | None = None, until: datetime | None = None) -> str:
    """The visibility query for closed case runs (the archiver's own runs are not cases)."""
    parts = ["ExecutionStatus != 'Running'", f"WorkflowType != '{ARCHIVER_WORKFLOW_TYPE}'"]
    if since is not None:
        parts.append(f"CloseTime >= '{_rfc3339(since)}'")
    if until is not None:
        parts.append(f"CloseTime < '{_rfc3339(until)}'")
    return " AND ".join(parts)


def _rfc3339(at: datetime) -> str:
    # Full precision: truncating ``until`` to the second would leave out a run that closed in
    # the same second the archiver started (it would wait for the next day's run).
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ArchiveSummary(BaseModel):
    archived: int = 0
    already: int = 0
    failed: list[str] = Field(default_factory=list)  # "workflow_id/run_id: reason" (no personal data)
    more: bool = False  # stopped at the limit; run again for the rest


async def archive_run_chain(
    client: Client,
    db: Database,
    workflow_id: str,
    run_id: str | None,
    summary: ArchiveSummary,
    *,
    history: WorkflowHistory | None = None,
    on_run: Callable[[str, str], None] | None = None,
) -> None:
    """Archive one closed run, first archiving the runs it continued from if they are missing (so
    a chain never has a gap while the earlier runs are still within retention). Each run commits in
    its own transaction: a failure of one run never loses the others."""
    hist = history or await fetch_run(client, workflow_id, run_id)
    pending = [hist]
    while (prev := previous_run_id(pending[-1])) is not None and len(pending) < MAX_CHAIN:
        async with db.session() as s:
            if await is_archived(s, workflow_id, prev):
                break
        try:
            pending.append(await fetch_run(client, workflow_id, prev))
        except Exception as e:  # the earlier run is past retention: archive what exists
            log.warning("earlier run of %s not available: %s", workflow_id, type(e).__name__)
            break
    for h in reversed(pending):
        try:
            async with db.session() as s:
                out = await archive_history(s, h)
                await s.commit()
        except Exception as e:
            summary.failed.append(f"{workflow_id}/{h.run_id}: {type(e).__name__}: {e}")
            return
        if out.created:
            summary.archived += 1
        else:
            summary.already += 1
        if on_run is not None:
            on_run(workflow_id, h.run_id)


async def archive_case(
    client: Client, db: Database, workflow_id: str, *, on_run: Callable[[str, str], None] | None = None
) -> ArchiveSummary:
    """Archive every closed run of one case (an open last run is left for later)."""
    summary = ArchiveSummary()
    chain = await fetch_chain(client, workflow_id)
    for h in chain:
        if is_closed(h):
            await archive_run_chain(client, db, workflow_id, h.run_id, summary, history=h, on_run=on_run)
    return summary


async def archive_closed(
    client: Client,
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    on_run: Callable[[str, str], None] | None = None,
) -> ArchiveSummary:
    """Archive the closed runs visibility lists (oldest close first), skipping what is archived.
    Stops after ``limit`` newly archived runs with ``more=True``."""
    summary = ArchiveSummary()
    runs = [
        (w.id, w.run_id, w.close_time or datetime.min.replace(tzinfo=UTC))
        async for w in client.list_workflows(closed_query(since, until))
    ]
    runs.sort(key=lambda r: r[2])
    for wid, rid, _ in runs:
        async with db.session() as s:
            if await is_archived(s, wid, rid):
                summary.already += 1
                continue
        if limit is not None and summary.archived >= limit:
            summary.more = True
            break
        try:
            await archive_run_chain(client, db, wid, rid, summary, on_run=on_run)
        except Exception as e:
            summary.failed.append(f"{wid}/{rid}: {type(e).__name__}: {e}")
    return summary


# --- reading from the archive -------------------------------------------------------------------


def history_of(row: HistoryArchive) -> WorkflowHistory:
    return WorkflowHistory.from_json(row.workflow_id, row.history_json)


async def archived_rows(session: AsyncSession, workflow_id: str | None = None) -> Sequence[HistoryArchive]:
    stmt = select(HistoryArchive).order_by(col(HistoryArchive.workflow_id), col(HistoryArchive.seq))
    if workflow_id is not None:
        stmt = stmt.where(HistoryArchive.workflow_id == workflow_id)
    return (await session.exec(stmt)).all()


async def archived_histories(db: Database, workflow_id: str | None = None) -> AsyncIterator[WorkflowHistory]:
    """Archived runs as histories, case by case and in chain order; rows are read in pages so a
    large archive is never all in memory."""
    last_id = 0
    while True:
        async with db.session() as s:
            stmt = select(HistoryArchive).where(col(HistoryArchive.id) > last_id)
            if workflow_id is not None:
                stmt = stmt.where(HistoryArchive.workflow_id == workflow_id)
            rows = (await s.exec(stmt.order_by(col(HistoryArchive.id)).limit(200))).all()
        if not rows:
            return
        for row in rows:
            yield history_of(row)
        last_id = rows[-1].id or last_id


async def count_archived(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(HistoryArchive))).one())


# --- verification -------------------------------------------------------------------------------


class CaseVerification(BaseModel):
    workflow_id: str
    runs: int
    ok: bool
    problems: list[str] = Field(default_factory=list)


class ArchiveVerification(BaseModel):
    ok: bool
    cases: int
    runs: int
    failures: list[CaseVerification] = Field(default_factory=list)


def verify_case_rows(
    rows: Sequence[HistoryArchive], anchors: set[tuple[str, str]] | None
) -> CaseVerification:
    """Check one case's rows (ordered by seq): positions, links, content and chain hashes, the
    continue-as-new links between runs, and (with ``anchors``) the audit-log anchor of each run.
    Problems are Chinese sentences for auditors; they name the run, never personal data."""
    wid = rows[0].workflow_id
    problems: list[str] = []
    prev = GENESIS
    prev_run: str | None = None
    for i, row in enumerate(rows, start=1):
        where = f"第{row.seq}段（run {row.run_id}）"
        if row.seq != i:
            problems.append(f"{where}：序号应为{i}，链中缺段或顺序被改动")
        if row.prev_hash != prev:
            problems.append(f"{where}：前一段哈希不符，链接断开")
        actual = content_hash(row.history_json)
        if actual != row.content_hash:
            problems.append(f"{where}：历史内容与其内容哈希不符（内容被改动）")
        expected = chain_hash(
            row.prev_hash,
            row.workflow_id,
            row.run_id,
            row.workflow_type,
            row.seq,
            row.content_hash,
            row.archived_at,
        )
        if expected != row.chain_hash:
            problems.append(f"{where}：链哈希不符（记录字段被改动）")
        if actual == row.content_hash:
            continued = _continued_from(row.history_json)
            if continued is False:
                problems.append(f"{where}：历史内容无法解析")
            elif i > 1 and continued != prev_run:
                problems.append(f"{where}：该段不是上一段的续接运行（continue-as-new 链不连续）")
            elif i == 1 and isinstance(continued, str):
                problems.append(f"{where}：该段续接自未归档的运行 {continued}（链首缺失）")
        if anchors is not None and (wid, audit.payload_hash(anchor_payload(row))) not in anchors:
            problems.append(f"{where}：审计日志中没有与之相符的归档记录")
        prev = row.chain_hash
        prev_run = row.run_id
    return CaseVerification(workflow_id=wid, runs=len(rows), ok=not problems, problems=problems)


def _continued_from(history_json: str) -> str | bool | None:
    """The run id the stored history continued from (None: first run; False: unreadable)."""
    try:
        doc = json.loads(history_json)
        start = doc["events"][0]
        attrs = (
            start.get("workflowExecutionStartedEventAttributes")
            or start["workflow_execution_started_event_attributes"]
        )
        prev = attrs.get("continuedExecutionRunId") or attrs.get("continued_execution_run_id")
        return str(prev) if prev else None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False


async def archive_anchors(session: AsyncSession) -> set[tuple[str, str]]:
    rows = await session.exec(
        select(AuditLog.case_id, AuditLog.payload_hash).where(AuditLog.action == ARCHIVE_ACTION)
    )
    return {(cid or "", ph) for cid, ph in rows}


async def verify_archive(
    session: AsyncSession, workflow_id: str | None = None, *, check_anchors: bool = True
) -> ArchiveVerification:
    anchors = await archive_anchors(session) if check_anchors else None
    failures: list[CaseVerification] = []
    cases = runs = 0
    current: list[HistoryArchive] = []

    def _flush() -> None:
        nonlocal cases, runs
        if not current:
            return
        cases += 1
        runs += len(current)
        result = verify_case_rows(sorted(current, key=lambda r: r.seq), anchors)
        if not result.ok:
            failures.append(result)

    # Pages in (case, position) order, so a large archive is never all in memory.
    last: tuple[str, int] = ("", 0)
    while True:
        stmt = select(HistoryArchive).where(
            tuple_(col(HistoryArchive.workflow_id), col(HistoryArchive.seq)) > tuple_(*last)
        )
        if workflow_id is not None:
            stmt = stmt.where(HistoryArchive.workflow_id == workflow_id)
        page = (
            await session.exec(
                stmt.order_by(col(HistoryArchive.workflow_id), col(HistoryArchive.seq)).limit(VERIFY_PAGE)
            )
        ).all()
        if not page:
            break
        for row in page:
            if current and current[0].workflow_id != row.workflow_id:
                _flush()
                current = []
            current.append(row)
        last = (page[-1].workflow_id, page[-1].seq)
        session.expunge_all()
    _flush()
    return ArchiveVerification(ok=not failures, cases=cases, runs=runs, failures=failures)


# --- both chains --------------------------------------------------------------------------------


class AuditChainReport(BaseModel):
    ok: bool
    entries: int
    problem: str | None = None
    head: str | None = None  # the latest entry hash: record it elsewhere to anchor the chain


class IntegrityReport(BaseModel):
    ok: bool
    audit_log: AuditChainReport
    archive: ArchiveVerification


async def verify_all(db: Database, workflow_id: str | None = None) -> IntegrityReport:
    """The audit-log chain and the archive (one case, or all): what ``uiflow audit verify`` and
    ``GET /api/v1/audit/verify`` report."""
    async with db.session() as s:
        ok, n, problem = await audit.verify_chain(s)
        last = (await s.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(1))).first()
        chain = AuditChainReport(ok=ok, entries=n, problem=problem, head=last.entry_hash if last else None)
        result = await verify_archive(s, workflow_id)
    return IntegrityReport(ok=chain.ok and result.ok, audit_log=chain, archive=result)
