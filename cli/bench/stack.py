"""Everything a scenario needs, started on free ports and stopped afterwards.

The layout mirrors ``uiflow dev`` (``cli/dev.py``): the Temporal dev server with the WAL pragmas
from ``temporal-dev.yaml`` (``core.devconfig.dev_server_args``), then the simulators, the worker
and the API as separate processes, so the figures are those of the deployment shape and not of a
single event loop doing everything. What is given on the command line (an existing cluster,
database, API) is used instead of being started. Everything started here lives in a scratch
directory and a ``uiflow_bench_*`` database, both removed on exit."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
from sqlmodel import select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from cli.bench.common import BIN
from core import devconfig, devserver
from core.db import Database
from core.migrate import ROOT, upgrade
from core.process import with_parent
from core.security import hash_password
from core.seed import DEMO_PASSWORD, DEMO_STAFF, seed_regions
from core.settings import Settings
from core.temporal_client import connect_client
from models.tables import Staff

PG_ADMIN_URL = os.environ.get("UIFLOW_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
FLOOR_QUEUE_PREFIX = "uiflow-bench-floor"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_port(host: str, port: int, limit: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        try:
            _, w = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        w.close()
        return
    raise TimeoutError(f"nothing listens on {host}:{port} after {limit:.0f}s")


def _asyncpg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass
class StackOptions:
    """What to start. ``temporal_address``/``database_url``/``api_url``/``sim_url`` point at existing
    services instead (the API then comes with its own worker)."""

    need_temporal: bool = True
    need_app: bool = True  # worker + API + simulators
    need_floor_worker: bool = False
    temporal_address: str | None = None
    namespace: str | None = None
    database_url: str | None = None
    api_url: str | None = None
    sim_url: str | None = None
    sim_population: int = 300
    dev_server_in_memory: bool = False
    keep: bool = False
    task_queue: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # extra UIFLOW_* settings for every process


@dataclass
class Stack:
    opts: StackOptions
    workdir_: Path | None = None  # created on first use, so a Stack never started leaves nothing
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    client: Client | None = None
    db_url: str = ""
    created_db: str | None = None
    api_url: str = ""
    sim_url: str = ""
    task_queue: str = ""
    floor_queue: str = ""
    namespace: str = ""
    temporal_address: str = ""
    started: list[str] = field(default_factory=list)
    # Results scenarios share when run on one stack (``uiflow bench suite``), e.g. the probe claim.
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        """Scratch directory for logs, the dev server's database file and documents."""
        if self.workdir_ is None:
            self.workdir_ = Path(tempfile.mkdtemp(prefix="uiflow-bench-"))
        return self.workdir_

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Stack:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``name`` (logging to ``<workdir>/<name>.log``, appended across restarts) with the
        stack's environment, ``env`` overriding parts of it (e.g. a second worker's metrics port)."""
        log = (self.workdir / f"{name}.log").open("ab")
        p = subprocess.Popen(
            with_parent(args),  # a killed bench leaves no child running (core/process.py)
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        self.procs[name] = p
        self.started.append(name)
        return p

    def pids(self) -> dict[str, list[int]]:
        return {name: [p.pid] for name, p in self.procs.items() if p.poll() is None}

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    async def _start(self) -> None:
        """Start order for the shortest wall time on two cores: the dev server, the simulators
        and the API start importing while the database is created and migrated; the workers
        start once the dev server listens (they connect at start)."""
        o = self.opts
        self.task_queue = o.task_queue or f"uiflow-bench-{uuid.uuid4().hex[:8]}"
        self.floor_queue = f"{FLOOR_QUEUE_PREFIX}-{uuid.uuid4().hex[:8]}"
        cfg = devconfig.load(ROOT / "temporal-dev.yaml")
        external = os.environ.get("UIFLOW_TEMPORAL_NAMESPACE") if o.temporal_address else None
        self.namespace = o.namespace or external or cfg.temporal.namespace
        env = dict(os.environ)
        if not o.api_url:  # joining a deployment keeps its mode and data dir (its dev codec key)
            env.update({"UIFLOW_MODE": "test", "UIFLOW_DATA_DIR": str(self.workdir)})
            # Its pay days release at once, whatever the hour: at 09:00 (the agency's hour) a
            # run started between midnight and nine, Beijing time, waited for the morning.
            env.setdefault("UIFLOW_PAYDAY_RELEASE_HOUR", "0")
        env.update(
            {
                "UIFLOW_TEMPORAL_NAMESPACE": self.namespace,
                "UIFLOW_TASK_QUEUE": self.task_queue,
                "UIFLOW_WORKER_METRICS_PORT": str(free_port()),
                "UIFLOW_WORKER_SHUTDOWN_GRACE_SECONDS": "3",
                "UIFLOW_DOCUMENTS_DIR": str(self.workdir / "documents"),
            }
        )
        env.update(o.env)
        # Keys: our own for what we start; the environment's when we join an existing deployment.
        if not o.api_url:
            env["UIFLOW_CODEC_KEYS"] = "bench:" + base64.b64encode(secrets.token_bytes(32)).decode()
            env["UIFLOW_CODEC_ACTIVE_KEY"] = "bench"
            env["UIFLOW_JWT_SECRET"] = secrets.token_urlsafe(40)
            env["UIFLOW_APPLICANT_KEY_SECRET"] = secrets.token_urlsafe(40)
        # The case database: a fresh uiflow_bench_* on the local server, or the given URL.
        if o.database_url:
            self.db_url = o.database_url
        else:
            self.created_db = f"uiflow_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
            self.db_url = f"{base}/{self.created_db}"
        env["UIFLOW_DATABASE_URL"] = self.db_url
        self.env = env

        # Temporal: an existing cluster, or a dev server with the dev config's pragmas.
        dev_proc: subprocess.Popen[bytes] | None = None
        if o.need_temporal:
            if o.temporal_address:
                self.temporal_address = o.temporal_address
            else:
                t = cfg.temporal
                t.port, t.ui_port, t.http_port, t.metrics_port = (free_port() for _ in range(4))
                t.db_file = str(self.workdir / "temporal.db")
                args = devconfig.dev_server_args(cfg)
                if o.dev_server_in_memory:
                    i = args.index("--db-filename")
                    del args[i : i + 2]
                self.temporal_address = f"{t.ip}:{t.port}"
                dev_proc = self.spawn("temporal", devserver.dev_server_command([*args, "--headless"]))
            env["UIFLOW_TEMPORAL_ADDRESS"] = self.temporal_address

        waits: list[Any] = []
        start_worker = o.need_app and not o.api_url
        if o.need_app:
            if o.sim_url:
                self.sim_url = o.sim_url
            else:
                port = free_port()
                self.sim_url = f"http://127.0.0.1:{port}"
                # The simulators are no part of the product: started without the CLI's imports.
                code = (
                    "from core.process import run_and_exit; from sim.server import run; "
                    f"run_and_exit(lambda: run(port={port}, population={o.sim_population}))"
                )
                args = [sys.executable, "-c", code]
                # A large population takes its time to build before the simulators listen.
                limit = 90 + o.sim_population / 150
                waits.append(wait_port("127.0.0.1", port, limit, self.spawn("sim", args)))
            env["UIFLOW_SIM_BASE_URL"] = self.sim_url
            if o.api_url:
                self.api_url = o.api_url.rstrip("/")
            else:
                port = free_port()
                env["UIFLOW_API_PORT"] = str(port)
                self.api_url = f"http://127.0.0.1:{port}"
                args = [str(BIN / "uiflow"), "api", "--host", "127.0.0.1", "--port", str(port)]
                waits.append(wait_port("127.0.0.1", port, 90, self.spawn("api", args)))

        await self._prepare_database()
        if dev_proc is not None:
            host, port_s = self.temporal_address.rsplit(":", 1)
            await wait_port(host, int(port_s), devserver.STARTUP_TIMEOUT_S, dev_proc)
        if start_worker:
            self.spawn("worker", [str(BIN / "uiflow"), "worker"])
        if o.need_floor_worker:
            args = [sys.executable, "-m", "cli.bench.floor_worker", "--task-queue", self.floor_queue]
            self.spawn("floor-worker", args)
        await asyncio.gather(*waits)

        # The bench's own settings: what was set above wins over the environment it came from.
        fields = Settings.model_fields
        ours = {
            k.removeprefix("UIFLOW_").lower(): v
            for k, v in env.items()
            if k.startswith("UIFLOW_") and os.environ.get(k) != v
        }
        self.settings = Settings.model_validate({k: v for k, v in ours.items() if k in fields})
        if o.need_temporal:
            self.client = await connect_client(self.settings)
            queues = []
            if start_worker:
                queues.append(("worker", self.task_queue))
            if o.need_floor_worker:
                queues.append(("floor-worker", self.floor_queue))
            await asyncio.gather(*(self.await_pollers(n, q) for n, q in queues))

    async def _prepare_database(self) -> None:
        """Create (unless given), migrate, and seed regions and the demo staff. The staff share
        one argon2 hash of the demo password: hashing twelve times costs seconds by design, and a
        bench has no use for distinct salts."""
        if self.created_db:
            conn = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await conn.execute(f'CREATE DATABASE "{self.created_db}"')
            finally:
                await conn.close()
        db = Database(self.db_url)
        try:
            await upgrade(db)
            async with db.session() as s:
                await seed_regions(s)
                existing = set((await s.exec(select(Staff.login))).all())
                hashed = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
                for login, name, roles, region in DEMO_STAFF:
                    if login not in existing:
                        s.add(
                            Staff(
                                login=login,
                                name=name,
                                password_hash=hashed,
                                roles=[r.value for r in roles],
                                region_code=region,
                                created_at=datetime.now(UTC),
                            )
                        )
                await s.commit()
        finally:
            await db.dispose()

    async def await_pollers(self, name: str, queue: str, limit: float = 60.0) -> None:
        """A worker counts as started once the server sees it polling its queue, so that worker
        start-up never lands inside a timed run."""
        assert self.client is not None
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log_tail(name)}")
            resp = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.namespace,
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            if resp.pollers:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} never polled {queue}:\n{self.log_tail(name)}")

    async def close(self) -> None:
        # Reverse order: API and workers first (the worker drains), Temporal last.
        for _name, p in reversed(list(self.procs.items())):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, p in reversed(list(self.procs.items())):
            while p.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 (a child, not an event)
                await asyncio.sleep(0.05)
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            # Each child's exit code (-9: it had to be killed), written into the results so that a
            # process that did not end cleanly is visible, and asserted by the smoke tests.
            self.exit_codes[name] = p.returncode
        self.procs.clear()
        if self.created_db and not self.opts.keep:
            conn = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.created_db}" WITH (FORCE)')
            finally:
                await conn.close()
        if not self.opts.keep and self.workdir_ is not None:
            shutil.rmtree(self.workdir_, ignore_errors=True)

    # --- helpers for scenarios -------------------------------------------------------------------

    async def pg_backend_pids(self) -> list[int]:
        """PostgreSQL backends serving the bench database (for CPU accounting)."""
        dbname = self.db_url.rsplit("/", 1)[1].split("?", 1)[0]
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            rows = await conn.fetch("select pid from pg_stat_activity where datname = $1", dbname)
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    async def pg_conn(self) -> asyncpg.Connection:
        return await asyncpg.connect(_asyncpg_url(self.db_url))

    async def cpu_pids(self) -> dict[str, list[int]]:
        pids = self.pids()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            pids["postgres (bench db backends)"] = await self.pg_backend_pids()
        return pids

    def sim_token(self) -> str:
        return self.settings.sim_token if self.settings is not None else "uiflow-sim-token"
