"""Migrations, exact money and the append-only, hash-chained audit log on both dialects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import select

from core import audit
from core.db import Database
from core.migrate import upgrade
from core.settings import Settings
from models.tables import AuditLog, PaymentOrder, Region, Staff


@pytest.fixture(params=["pg", "sqlite"])
def db(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue("pg_db" if request.param == "pg" else "sqlite_db")  # type: ignore[no-any-return]


async def test_reference_data_and_demo_staff_seeded(db: Database) -> None:
    async with db.session() as s:
        regions = (await s.exec(select(Region))).all()
        assert len(regions) == 116
        assert {r.code for r in regions if r.level == "league"} >= {"150100", "152900"}
        staff = (await s.exec(select(Staff).where(Staff.login == "reviewer.xc"))).one()
        assert staff.roles == ["reviewer"] and staff.password_hash.startswith("$argon2id$")


async def test_money_is_exact_and_idempotency_key_unique(db: Database) -> None:
    now = datetime.now(UTC)
    key = f"claim-x-{db.dialect}:2025-03"
    async with db.session() as s:
        s.add(
            PaymentOrder(
                idempotency_key=key,
                case_id="claim-x",
                period="2025-03",
                kind="benefit",
                amount=Decimal("2156.50"),
                status="ordered",
                created_at=now,
                updated_at=now,
            )
        )
        await s.commit()
    async with db.session() as s:
        row = (await s.exec(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))).one()
        assert row.amount == Decimal("2156.50") and isinstance(row.amount, Decimal)
        s.add(
            PaymentOrder(
                idempotency_key=key,
                case_id="claim-x",
                period="2025-03",
                kind="benefit",
                amount=Decimal("1"),
                status="ordered",
                created_at=now,
                updated_at=now,
            )
        )
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_audit_chain_verifies_and_detects_edits(db: Database) -> None:
    async with db.session() as s:
        for i in range(3):
            await audit.append(
                s,
                actor="reviewer.xc",
                action="claim.decide",
                case_id=f"c{i}",
                payload={"decision": "approve", "i": i},
            )
        await s.commit()
    async with db.session() as s:
        ok, n, problem = await audit.verify_chain(s)
        assert ok and n >= 3 and problem is None


async def test_postgres_refuses_audit_edits(pg_db: Database) -> None:
    async with pg_db.session() as s:
        await audit.append(s, actor="x", action="probe")
        await s.commit()
    async with pg_db.session() as s:
        with pytest.raises(DBAPIError, match="append-only"):
            await s.exec(text("UPDATE audit_log SET actor = 'mallory'"))  # type: ignore[call-overload]
        await s.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            await s.exec(text("DELETE FROM audit_log"))  # type: ignore[call-overload]


async def test_sqlite_tamper_is_detected_by_the_chain(tmp_path: Path) -> None:
    fresh = Database(f"sqlite+aiosqlite:///{tmp_path / 'tamper.db'}")
    await upgrade(fresh)
    async with fresh.session() as s:
        await audit.append(s, actor="reviewer.xc", action="claim.decide", case_id="tamper", payload={"a": 1})
        await s.commit()
        await s.exec(text("UPDATE audit_log SET actor = 'mallory' WHERE case_id = 'tamper'"))  # type: ignore[call-overload]
        await s.commit()
        ok, _, problem = await audit.verify_chain(s)
        assert not ok and problem is not None and "does not match" in problem
        rows = (await s.exec(select(AuditLog).where(AuditLog.case_id == "tamper"))).all()
        assert rows[0].actor == "mallory"
    await fresh.dispose()


async def test_concurrent_appends_keep_one_chain(pg_db: Database) -> None:
    """Twenty writers at once (API requests and activities do this) still form one chain."""

    async def one(i: int) -> None:
        async with pg_db.session() as s:
            await audit.append(s, actor=f"w{i}", action="concurrent.probe", payload={"i": i})
            await s.commit()

    await asyncio.gather(*(one(i) for i in range(20)))
    async with pg_db.session() as s:
        ok, n, problem = await audit.verify_chain(s)
        assert ok, problem
        assert n >= 20


async def test_concurrent_appends_keep_one_chain_on_sqlite(tmp_path: Path) -> None:
    """The embedded default: the worker and the API are separate processes writing one file."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'chain.db'}")
    await upgrade(db)
    other = Database(db.url)  # a second engine: its own connections, like a second process

    async def one(i: int) -> None:
        async with (db if i % 2 else other).session() as s:
            await audit.append(s, actor=f"w{i}", action="concurrent.probe", payload={"i": i})
            await s.commit()

    await asyncio.gather(*(one(i) for i in range(20)))
    async with db.session() as s:
        ok, n, problem = await audit.verify_chain(s)
    await db.dispose()
    await other.dispose()
    assert ok, problem
    assert n == 20


async def test_first_writes_of_one_case_at_once_keep_the_newest(db: Database, settings: Settings) -> None:
    """The create route writes a case's first row while the worker projects its first state (fc-run
    failure: the second insert broke the primary key and the route answered 500). Both finish;
    the newer version wins, whichever commits first, and the short number is one."""
    from uuid import uuid4

    from activities.case_store import write_case_row
    from models.case import CaseProjection
    from models.enums import CaseType
    from models.tables import CaseRecord

    for attempt in range(5):
        case_id = f"race-{uuid4().hex[:12]}"

        def version(v: int, status: str, case_id: str = case_id) -> CaseProjection:
            return CaseProjection(
                case_id=case_id,
                case_type=CaseType.PREMIUM_REFUND,
                status=status,
                region_code="150102",
                applicant_key=uuid4().hex[:24],
                received_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
                version=v,
            )

        first, later = version(0, "received"), version(1, "checking")
        pair = (first, later) if attempt % 2 else (later, first)
        await asyncio.gather(*(write_case_row(settings, db, p) for p in pair))
        async with db.session() as s:
            row = await s.get(CaseRecord, case_id)
        assert row is not None
        assert (row.version, row.status) == (1, "checking")
        assert row.short_no
