"""The checks after the drill: every claim where its plan says it ends, none lost, no month paid
twice, the audit chain whole, every child's exit code as expected.

Read from outside: the claim's status from the API's read model (``case_record``), the payments
from ``payment_order`` against the simulated bank's ledger (``/admin/bank/ledger``), the audit
chain with the same function as ``uiflow audit verify``, the workflows from Temporal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from cli.bench.stack import Stack
from cli.drill.claims import EXPECTED_FINAL, ClaimRun
from cli.drill.procs import Exit
from core import archive as arch
from core.db import Database

_engines: dict[str, AsyncEngine] = {}


async def db_fetch(url: str, sql: str, params: dict[str, Any] | None = None) -> Sequence[Any]:
    """A read on the case database (PostgreSQL or SQLite alike), one small pool per URL."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_async_engine(url, pool_size=2)
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params or {})).all()


async def dispose_engines() -> None:
    for url in list(_engines):
        await _engines.pop(url).dispose()


def period_of(claim_id: str) -> str:
    """The benefit period an approved claim starts (id scheme in docs/payments.md)."""
    return "period-" + claim_id.removeprefix("claim-")


def _approved(runs: list[ClaimRun]) -> list[str]:
    return [c.case_id for c in runs if c.case_id and EXPECTED_FINAL[c.plan] == "approved" and not c.error]


async def _orders(url: str, periods: list[str]) -> tuple[dict[str, list[str]], int]:
    """Paid orders (idempotency keys) per period, and how many orders of these periods are still
    in flight (``ordered``: written, not yet answered by the bank)."""
    paid: dict[str, list[str]] = {p: [] for p in periods}
    in_flight = 0
    wanted = set(periods)
    for case_id, key, status in await db_fetch(
        url, "select case_id, idempotency_key, status from payment_order where case_id like 'period-%'"
    ):
        if case_id in wanted:
            if status == "paid":
                paid[case_id].append(key)
            elif status == "ordered":
                in_flight += 1
    return paid, in_flight


async def wait_paid(url: str, runs: list[ClaimRun], limit_s: float) -> float:
    """Seconds until every approved claim's period has paid its first month and no order of
    these periods is in flight (a period may pay more than one month that is already due; the
    bank ledger is compared only once they are all answered)."""
    periods = [period_of(c) for c in _approved(runs)]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        paid, in_flight = await _orders(url, periods)
        if all(paid.values()) and not in_flight:
            break
        await asyncio.sleep(1.0)
    return round(time.perf_counter() - t0, 1)


async def workflows_missing(stack: Stack, runs: list[ClaimRun]) -> set[str]:
    """Claims whose workflow Temporal does not know, or that ended other than running (waiting
    for a re-application) or completed. Asked while the stack still runs."""
    assert stack.client is not None
    client = stack.client
    sem = asyncio.Semaphore(16)
    missing: set[str] = set()

    async def one(cid: str) -> None:
        async with sem:
            try:
                d = await client.get_workflow_handle(cid).describe()
            except RPCError:
                missing.add(cid)
                return
            if d.status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
                missing.add(cid)

    await asyncio.gather(*(one(c.case_id) for c in runs if c.case_id))
    return missing


def check_exits(exits: list[Exit]) -> dict[str, Any]:
    bad = [e.as_dict() for e in exits if not e.ok]
    return {"ok": not bad, "exits": [e.as_dict() for e in exits], "unexpected": bad}


async def check_all(stack: Stack, runs: list[ClaimRun], no_workflow: set[str]) -> dict[str, dict[str, Any]]:
    """Everything but the exit codes, while the stack still runs (the bank ledger is the
    simulator's)."""
    url = stack.db_url
    ids = [c.case_id for c in runs if c.case_id]
    rows = {
        r[0]: r[1]
        for r in await db_fetch(
            url, "select case_id, status from case_record where case_type = 'benefit_claim'"
        )
    }

    # Claims: each in its expected final state, none lost (a case id, a read-model row, a workflow).
    wrong = [
        {"case_id": c.case_id, "plan": c.plan, "status": rows.get(c.case_id or ""), "error": c.error}
        for c in runs
        if c.case_id is None or rows.get(c.case_id) != EXPECTED_FINAL[c.plan]
    ]
    lost = [c.index for c in runs if c.case_id is None or c.case_id not in rows or c.case_id in no_workflow]
    claims = {
        "ok": not wrong and not lost,
        "without_workflow": len(no_workflow),
        "submitted": len(runs),
        "with_case_id": len(ids),
        "in_expected_state": len(runs) - len(wrong),
        "lost": len(lost),
        "wrong_samples": wrong[:10],
        "by_final_state": {s: sum(1 for v in rows.values() if v == s) for s in sorted(set(rows.values()))},
    }

    # Payments: the first month paid for every approved claim, and no key paid twice at the bank.
    periods = [period_of(c) for c in _approved(runs)]
    paid, in_flight = await _orders(url, periods)
    async with httpx.AsyncClient(base_url=stack.sim_url, timeout=120) as sim:
        ledger = (await sim.get("/admin/bank/ledger")).json()
    per_key: dict[str, int] = ledger["payments_per_key"]
    our_keys = {k for keys in paid.values() for k in keys}
    ours_at_bank = {k: v for k, v in per_key.items() if any(p in k for p in periods)}
    twice = sorted(k for k, v in ours_at_bank.items() if v > 1)
    unrecorded = sorted(set(ours_at_bank) - our_keys)  # the bank paid, our orders do not say so
    unpaid_at_bank = sorted(k for k in our_keys if per_key.get(k, 0) == 0)
    payments = {
        "ok": all(paid.values()) and not twice and not unrecorded and not unpaid_at_bank and not in_flight,
        "orders_in_flight": in_flight,
        "approved_claims": len(periods),
        "periods_with_first_payment": sum(1 for v in paid.values() if v),
        "paid_orders": len(our_keys),
        "bank_entries_for_these_periods": sum(ours_at_bank.values()),
        "paid_twice": len(twice),
        "paid_at_bank_without_paid_order": len(unrecorded),
        "paid_order_without_bank_entry": len(unpaid_at_bank),
        "samples": (twice + unrecorded + unpaid_at_bank)[:10],
    }

    # The audit chain (and the history archive) as `uiflow audit verify` checks them.
    db = Database(url)
    try:
        rep = await arch.verify_all(db)
    finally:
        await db.dispose()
    audit = {
        "ok": rep.audit_log.ok and rep.archive.ok,
        "entries": rep.audit_log.entries,
        "chain_breaks": 0 if rep.audit_log.ok else 1,
        "problem": rep.audit_log.problem,
        "archive_failures": len(rep.archive.failures),
    }
    return {"claims": claims, "payments": payments, "audit": audit}
