"""The append-only audit log with a hash chain: every entry seals the one before it.

What an entry's hash covers (``hash_version``):

- **2** (every entry written by this code): a canonical JSON of *every* column — id, time, actor,
  actor role and region, action, case, payload hash, detail, the previous hash and the version
  itself. An edit of any column is found by ``uiflow audit verify``. The id is part of it, so ids
  are assigned here (the previous id + 1, under the same lock that orders appends) rather than by
  the database after the hash was computed.
- **1** (entries written before hash version 2): time, actor, action, case and payload hash only.

Why a version field instead of a migration that re-hashes the old chain: re-hashing would seal
whatever those rows hold *now*, including an edit nobody has found yet, and on PostgreSQL it would
mean lifting the append-only trigger. The old entries keep their old seal (the migration gives
them ``hash_version = 1``); their detail, role and region stay as trustworthy as they were. The
chain never goes back: after the first version-2 entry, an entry claiming version 1 is reported as
tampering (else an attacker would downgrade a row to the weaker hash and edit its detail).
"""

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
HASH_VERSION = 2


def payload_hash(payload: Any) -> str:
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(data).hexdigest()


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _entry_hash_v1(prev: str, at: datetime, actor: str, action: str, case_id: str | None, p_hash: str) -> str:
    line = "|".join([prev, _instant(at), actor, action, case_id or "", p_hash])
    return hashlib.sha256(line.encode()).hexdigest()


def _entry_hash_v2(e: AuditLog) -> str:
    sealed = {
        "v": e.hash_version,
        "id": e.id,
        "at": _instant(e.at),
        "actor": e.actor,
        "actor_role": e.actor_role,
        "actor_region": e.actor_region,
        "action": e.action,
        "case_id": e.case_id,
        "payload_hash": e.payload_hash,
        "detail": e.detail,
        "prev_hash": e.prev_hash,
    }
    data = json.dumps(sealed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def entry_hash(e: AuditLog) -> str:
    """The hash an entry should carry, by its ``hash_version``."""
    if e.hash_version == 1:
        return _entry_hash_v1(e.prev_hash, e.at, e.actor, e.action, e.case_id, e.payload_hash)
    if e.hash_version == HASH_VERSION:
        return _entry_hash_v2(e)
    raise ValueError(f"unknown audit hash version {e.hash_version}")


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
    entry = AuditLog(
        id=(last.id or 0) + 1 if last else 1,
        at=at,
        actor=actor,
        actor_role=actor_role,
        actor_region=actor_region,
        action=action,
        case_id=case_id,
        payload_hash=payload_hash(payload),
        # stored as JSON: what is hashed must be what reads back (dates become text once, here)
        detail=json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str)),
        prev_hash=prev,
        hash_version=HASH_VERSION,
        entry_hash="",
    )
    entry.entry_hash = entry_hash(entry)
    session.add(entry)
    await session.flush()
    return entry


async def verify_chain(session: AsyncSession) -> tuple[bool, int, str | None]:
    """Walk the chain; return (ok, entries checked, first problem)."""
    prev = GENESIS
    n = 0
    seen_current = False
    rows = await session.exec(select(AuditLog).order_by(col(AuditLog.id)))
    for e in rows:
        n += 1
        if e.prev_hash != prev:
            return False, n, f"entry {e.id}: previous-hash link broken"
        if e.hash_version == 1 and seen_current:
            return False, n, f"entry {e.id}: claims the old hash version after newer entries"
        try:
            expected = entry_hash(e)
        except ValueError:
            return False, n, f"entry {e.id}: unknown hash version {e.hash_version}"
        if expected != e.entry_hash:
            return False, n, f"entry {e.id}: content does not match its hash"
        seen_current = seen_current or e.hash_version == HASH_VERSION
        prev = e.entry_hash
    return True, n, None
