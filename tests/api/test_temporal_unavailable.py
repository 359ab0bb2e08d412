"""Temporal out of reach: every route answers 503 with ``Retry-After`` and a Chinese message, not
500. Two ways of being out of reach: a client whose server has gone away since it connected (the
SDK raises ``RPCError`` UNAVAILABLE, which ``create_claim`` used to let escape as a 500), and a
client that never reached it (a lazy client pointed at a dead port)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core import devserver
from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from core.temporal_client import make_data_converter
from models.tables import CaseRecord
from sim.testing import SimHandle
from tests.api.test_claims_api import claim_body
from tests.conftest import login
from tests.factories import sim_person


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _gone_away(settings: Settings, tmp_path: Path) -> Client:
    """A client connected to a real dev server that has since stopped."""
    env = await WorkflowEnvironment.start_local(
        data_converter=make_data_converter(settings),
        dev_server_existing_path=devserver.dev_server_executable(tmp_path / "bin"),
        dev_server_startup_timeout=timedelta(seconds=devserver.STARTUP_TIMEOUT_S),
        dev_server_database_filename=str(tmp_path / "gone.db"),
    )
    client = env.client
    await env.shutdown()
    return client


async def _never_reached(settings: Settings, _: Path) -> Client:
    return await Client.connect(
        f"127.0.0.1:{_dead_port()}", data_converter=make_data_converter(settings), lazy=True
    )


@pytest_asyncio.fixture(params=[_gone_away, _never_reached], ids=["server-gone", "dead-port"])
async def api_without_temporal(
    request: pytest.FixtureRequest, settings: Settings, pg_db: Database, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    client = await request.param(settings, tmp_path)
    app = create_app(settings, db=pg_db, temporal=client)
    # raise_app_exceptions=False: a 500 must show as a 500 here, as a user would see it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as api,
    ):
        yield api


def _unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) > 0
    err = r.json()["error"]
    assert err["code"] == "temporal.unavailable"
    assert "工作流服务暂时不可用" in err["message"]


async def test_intake_and_a_decision_answer_503_with_retry_after(
    api_without_temporal: httpx.AsyncClient, settings: Settings, pg_db: Database, sim: SimHandle
) -> None:
    api = api_without_temporal
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    clerk = await login(api, "clerk.xc")
    _unavailable(await api.post("/api/v1/claims", json=claim_body(person), headers=clerk))
    # Nothing is kept of the refused intake: the person can apply again once Temporal is back.
    async with pg_db.session() as s:
        akey = applicant_key(settings, person["id_number"])
        assert (await s.exec(select(CaseRecord).where(CaseRecord.applicant_key == akey))).first() is None

    # A decision on a case the read model knows: the update cannot reach the workflow.
    case_id = f"claim-150102-unavail-{uuid.uuid4().hex[:8]}"
    async with pg_db.session() as s:
        s.add(
            CaseRecord(
                case_id=case_id,
                case_type="benefit_claim",
                status="under_review",
                region_code="150102",
                applicant_key=applicant_key(settings, person["id_number"]),
                received_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
        await s.commit()
    reviewer = await login(api, "reviewer.xc")
    _unavailable(
        await api.post(f"/api/v1/claims/{case_id}/approve", json={"note": "材料齐全"}, headers=reviewer)
    )
    # A read that goes to the workflow.
    r = await api.get(f"/api/v1/claims/{case_id}", headers=reviewer)
    _unavailable(r)
