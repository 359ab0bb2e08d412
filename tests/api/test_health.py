"""/healthz and /readyz: readiness names the failing part."""

from __future__ import annotations

import httpx
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db import Database
from core.settings import Settings


async def test_healthz(pg_api: httpx.AsyncClient) -> None:
    r = await pg_api.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_readyz_names_temporal_when_it_is_down(pg_api: httpx.AsyncClient) -> None:
    r = await pg_api.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["database"] == "ok"
    assert body["failing"] == ["temporal"]


async def test_readyz_ok_with_database_and_temporal(
    settings: Settings, pg_db: Database, local_env: WorkflowEnvironment
) -> None:
    app = create_app(settings, db=pg_db, temporal=local_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "temporal": "ok"}


async def test_readyz_names_database_when_it_is_down(
    settings: Settings, local_env: WorkflowEnvironment
) -> None:
    broken = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    app = create_app(settings, db=broken, temporal=local_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["failing"] == ["database"]
    await broken.dispose()
