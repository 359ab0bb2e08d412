"""The append-only audit log with a hash chain: every entry seals the one before it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import AuditLog

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 0x75696677  # "uifw": the advisory lock that orders audit appends on PostgreSQL


def payload_hash(payload: Any) -> str:
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(data).hexdigest()


def _entry_hash(prev: str, at: datetime, actor: str, action: str, case_id: str | None, p_hash: str) -> str:
    line = "|".join([prev, at.astimezone(UTC).isoformat(), actor, action, case_id or "", p_hash])
    return hashlib.sha256(line.encode()).hexdigest()


async def append(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    payload: Any = None,
    actor_role: str | None = None,
    actor_region: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditLog:
    """Add one entry (the caller commits). Concurrent writers take turns until commit: a
    transaction-scoped advisory lock on PostgreSQL, the database write lock on SQLite."""
    at = at or datetime.now(UTC)
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        # Serialise appenders until commit: a row lock on the current head is not enough (two
        # writers waiting on the same head would both chain to it and fork the chain).
        await session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=AUDIT_LOCK_KEY))  # type: ignore[call-overload]
    elif dialect == "sqlite":
        # Take SQLite's write lock before reading the head (another process, e.g. the worker
        # beside the API, may be appending); a connection that already wrote holds it already.
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
    stmt = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(1)
    last = (await session.exec(stmt)).first()
    prev = last.entry_hash if last else GENESIS
    p_hash = payload_hash(payload)
    entry = AuditLog(
        at=at,
        actor=actor,
        actor_role=actor_role,
        actor_region=actor_region,
        action=action,
        case_id=case_id,
        payload_hash=p_hash,
        detail=detail or {},
        prev_hash=prev,
        entry_hash=_entry_hash(prev, at, actor, action, case_id, p_hash),
    )
    session.add(entry)
    await session.flush()
    return entry


async def verify_chain(session: AsyncSession) -> tuple[bool, int, str | None]:
    """Walk the chain; return (ok, entries checked, first problem)."""
    prev = GENESIS
    n = 0
    rows = await session.exec(select(AuditLog).order_by(col(AuditLog.id)))
    for e in rows:
        n += 1
        if e.prev_hash != prev:
            return False, n, f"entry {e.id}: previous-hash link broken"
        if _entry_hash(prev, e.at, e.actor, e.action, e.case_id, e.payload_hash) != e.entry_hash:
            return False, n, f"entry {e.id}: content does not match its hash"
        prev = e.entry_hash
    return True, n, None
