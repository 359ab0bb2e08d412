"""Shared fixtures: the time-skipping server, the local dev server (search attributes
registered), a fresh PostgreSQL database per session, SQLite, the simulators over real HTTP, and
the API through httpx against the real app."""

from __future__ import annotations

import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClients, close_all
from api.app import create_app
from core import devserver
from core.db import Database
from core.migrate import upgrade
from core.seed import DEMO_PASSWORD, seed_demo_staff, seed_regions
from core.settings import Settings
from core.temporal_client import make_data_converter
from models import search_attributes as sa
from sim.testing import SimHandle, running_sim
from tests.clock import synthetic_calendar_dir
from tests.factories import CaseEnv, time_skipping_env
from workers.main import build_worker

BIN = Path(sys.executable).parent
TEST_KEY = base64.b64encode(b"k" * 32).decode()
PG_ADMIN_URL = os.environ.get("UIFLOW_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def tmp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uiflow-data")


@pytest.fixture(scope="session", autouse=True)
def child_processes_calendar(tmp_data: Path) -> Iterator[None]:
    """Every process the suite starts (the bench's and the drill's stacks, ``uiflow dev``, worker
    processes) counts working days with the suite's calendar, as its in-process workers do. With
    the packaged tables alone a claim whose review deadline falls in a year they lack fails closed
    (``calendar.year_missing``): right in production until the operator enters the table, but it
    would stop the suite from mid-December, when ten working days reach into the next year (found
    running the suite as of 2027-02-15: the bench's probe claim was blocked and the bench waited)."""
    old = os.environ.get("UIFLOW_CALENDAR_DIR")
    os.environ["UIFLOW_CALENDAR_DIR"] = str(synthetic_calendar_dir(tmp_data / "calendar"))
    yield
    if old is None:
        os.environ.pop("UIFLOW_CALENDAR_DIR", None)
    else:
        os.environ["UIFLOW_CALENDAR_DIR"] = old


@pytest.fixture(scope="session")
def settings(tmp_data: Path) -> Settings:
    """The suite's settings. The calendar overlay is the test one everywhere (the API and console
    too, not only the workers): without it, the console's working days left would fail closed the
    day the clock enters a year the packaged tables do not have yet (tests/clock.py)."""
    return Settings(
        mode="test",
        data_dir=tmp_data,
        calendar_dir=synthetic_calendar_dir(tmp_data / "calendar"),
        codec_keys=f"t1:{TEST_KEY}",
        codec_active_key="t1",
        jwt_secret="test-secret-" + "x" * 32,
        applicant_key_secret="test-applicant-secret-" + "y" * 32,
        temporal_namespace="default",
        task_queue="uiflow-test",
    )


@pytest_asyncio.fixture(scope="session")
async def tskip_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=make_data_converter(settings),
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL},
        )
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def local_env(settings: Settings, tmp_data: Path) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=make_data_converter(settings),
        dev_server_existing_path=devserver.dev_server_executable(tmp_data / "bin"),
        dev_server_startup_timeout=timedelta(seconds=devserver.STARTUP_TIMEOUT_S),
        dev_server_database_filename=str(tmp_data / "temporal-local.db"),
        search_attributes=sa.ALL,
        ui=False,
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ],
    )
    yield env
    await env.shutdown()


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """An empty database of its own on the local server (its SQLAlchemy URL), dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest_asyncio.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    async with scratch_database("uiflow_test") as url:
        yield url


async def prepared_db(url: str, settings: Settings) -> Database:
    """A migrated database with the regions and the demo staff (for a test that needs its own)."""
    db = Database(url)
    await upgrade(db)
    async with db.session() as s:
        await seed_regions(s)
        await seed_demo_staff(s, settings)
    return db


@pytest_asyncio.fixture(scope="session")
async def pg_db(pg_url: str, settings: Settings) -> AsyncIterator[Database]:
    db = await prepared_db(pg_url, settings)
    yield db
    await db.dispose()


@pytest_asyncio.fixture(scope="session")
async def sqlite_db(tmp_data: Path, settings: Settings) -> AsyncIterator[Database]:
    db = await prepared_db(f"sqlite+aiosqlite:///{tmp_data / 'cases.db'}", settings)
    yield db
    await db.dispose()


@pytest_asyncio.fixture
async def pg_api(settings: Settings, pg_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on PostgreSQL, without a Temporal server (for routes that need none)."""

    async def _no_temporal() -> Client:
        raise RuntimeError("no Temporal in this test")

    app = create_app(settings, db=pg_db, temporal_connect=_no_temporal)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def login(client: httpx.AsyncClient, who: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"login": who, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def applicant_login(client: httpx.AsyncClient, sim_base_url: str, id_number: str) -> dict[str, str]:
    """Sign in as an applicant the way the portal does (``cli.demo.applicant_headers``)."""
    from cli.demo import applicant_headers

    return await applicant_headers(client, sim_base_url, id_number)


FIXTURES = Path(__file__).parent / "fixtures"


@pytest_asyncio.fixture(scope="session")
async def sim() -> AsyncIterator[SimHandle]:
    async with running_sim(seed=42, population=300) as handle:
        yield handle


@pytest.fixture(scope="session")
def wf_settings(settings: Settings, sim: SimHandle, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for real activities: the simulators over HTTP, and the test calendar overlay (the
    synthetic table also for a year still ahead of the test clock: tests/clock.py)."""
    return settings.model_copy(
        update={
            "sim_base_url": sim.base_url,
            "sim_token": sim.token,
            "calendar_dir": synthetic_calendar_dir(tmp_path_factory.mktemp("calendar")),
            "external_timeout_seconds": 5.0,
        }
    )


@asynccontextmanager
async def case_env(settings: Settings, db: Database) -> AsyncIterator[CaseEnv]:
    """A fresh time-skipping server (each test owns its clock) and a worker running every
    registered workflow and the real activities against the simulators and ``db``."""
    env = await time_skipping_env(make_data_converter(settings))
    gov = GovClients.from_settings(settings)
    queue = f"cases-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(update={"task_queue": queue})
    worker = build_worker(env.client, settings, db, task_queue=queue, gov=gov)
    try:
        async with worker:
            yield CaseEnv(env=env, task_queue=queue, settings=settings, db=db)
    finally:
        await close_all()
        await env.shutdown()


@pytest_asyncio.fixture
async def claim_env(wf_settings: Settings, sqlite_db: Database) -> AsyncIterator[CaseEnv]:
    async with case_env(wf_settings, sqlite_db) as ce:
        yield ce


@pytest_asyncio.fixture
async def pg_case_env(wf_settings: Settings, pg_db: Database, tmp_path: Path) -> AsyncIterator[CaseEnv]:
    s = wf_settings.model_copy(update={"documents_dir": tmp_path / "documents"})
    async with case_env(s, pg_db) as ce:
        yield ce


@pytest_asyncio.fixture
async def case_api(pg_case_env: CaseEnv) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on PostgreSQL with a time-skipping Temporal server and a worker."""
    app = create_app(pg_case_env.settings, db=pg_case_env.db, temporal=pg_case_env.env.client)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client
