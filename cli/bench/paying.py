"""The ``payday`` scenario: a region's pay day at scale, and the proof that every period was paid
exactly once (docs/payments.md §0).

Setup (not measured): N + R people with active accounts from the simulator's population; N
periods' schedule rows and sealed payees written in bulk (``COPY``), as the periods would have
written them, each with one month due today. The release is the bench's signal-with-start of the
region's run for today: it takes its cut-off and pays in chunks. At the same moment R real
``BenefitPeriodWorkflow`` runs (R = 1,000 by default) start beside it, with a month due later:
they write their own rows and wait, on the same worker, to show the periods are not on the pay
day's path (the run pays the N without them).

Measured: from the release to the last order paid, payments per second,
the CPU seconds of each process. With ``--faults``: the bank fails 20% of the items and times out
5% of the batches, and the worker is killed (SIGKILL) twice mid-run and started again. Checked:
one paid order per period, one bank ledger entry per key, none paid twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.payday import ROWS_ADDED, actual_pay_date
from cli.bench.common import BIN, CpuMeter
from cli.bench.history_shape import counts
from cli.bench.stack import Stack
from cli.bench.ui import Reporter
from core.applicant import applicant_key
from core.sealed import Sealer
from models.benefit import BenefitPeriodInput, PaymentDetails, benefit_order_key, mask_account, period_id_for
from models.case import local_date
from models.claim import ClaimEntitlement, MonthlyAmount
from models.enums import CaseType
from models.payday import PaydayInput, PaydayResult, PaydaySettings, payday_id
from models.rules import RetirementCategory, YearMonth
from policy.entitlement import benefit_amount
from workflows.base import initial_search_attributes
from workflows.benefit_period import BenefitPeriodWorkflow
from workflows.payday import PayDayWorkflow

REGION = "150102"
FEN = Decimal("0.01")


def one_month_entitlement(month: YearMonth) -> ClaimEntitlement:
    a = benefit_amount(1, month)
    return ClaimEntitlement(
        max_months=1,
        new_months=1,
        carried_months=0,
        benefit_start=month.first_day(),
        first_month=month,
        last_month=month,
        schedule=[MonthlyAmount(month_index=1, pay_month=month, amount=a.amount, rate=a.rate, base=a.base)],
        total=Decimal(a.amount),
        parameter_version="bench",
    )


def details(p: dict[str, Any]) -> PaymentDetails:
    return PaymentDetails(
        id_number=p["id_number"],
        name=p["name"],
        phone=p["phone"],
        account_no=p["account_no"],
        bank_name=p["bank_name"],
    )


def period_input(stack: Stack, person: dict[str, Any], case_id: str, month: YearMonth) -> BenefitPeriodInput:
    assert stack.settings is not None
    number = person["id_number"]
    claim_id = "claim-" + case_id.removeprefix("period-")
    return BenefitPeriodInput(
        case_id=period_id_for(claim_id),
        claim_case_id=claim_id,
        applicant_key=applicant_key(stack.settings, number),
        region_code=REGION,
        person=details(person),
        entitlement=one_month_entitlement(month),
        category=RetirementCategory.MALE if int(number[16]) % 2 else RetirementCategory.FEMALE_50,
        birth_month=YearMonth(int(number[6:10]), int(number[10:12])),
        approved_at=datetime.now(UTC),
    )


async def population(stack: Stack, n: int) -> list[dict[str, Any]]:
    """N people of the simulator's seeded population whose account the bank accepts."""
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=stack.sim_url, timeout=120) as sim:
        offset = 0
        while len(out) < n:
            page = (await sim.get("/admin/population", params={"limit": 1000, "offset": offset})).json()
            if not page["persons"]:
                raise RuntimeError(f"the simulator holds {len(out)} usable people, {n} wanted")
            out += [p for p in page["persons"] if p["account_status"] == "active"]
            offset += 1000
    return out[:n]


