"""The ``payday`` scenario: a region's pay day, and the proof that every payment was made once.

N benefit periods are started the way an approved claim hands over (``BenefitPeriodInput``), for
exact people in the simulators, each with one benefit month in the previous calendar month. The
period treats a month wholly past as due today, so every period enrols at once in the region's
payroll batch for today, whose release time is now: the batch then grants turns in paced waves
(``PayrollSettings``: at most ``max_in_flight`` paying, ``wave_size`` more every
``wave_interval_seconds``), each period prepares its payment order and disburses through the
simulated bank. (On the dev server the real pay day, the 10th at 09:00, cannot be waited for; a
month already due is the same path from the batch onwards.)

Measured: the time from the first period's start to the last disbursement, payments per second,
and the pacing floor the batch settings impose (N / wave rate), so a slow figure can be told
apart from a deliberately paced one. Checked afterwards: one paid order per period in
``payment_order`` and exactly one bank ledger entry per idempotency key."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from temporalio.common import WorkflowIDReusePolicy

from cli.bench.claims import make_people
from cli.bench.common import CpuMeter, latency_summary
from cli.bench.history_shape import counts
from cli.bench.stack import Stack
from cli.bench.ui import Reporter
from core.applicant import applicant_key
from models.benefit import (
    BenefitPeriodInput,
    PaymentDetails,
    PayrollSettings,
    PeriodTimings,
    payroll_batch_id,
    period_id_for,
)
from models.case import local_date
from models.claim import ClaimEntitlement, MonthlyAmount
from models.enums import CaseType
from models.rules import RetirementCategory, YearMonth
from policy.entitlement import benefit_amount
from workflows.base import initial_search_attributes
from workflows.benefit_period import BenefitPeriodWorkflow

REGION = "150102"


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


def period_input(
    stack: Stack, person: dict[str, Any], run: str, i: int, month: YearMonth, payroll: PayrollSettings
) -> BenefitPeriodInput:
    assert stack.settings is not None
    number = person["id_number"]
    key = applicant_key(stack.settings, number)
    claim_id = f"claim-{REGION}-{key}-b{run}{i}"
    return BenefitPeriodInput(
        case_id=period_id_for(claim_id),
        claim_case_id=claim_id,
        applicant_key=key,
        region_code=REGION,
        person=PaymentDetails(
            id_number=number,
            name=person["name"],
            phone=person["phone"],
            account_no=person["account_no"],
            bank_name=person["bank_name"],
        ),
        entitlement=one_month_entitlement(month),
        category=RetirementCategory.MALE if int(number[16]) % 2 else RetirementCategory.FEMALE_50,
        birth_month=YearMonth(int(number[6:10]), int(number[10:12])),
        approved_at=datetime.now(UTC),
        timings=PeriodTimings(payroll=payroll),
    )


async def scenario_payday(
    stack: Stack,
    out: dict[str, Any],
    *,
    n: int,
    concurrency: int,
    reporter: Reporter,
    payroll: PayrollSettings,
    limit_s: float = 3600.0,
) -> None:
    assert stack.client is not None
    client = stack.client
    today = local_date(datetime.now(UTC))
    month = YearMonth(today.year, today.month) - 1
    people = await make_people(stack, n)
    run = f"{int(time.time()) % 100000}"
    inputs = [period_input(stack, p, run, i, month, payroll) for i, p in enumerate(people)]
    ids = [inp.case_id for inp in inputs]
    meter = CpuMeter(await stack.cpu_pids())
    sem = asyncio.Semaphore(concurrency)
    start_lat: list[float] = []

    async def start(inp: BenefitPeriodInput, advance: Any) -> None:
        async with sem:
            t = time.perf_counter()
            await client.start_workflow(
                BenefitPeriodWorkflow.run,
                inp,
                id=inp.case_id,
                task_queue=stack.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=initial_search_attributes(CaseType.BENEFIT_PERIOD, REGION, "active"),
                execution_timeout=timedelta(days=4 * 365),
            )
            start_lat.append(time.perf_counter() - t)
            advance()

    conn = await stack.pg_conn()
    try:
        meter.start()
        t0 = time.perf_counter()
        with reporter.phase(f"payday: starting {n} benefit periods", n) as adv:
            await asyncio.gather(*(start(inp, adv) for inp in inputs))
        t_started = time.perf_counter()
        paid = 0
        with reporter.phase(f"payday: {n} payments through the payroll batch", n) as adv:
            while paid < n and time.perf_counter() - t0 < limit_s:
                now_paid = int(
                    await conn.fetchval(
                        "select count(*) from payment_order"
                        " where case_id = any($1::text[]) and status = 'paid'",
                        ids,
                    )
                )
                if now_paid > paid:
                    adv(now_paid - paid)
                    paid = now_paid
                if paid < n:
                    await asyncio.sleep(0.25)
        t_done = time.perf_counter()
        cpu = meter.stop()
        orders = await conn.fetch(
            "select case_id, status, count(*) as n, min(created_at) as first, max(updated_at) as last"
            " from payment_order where case_id = any($1::text[]) group by case_id, status",
            ids,
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=stack.sim_url, timeout=120) as sim:
        ledger = (await sim.get("/admin/bank/ledger")).json()
    prefixes = tuple(f"benefit:{pid}:" for pid in ids)
    ours = {k: v for k, v in ledger["payments_per_key"].items() if k.startswith(prefixes)}
    per_period_paid = [r for r in orders if r["status"] == "paid"]
    span = t_done - t0
    waves_per_s = payroll.wave_size / payroll.wave_interval_seconds
    out["payroll_settings"] = payroll.model_dump()
    out["run"] = {
        "periods": n,
        "pay_month": str(month),
        "start_phase_s": round(t_started - t0, 2),
        "first_start_to_last_paid_s": round(span, 2),
        "payments_per_s": round(paid / span, 2) if span > 0 else None,
        "pacing_floor_s": round(n / waves_per_s, 2),
        "start_latency": latency_summary(start_lat),
        "resources": cpu,
    }
    out["verify"] = {
        "paid_orders": len(per_period_paid),
        "periods_with_one_paid_order": sum(1 for r in per_period_paid if r["n"] == 1),
        "ledger_entries_for_these_periods": sum(ours.values()),
        "ledger_keys_paid_more_than_once": sum(1 for v in ours.values() if v > 1),
        "all_paid_once": len(per_period_paid) == n
        and all(r["n"] == 1 for r in per_period_paid)
        and len(ours) == n
        and all(v == 1 for v in ours.values()),
        "timed_out": paid < n,
    }
    out["shapes"] = await _shapes(stack, ids[0], payroll_batch_id(REGION, today))
    out["summary"] = {
        "periods": n,
        "first_start_to_last_paid_s": out["run"]["first_start_to_last_paid_s"],
        "payments_per_s": out["run"]["payments_per_s"],
        "pacing_floor_s": out["run"]["pacing_floor_s"],
        "all_paid_once": out["verify"]["all_paid_once"],
    }


async def _shapes(stack: Stack, period_id: str, batch_id: str) -> dict[str, Any]:
    """What the engine did for one period and for the region's batch (event counts from their
    histories, without payloads), to tell the per-period cost from the batch's serial work."""
    assert stack.client is not None
    out: dict[str, Any] = {}
    for name, wid in (("one_period", period_id), ("payroll_batch", batch_id)):
        try:
            history = await stack.client.get_workflow_handle(wid).fetch_history()
        except Exception as e:  # the batch may have continued as new; report, do not fail the run
            out[name] = {"error": type(e).__name__}
            continue
        c = counts(history)
        c.pop("event_types", None)
        events = history.events
        if events:
            first, last = events[0].event_time.ToDatetime(), events[-1].event_time.ToDatetime()
            c["first_to_last_event_s"] = round((last - first).total_seconds(), 2)
        out[name] = c
    return out
