"""Fixtures for the audit tests: a throw-away case database (so tampering never touches the
shared ones), staff tokens for any role and region, and a two-run continue-as-new case."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from sqlmodel import SQLModel, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.db import Database
from core.security import issue_token
from core.settings import Settings
from models.claim import ApproveCommand
from models.tables import AuditLog, CaseRecord, HistoryArchive, Staff
from tests.audit.chain_workflow import ChainedCaseWorkflow, ChainInput
from tests.factories import LEAGUE_REVIEWER, REVIEWER
from tests.waiting import polls
from workers.main import sandbox_runner


@pytest_asyncio.fixture
async def fresh_db(tmp_path: Path) -> AsyncIterator[Database]:
    """An empty SQLite case database with the tables the archive and the audit log use."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    async with db.engine.begin() as conn:
        tables = [t.__table__ for t in (AuditLog, HistoryArchive, CaseRecord)]  # type: ignore[attr-defined]
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=tables))
    yield db
    await db.dispose()


async def ensure_staff(db: Database, login: str, roles: list[str], region: str) -> None:
    """A staff row for ``login``: a token is only good while its account exists and is active."""
    async with db.session() as s:
        if (await s.exec(select(Staff).where(Staff.login == login))).first() is None:
            s.add(
                Staff(
                    login=login,
                    name=login,
                    password_hash="-",
                    roles=roles,
                    region_code=region,
                    created_at=datetime.now(UTC),
                )
            )
            await s.commit()


def bearer(settings: Settings, login: str, roles: list[str], region: str) -> dict[str, str]:
    token, _ = issue_token(settings, login=login, roles=roles, region_code=region, name=login)
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture
async def chained_case(tskip_env: WorkflowEnvironment) -> str:
    """A closed two-run case: reviewer.xc decides in run 1, reviewer.hhht in run 2."""
    queue = f"chain-{uuid.uuid4().hex[:8]}"
    wid = f"chain-{uuid.uuid4().hex[:8]}"
    client = tskip_env.client
    async with Worker(
        client, task_queue=queue, workflows=[ChainedCaseWorkflow], workflow_runner=sandbox_runner()
    ):
        h = await client.start_workflow(ChainedCaseWorkflow.run, ChainInput(), id=wid, task_queue=queue)
        await h.execute_update(ChainedCaseWorkflow.decide, ApproveCommand(actor=REVIEWER))
        latest = client.get_workflow_handle(wid)
        for _ in polls():  # wait for the second run to start
            if (await latest.describe()).run_id != h.result_run_id:
                break
            await asyncio.sleep(0.02)
        await latest.execute_update("decide", ApproveCommand(actor=LEAGUE_REVIEWER))
        assert await latest.result() == ["reviewer.xc", "reviewer.hhht"]
    return wid