async def write_bulk(
    stack: Stack, conn: Any, people: list[dict[str, Any]], ids: list[str], month: YearMonth
) -> None:
    """What N periods' ``sync_schedule`` would have written, in two COPYs."""
    assert stack.settings is not None
    sealer = Sealer(stack.settings)
    now = datetime.now(UTC)
    today = local_date(now)
    amount = benefit_amount(1, month).amount.quantize(FEN, rounding=ROUND_HALF_UP)
    keys = [applicant_key(stack.settings, p["id_number"]) for p in people]
    await conn.copy_records_to_table(
        "payment_schedule",
        columns=[
            "case_id",
            "region_code",
            "applicant_key",
            "pay_month",
            "month_index",
            "basis",
            "amount",
            "due_date",
            "state",
            "stop_requested",
            "order_key",
            "updated_at",
        ],
        records=[
            (
                cid,
                REGION,
                k,
                str(month),
                1,
                "ordinary",
                amount,
                today,
                "scheduled",
                False,
                benefit_order_key(cid, month),
                now,
            )
            for cid, k in zip(ids, keys, strict=True)
        ],
    )
    await conn.copy_records_to_table(
        "payee",
        columns=["case_id", "region_code", "applicant_key", "sealed", "account_masked", "updated_at"],
        records=[
            (cid, REGION, k, sealer.seal(details(p).model_dump()), mask_account(p["account_no"]), now)
            for cid, k, p in zip(ids, keys, people, strict=True)
        ],
    )


