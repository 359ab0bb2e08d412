"""Exactly-once under faults: the bank fails or times out on a share of calls, and the worker
process is killed (SIGKILL) in the middle of the payroll. A second worker finishes the job.
Afterwards every payment order is paid exactly once, by the simulator's ledger (payments per key)
and by our ``payment_order`` table on PostgreSQL.

Why a subprocess killed with SIGKILL, on the real dev server: an in-process worker that is
cancelled shuts down politely (activities are cancelled and reported), which is not a crash. A
killed process reports nothing: a disbursement may have reached the bank while our commit never
happened, the workflow task it was running times out, and the server hands everything to the next
worker. The simulator's latency keeps bank calls in flight at the moment of the kill, so the run
exercises "the bank paid, we never heard" as well as the injected 503s and time-outs.

The worker process is ``WORKER`` below: the production ``build_worker``, pointed by the
``UIFLOW_*`` environment at the dev server, PostgreSQL and the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from activities.gov import GovClientConfig, GovClients
from activities.payments import PaymentActivities
from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.benefit import (
    BenefitPeriodInput,
    DisburseRequest,
    PaymentDetails,
    PayrollSettings,
    PeriodTimings,
    PrepareRequest,
    period_id_for,
)
from models.case import BUSINESS_TZ
from models.claim import ClaimEntitlement, MonthlyAmount
from models.rules import RetirementCategory, YearMonth
from models.tables import PaymentOrder
from policy.entitlement import benefit_amount
from sim.testing import SimHandle
from tests.factories import sim_person
from workflows.base import initial_search_attributes
from workflows.benefit_period import BenefitPeriodWorkflow

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PERIODS = 6
MONTHS = 6
FIRST = YearMonth(2025, 3)  # wholly past: every month is due at once
# A region no other test pays in: a batch is per region and day, and on the shared dev server a
# batch left by another test's (stopped) worker would hold these periods until their fallback.
REGION = "150603"
BANK_FAULTS = {"latency_ms": 150, "error_rate": 0.2, "timeout_rate": 0.1, "hang_seconds": 3.0}
PREMIUM = """parameters:
  medical.proxy_standard_monthly:
    values:
      - {effective_from: 2020-01-01, value: "368.50", status: unconfirmed, source: "test"}
"""


def _entitlement(first: YearMonth, months: int) -> ClaimEntitlement:
    schedule = [
        MonthlyAmount(
            month_index=i,
            pay_month=first + (i - 1),
            amount=(a := benefit_amount(i, first + (i - 1))).amount,
            rate=a.rate,
            base=a.base,
        )
        for i in range(1, months + 1)
    ]
    return ClaimEntitlement(
        max_months=months,
        new_months=months,
        carried_months=0,
        benefit_start=first.first_day(),
        first_month=first,
        last_month=first + (months - 1),
        schedule=schedule,
        total=sum((m.amount for m in schedule), Decimal("0")),
        parameter_version="test",
    )


def _period(settings: Settings, person: dict[str, Any]) -> BenefitPeriodInput:
    key = applicant_key(settings, person["id_number"])
    claim_id = f"claim-{REGION}-{key}-{uuid.uuid4().hex[:4]}"
    return BenefitPeriodInput(
        case_id=period_id_for(claim_id),
        claim_case_id=claim_id,
        applicant_key=key,
        region_code=REGION,
        person=PaymentDetails(
            id_number=person["id_number"],
            name=person["name"],
            phone=person["phone"],
            account_no=person["account_no"],
            bank_name=person["bank_name"],
        ),
        entitlement=_entitlement(FIRST, MONTHS),
        category=RetirementCategory.MALE,
        birth_month=YearMonth(int(person["id_number"][6:10]), int(person["id_number"][10:12])),
        approved_at=datetime.now(UTC),
        timings=PeriodTimings(
            # Short enough that work held by the killed worker is handed on within seconds.
            payment_activity_timeout_seconds=8,
            payroll=PayrollSettings(max_in_flight=PERIODS, wave_size=PERIODS, wave_interval_seconds=0.5),
        ),
    )


def _worker_env(
    settings: Settings, env: WorkflowEnvironment, pg_url: str, sim: SimHandle, tmp: Path
) -> dict[str, str]:
    params = tmp / "params"
    params.mkdir(exist_ok=True)
    (params / "premium.yaml").write_text(PREMIUM, encoding="utf-8")
    return {
        **os.environ,
        "UIFLOW_MODE": "test",
        "UIFLOW_DATA_DIR": str(tmp),
        "UIFLOW_DATABASE_URL": pg_url,
        "UIFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "UIFLOW_TEMPORAL_NAMESPACE": "default",
        "UIFLOW_CODEC_KEYS": settings.codec_keys,
        "UIFLOW_CODEC_ACTIVE_KEY": settings.codec_active_key,
        "UIFLOW_APPLICANT_KEY_SECRET": settings.applicant_key_secret,
        "UIFLOW_JWT_SECRET": settings.jwt_secret,
        "UIFLOW_SIM_BASE_URL": sim.base_url,
        "UIFLOW_SIM_TOKEN": sim.token,
        "UIFLOW_EXTERNAL_TIMEOUT_SECONDS": "1.0",
        "UIFLOW_CALENDAR_DIR": str(FIXTURES / "calendar"),
        "UIFLOW_PARAMS_DIR": str(params),
        "UIFLOW_WORKER_SHUTDOWN_GRACE_SECONDS": "2",
    }


WORKER = """
import asyncio, signal
from core.db import Database
from core.settings import Settings
from core.temporal_client import connect_client
from workers.main import build_worker

