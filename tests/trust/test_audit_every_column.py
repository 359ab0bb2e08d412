"""Issue 12 item 11: the audit hash covers every column, so an edit of any one of them on SQLite
(where no trigger stops it) is found by ``uiflow audit verify``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select
from typer.testing import CliRunner

from cli import audit_cmd
from core import archive as arch
from core import audit
from core.db import Database
from core.migrate import upgrade
from core.settings import get_settings
from models.tables import AuditLog

# One edit per column of the newest entry (the hardest to catch: no later entry links to it).
TAMPER = {
    "id": "id = id + 100",
    "at": "at = '2020-01-01 00:00:00.000000'",
    "actor": "actor = 'mallory'",
    "actor_role": "actor_role = 'supervisor'",
    "actor_region": "actor_region = '150000'",
    "action": "action = 'claim.rejected'",
    "case_id": "case_id = 'claim-150102-other-1'",
    "payload_hash": "payload_hash = '" + "0" * 64 + "'",
    "detail": """detail = '{"decision": "reject"}'""",
    "prev_hash": "prev_hash = '" + "1" * 64 + "'",
    "entry_hash": "entry_hash = '" + "2" * 64 + "'",
    "hash_version": "hash_version = 1",
}


def test_every_column_has_a_tamper_case() -> None:
    assert set(TAMPER) == {c.name for c in AuditLog.__table__.columns}  # type: ignore[attr-defined]


async def _chain(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await upgrade(db)
    async with db.session() as s:
        for i in range(3):
            await audit.append(
                s,
                actor="reviewer.xc",
                action="review.approved",
                case_id=f"claim-150102-k-{i}",
                payload={"decision": "approve", "i": i},
                actor_role="reviewer",
                actor_region="150102",
                detail={"decision": "approve", "round": i},
            )
        await s.commit()
    return db


@pytest.mark.parametrize("column", sorted(TAMPER))
async def test_an_edit_of_any_column_is_found(tmp_path: Path, column: str) -> None:
    db = await _chain(tmp_path)
    try:
        assert (await arch.verify_all(db)).audit_log.ok
        async with db.session() as s:
            last = (await s.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(1))).one()
            await s.exec(text(f"UPDATE audit_log SET {TAMPER[column]} WHERE id = {last.id}"))  # type: ignore[call-overload]
            await s.commit()
        report = (await arch.verify_all(db)).audit_log
        assert not report.ok, column
        assert report.problem
    finally:
        await db.dispose()


async def test_cli_verify_exits_nonzero_after_a_detail_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await _chain(tmp_path)
    async with db.session() as s:
        await s.exec(text("""UPDATE audit_log SET detail = '{"decision": "reject"}' WHERE id = 2"""))  # type: ignore[call-overload]
        await s.commit()
    await db.dispose()
    monkeypatch.setenv("UIFLOW_DATABASE_URL", db.url)
    monkeypatch.setenv("UIFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        r = await _invoke(["verify"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code != 0 and "entry 2" in r.output


async def _invoke(args: list[str]):  # type: ignore[no-untyped-def]
    import asyncio

    return await asyncio.to_thread(CliRunner().invoke, audit_cmd.app, args)


async def test_chain_written_before_the_change_still_verifies(tmp_path: Path) -> None:
    """Entries sealed with the old hash (version 1, before migration 0006) stay valid; after a
    version-2 entry, an entry re-sealed as version 1 (to edit its detail unseen) is found."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'legacy.db'}")
    await upgrade(db, "0004")
    at = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    old_hash = audit._entry_hash_v1(audit.GENESIS, at, "old", "legacy", None, audit.payload_hash({"x": 1}))
    async with db.session() as s:
        await s.exec(  # type: ignore[call-overload]
            text(
                "INSERT INTO audit_log (id, at, actor, action, payload_hash, detail, prev_hash, entry_hash) "
                "VALUES (1, :at, 'old', 'legacy', :ph, '{}', :prev, :eh)"
            ).bindparams(
                at=at.replace(tzinfo=None).isoformat(sep=" "),
                ph=audit.payload_hash({"x": 1}),
                prev=audit.GENESIS,
                eh=old_hash,
            )
        )
        await s.commit()
    await upgrade(db)
    try:
        async with db.session() as s:
            await audit.append(
                s, actor="new", action="current", payload={"x": 2}, detail={"decision": "approve"}
            )
            await s.commit()
            ok, n, problem = await audit.verify_chain(s)
            assert ok and n == 2, problem
            # the head re-sealed with the weaker hash (to edit its detail unseen) is found
            await audit.append(s, actor="next", action="current", detail={"decision": "approve"})
            await s.commit()
            e = (await s.exec(select(AuditLog).where(AuditLog.id == 3))).one()
            v1 = audit._entry_hash_v1(e.prev_hash, e.at, e.actor, e.action, e.case_id, e.payload_hash)
            downgrade = "UPDATE audit_log SET hash_version = 1, entry_hash = :h, detail = '{}' WHERE id = 3"
            await s.exec(text(downgrade).bindparams(h=v1))  # type: ignore[call-overload]
            await s.commit()
        async with db.session() as s:
            ok, _, problem = await audit.verify_chain(s)
            assert not ok and problem is not None and "old hash version" in problem
    finally:
        await db.dispose()