async def scenario_payday(
    stack: Stack,
    out: dict[str, Any],
    *,
    n: int,
    real: int = 1000,
    faults: bool = False,
    concurrency: int = 20,
    reporter: Reporter,
    limit_s: float = 3600.0,
) -> None:
    assert stack.client is not None and stack.settings is not None
    client, settings = stack.client, stack.settings
    now = datetime.now(UTC)
    today = local_date(now)
    month = YearMonth.of(today) - 1  # due today
    pay_date = actual_pay_date(stack.settings, today)
    pid = payday_id(REGION, pay_date)
    tag = f"b{int(time.time()) % 1_000_000}"
    with reporter.phase(f"payday: {n + real} people from the simulator", 1) as adv:
        people = await population(stack, n + real)
        adv(1)
    ids = [f"period-{REGION}-{tag}-{i}" for i in range(n)]
    conn = await stack.pg_conn()
    sim = httpx.AsyncClient(
        base_url=stack.sim_url, timeout=120, headers={"Authorization": f"Bearer {stack.sim_token()}"}
    )
    try:
        with reporter.phase(f"payday: {n} schedules in bulk", 1) as adv:
            await write_bulk(stack, conn, people[:n], ids, month)
            adv(1)
        sem = asyncio.Semaphore(concurrency)
        started_real: list[str] = []

        async def start(i: int) -> None:
            # Next month's benefit: the period writes its rows and waits, beside today's run.
            inp = period_input(stack, people[n + i], f"period-{REGION}-{tag}-r{i}", month + 2)
            async with sem:
                await client.start_workflow(
                    BenefitPeriodWorkflow.run,
                    inp,
                    id=inp.case_id,
                    task_queue=stack.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=initial_search_attributes(CaseType.BENEFIT_PERIOD, REGION, "active"),
                    execution_timeout=timedelta(days=4 * 365),
                )
            started_real.append(inp.case_id)

        async def start_run() -> None:
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await client.start_workflow(
                    PayDayWorkflow.run,
                    PaydayInput(
                        payday_id=pid,
                        region_code=REGION,
                        pay_date=pay_date,
                        release_at=datetime.now(UTC),
                        settings=PaydaySettings(
                            chunk_size=settings.payday_chunk, parallel=settings.payday_parallel
                        ),
                    ),
                    id=pid,
                    task_queue=stack.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    start_signal=ROWS_ADDED,
                )

        if faults:
            await sim.put("/admin/faults/bank", json={"timeout_rate": 0.05, "hang_seconds": 30})
            await sim.put("/admin/faults/bank.items", json={"error_rate": 0.2})
        meter = CpuMeter(await stack.cpu_pids())
        meter.start()
        t0 = time.perf_counter()
        released = datetime.now(UTC)
        await start_run()  # the release
        real_starts = asyncio.gather(*(start(i) for i in range(real)))  # beside the run
        paid, kills, killed_at = 0, 0, []
        with reporter.phase(f"payday: {n} payments in chunks", n) as adv:
            while paid < n and time.perf_counter() - t0 < limit_s:
                now_paid = int(
                    await conn.fetchval(
                        "select count(*) from payment_order where payday_id = $1 and status = 'paid'", pid
                    )
                )
                if now_paid > paid:
                    adv(now_paid - paid)
                    paid = now_paid
                if faults and kills < 2 and paid >= n * (0.3 if kills == 0 else 0.6):
                    await _kill_worker(stack, meter)
                    kills += 1
                    killed_at.append(paid)
                if paid < n:
                    await asyncio.sleep(0.5)
        t_done = time.perf_counter()
        cpu = meter.stop()
        await real_starts
        real_rows = int(
            await conn.fetchval(
                "select count(*) from payment_schedule where case_id like $1 and state = 'scheduled'",
                f"period-{REGION}-{tag}-r%",
            )
        )
        run_handle = client.get_workflow_handle(pid, result_type=PaydayResult)
        with reporter.phase("payday: reconciliation", 1) as adv:
            result = await asyncio.wait_for(run_handle.result(), timeout=max(60.0, limit_s - (t_done - t0)))
            adv(1)
        last_paid = await conn.fetchval(
            "select max(updated_at) from payment_order where payday_id = $1 and status = 'paid'", pid
        )
        per_key = await conn.fetch(
            "select case_id, count(*) filter (where status = 'paid') as paid, count(*) as n"
            " from payment_order where case_id like $1 group by case_id",
            f"period-{REGION}-{tag}-%",
        )
        ledger = (await sim.get("/admin/bank/ledger")).json()
        if faults:
            injected = (await sim.get("/admin/faults")).json()
            await sim.delete("/admin/faults")
        else:
            injected = {}
    finally:
        await conn.close()
        await sim.aclose()
    prefix = f"benefit:period-{REGION}-{tag}-"
    ours = {k: v for k, v in ledger["payments_per_key"].items() if k.startswith(prefix)}
    released_to_last = (last_paid - released).total_seconds() if last_paid else None
    one_paid = sum(1 for r in per_key if r["paid"] == 1 and r["n"] == 1)
    out["settings"] = {
        "chunk": stack.settings.payday_chunk,
        "parallel": stack.settings.payday_parallel,
        "real_periods_beside": real,
        "faults": faults,
    }
    out["run"] = {
        "periods": n,
        "pay_month": str(month),
        "payday_id": pid,
        "real_periods_started": len(started_real),
        "real_periods_rows_written_by_the_end": real_rows,
        "release_to_last_paid_s": round(released_to_last, 2) if released_to_last is not None else None,
        "bench_start_to_last_paid_s": round(t_done - t0, 2),
        "payments_per_s": round(n / released_to_last, 1) if released_to_last else None,
        "resources": cpu,
        "worker_kills_at_paid": killed_at,
        "faults_config": injected,
        "totals": result.totals.model_dump(mode="json"),
        "report": result.report.model_dump(mode="json"),
    }
    out["verify"] = {
        "paid_orders": sum(r["paid"] for r in per_key),
        "periods_with_one_paid_order": one_paid,
        "ledger_entries_for_these_periods": sum(ours.values()),
        "ledger_keys_paid_more_than_once": sum(1 for v in ours.values() if v > 1),
        "all_paid_once": one_paid == n and len(ours) == n and all(v == 1 for v in ours.values()),
        "timed_out": paid < n,
    }
    out["shapes"] = await _shapes(stack, pid, started_real[0] if started_real else None)
    out["summary"] = {
        "periods": n,
        "release_to_last_paid_s": out["run"]["release_to_last_paid_s"],
        "payments_per_s": out["run"]["payments_per_s"],
        "all_paid_once": out["verify"]["all_paid_once"],
        "faults": faults,
    }


async def _kill_worker(stack: Stack, meter: CpuMeter) -> None:
    """SIGKILL the worker mid-run and start a new one (its CPU is counted from its start; the
    killed one's up to the kill)."""
    proc = stack.procs["worker"]
    meter.retire(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    new = stack.spawn("worker", [str(BIN / "uiflow"), "worker"])
    meter.pids.setdefault("worker (restarted)", []).append(new.pid)


async def _shapes(stack: Stack, pid: str, period_id: str | None) -> dict[str, Any]:
    """Event counts of the pay-day run (every run of its chain) and of one real period."""
    assert stack.client is not None
    out: dict[str, Any] = {}
    for name, wid in (("payday_run", pid), ("one_real_period", period_id)):
        if wid is None:
            continue
        try:
            history = await stack.client.get_workflow_handle(wid).fetch_history()
        except Exception as e:  # report, do not fail the run
            out[name] = {"error": type(e).__name__}
            continue
        c = counts(history)
        c.pop("event_types", None)
        out[name] = c
    return out