input()  # imports done: start polling when the test says so

async def main() -> None:
    settings = Settings()
    client = await connect_client(settings)
    db = Database(settings.effective_database_url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with build_worker(client, settings, db):
        print("worker polling", flush=True)
        await stop.wait()
    await db.dispose()

asyncio.run(main())
"""


async def _spawn(env: dict[str, str], log: Path, queue: str) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            env={**env, "UIFLOW_TASK_QUEUE": queue},
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=out,
            stderr=out,
        )


async def _go(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()


async def _ledger(sim: SimHandle, case_ids: set[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.get("/admin/bank/ledger")
        r.raise_for_status()
    return [e for e in r.json()["entries"] if e["idempotency_key"].split(":")[1] in case_ids]


@pytest.mark.devserver
@pytest.mark.postgres
async def test_bank_faults_and_a_killed_worker_pay_every_order_exactly_once(
    local_env: WorkflowEnvironment,
    settings: Settings,
    pg_db: Database,
    pg_url: str,
    sim: SimHandle,
    tmp_path: Path,
) -> None:
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    worker_env = _worker_env(settings, local_env, pg_url, sim, tmp_path)
    expected = PERIODS * MONTHS
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        before = (await c.get("/admin/stats")).json()
        (await c.put("/admin/faults/bank", json=BANK_FAULTS)).raise_for_status()
    procs: list[asyncio.subprocess.Process] = []
    try:
        inputs = [
            _period(settings, await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True))
            for _ in range(PERIODS)
        ]
        case_ids = {i.case_id for i in inputs}
        started = time.monotonic()
        handles = [
            await local_env.client.start_workflow(
                BenefitPeriodWorkflow.run,
                inp,
                id=inp.case_id,
                task_queue=queue,
                search_attributes=initial_search_attributes("benefit_period", REGION, "active"),
            )
            for inp in inputs
        ]
        # Both workers are started (imports take seconds here); only one polls at a time.
        procs.append(await _spawn(worker_env, tmp_path / "worker-a.log", queue))
        procs.append(await _spawn(worker_env, tmp_path / "worker-b.log", queue))
        await _go(procs[0])
        for _ in range(600):
            if b"polling" in (tmp_path / "worker-a.log").read_bytes():
                break
            await asyncio.sleep(0.1)
        ready_after = time.monotonic() - started
        at_kill = 0
        for _ in range(1200):
            at_kill = len(await _ledger(sim, case_ids))
            if at_kill >= expected // 3:
                break
            await asyncio.sleep(0.05)
        procs[0].send_signal(signal.SIGKILL)  # no drain, no goodbye
        await procs[0].wait()
        killed_after = time.monotonic() - started
        assert 0 < at_kill < expected, f"the kill must land mid-run ({at_kill}/{expected})"

        await _go(procs[1])
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=240)
        finished_after = time.monotonic() - started
    finally:
        async with httpx.AsyncClient(base_url=sim.base_url) as c:
            await c.delete("/admin/faults/bank")
            after = (await c.get("/admin/stats")).json()
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
                await p.wait()

    assert [r.months_paid for r in results] == [MONTHS] * PERIODS
    # The bank: one money movement per key, for every month of every period, nothing else.
    ledger = await _ledger(sim, case_ids)
    per_key: dict[str, int] = {}
    for e in ledger:
        per_key[e["idempotency_key"]] = per_key.get(e["idempotency_key"], 0) + 1
    assert len(per_key) == expected and set(per_key.values()) == {1}
    # Our ledger: the same orders, paid, with the bank's reference and the same amount.
    async with pg_db.session() as s:
        rows = (await s.exec(select(PaymentOrder).where(col(PaymentOrder.case_id).in_(case_ids)))).all()
    assert {r.idempotency_key for r in rows} == set(per_key)
    bank = {e["idempotency_key"]: e for e in ledger}
    for r in rows:
        assert r.status == "paid" and r.bank_ref == bank[r.idempotency_key]["bank_ref"]
        assert r.amount == Decimal(bank[r.idempotency_key]["amount"])
    injected = {
        k: after["injected"].get(k, 0) - before["injected"].get(k, 0) for k in ("bank.error", "bank.timeout")
    }
    assert injected["bank.error"] > 0 and injected["bank.timeout"] > 0
    bank_calls = after["calls"]["bank"] - before["calls"]["bank"]
    print(
        "payment-faults",
        json.dumps(
            {
                "orders": expected,
                "worker_ready_s": round(ready_after, 1),
                "ledger_at_kill": at_kill,
                "killed_after_s": round(killed_after, 1),
                "finished_after_s": round(finished_after, 1),
                "bank_calls": bank_calls,
                "injected": injected,
            }
        ),
    )


@pytest.fixture(params=["pg", "sqlite"])
def any_db(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue("pg_db" if request.param == "pg" else "sqlite_db")  # type: ignore[no-any-return]


@pytest.mark.postgres
async def test_concurrent_attempts_make_one_order_and_one_payment(
    any_db: Database, settings: Settings, sim: SimHandle
) -> None:
    """Two attempts racing on the same month (a retry overlapping a slow first attempt): the
    unique key leaves one order with one amount, and the bank moves the money once."""
    person = await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
    acts = PaymentActivities(
        settings.model_copy(update={"sim_base_url": sim.base_url, "sim_token": sim.token}),
        any_db,
        GovClients.from_config(GovClientConfig(base_url=sim.base_url, token=sim.token)),
    )
    case_id = f"period-150102-{uuid.uuid4().hex[:24]}-0001"
    req = PrepareRequest(case_id=case_id, month_index=1, pay_month=YearMonth(2025, 3))
    a, b = await asyncio.gather(acts.prepare_payment(req), acts.prepare_payment(req))
    assert a.order_key == b.order_key and a.amount == b.amount == Decimal("2156.50")
    assert sorted([a.created, b.created]) == [False, True]
    pay = DisburseRequest(
        order_key=a.order_key,
        case_id=case_id,
        pay_month=YearMonth(2025, 3),
        account_no=person["account_no"],
        account_name=person["name"],
    )
    first, second = await asyncio.gather(acts.disburse(pay), acts.disburse(pay))
    again = await acts.disburse(pay)  # answered from our ledger, without the bank
    assert first.bank_ref == second.bank_ref == again.bank_ref and first.outcome == "paid"
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        per_key = (await c.get("/admin/bank/ledger")).json()["payments_per_key"]
    assert per_key[a.order_key] == 1
    async with any_db.session() as s:
        rows = (await s.exec(select(PaymentOrder).where(PaymentOrder.case_id == case_id))).all()
    assert [(r.status, r.amount) for r in rows] == [("paid", Decimal("2156.50"))]


# --- benchmark (not a test): python -c "import asyncio; from tests.integration.test_payment_faults \
# import bench; print(asyncio.run(bench(200, 1)))" ---------------------------------------------------


async def bench(periods: int = 200, months: int = 1, max_in_flight: int = 50) -> dict[str, Any]:
    """Pay ``periods`` × ``months`` overdue months through one region's payroll batch on the real
    dev server (SQLite WAL), one in-process worker, the simulator over HTTP. Returns the timings."""
    import base64
    import tempfile

    from temporalio.api.enums.v1 import EventType

    from core.migrate import upgrade
    from core.seed import seed_demo_staff, seed_regions
    from core.temporal_client import make_data_converter
    from models import search_attributes as sa
    from sim.testing import running_sim
    from workers.main import build_worker
    from workflows.payroll import PayrollBatchWorkflow

    tmp = Path(tempfile.mkdtemp(prefix="uiflow-bench-"))
    (tmp / "params").mkdir()
    (tmp / "params" / "premium.yaml").write_text(PREMIUM, encoding="utf-8")
    settings = Settings(
        mode="test",
        data_dir=tmp,
        codec_keys="b1:" + base64.b64encode(b"b" * 32).decode(),
        codec_active_key="b1",
        temporal_namespace="default",
        task_queue="bench",
        params_dir=tmp / "params",
        calendar_dir=FIXTURES / "calendar",
    )
    env = await WorkflowEnvironment.start_local(
        data_converter=make_data_converter(settings),
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        dev_server_database_filename=str(tmp / "temporal.db"),
        search_attributes=list(sa.ALL),  # type: ignore[arg-type]
        ui=False,
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ],
    )
    db = Database(f"sqlite+aiosqlite:///{tmp / 'cases.db'}")
    await upgrade(db)
    async with db.session() as s:
        await seed_regions(s)
        await seed_demo_staff(s)
    try:
        async with running_sim(seed=42, population=max(periods, 50)) as sim:
            s2 = settings.model_copy(update={"sim_base_url": sim.base_url, "sim_token": sim.token})
            inputs = []
            for _ in range(periods):
                inp = _period(
                    s2, await sim_person(sim.base_url, sim.token, scenario="eligible", registered=True)
                )
                inp.entitlement = _entitlement(FIRST, months)
                inp.timings.payroll = PayrollSettings(
                    max_in_flight=max_in_flight, wave_size=max_in_flight, wave_interval_seconds=2
                )
                inputs.append(inp)
            async with build_worker(env.client, s2, db, gov=GovClients.from_settings(s2)):
                t0 = time.monotonic()
                handles = [
                    await env.client.start_workflow(
                        BenefitPeriodWorkflow.run,
                        inp,
                        id=inp.case_id,
                        task_queue="bench",
                        search_attributes=initial_search_attributes("benefit_period", REGION, "active"),
                    )
                    for inp in inputs
                ]
                started = time.monotonic() - t0
                await asyncio.gather(*(h.result() for h in handles))
                elapsed = time.monotonic() - t0
                today = datetime.now(UTC).astimezone(BUSINESS_TZ).date()
                batch = env.client.get_workflow_handle_for(
                    PayrollBatchWorkflow.run, f"payroll-{REGION}-{today:%Y%m%d}"
                )
                peak = (await batch.query(PayrollBatchWorkflow.state_query)).peak_in_flight
                kinds = [EventType.Name(e.event_type) for e in (await handles[0].fetch_history()).events]
    finally:
        await db.dispose()
        await env.shutdown()
    return {
        "periods": periods,
        "months_each": months,
        "start_s": round(started, 1),
        "elapsed_s": round(elapsed, 1),
        "period_months_per_s": round(periods * months / elapsed, 2),
        "batch_peak_in_flight": peak,
        "events_per_period": len(kinds),
        "activities_per_period": kinds.count("EVENT_TYPE_ACTIVITY_TASK_COMPLETED"),
    }
