"""Exactly-once payment: one ledger entry per idempotency key, however often and however
concurrently the same payment is sent."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from activities.gov import GovClients
from activities.gov.base import ExternalRefused, ExternalUnavailable, GovClientConfig


async def payee(admin: httpx.AsyncClient) -> dict[str, Any]:
    return dict(
        (await admin.get("/population", params={"scenario": "eligible", "limit": 1})).json()["persons"][0]
    )


async def ledger(admin: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await admin.get("/bank/ledger")).json())


async def test_same_key_twice_pays_once(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    bank = GovClients.from_config(config).bank
    p = await payee(admin)
    args: dict[str, Any] = dict(
        idempotency_key="claim-150102-a-1:2025-06",
        account_no=p["account_no"],
        account_name=p["name"],
        amount=Decimal("1862.60"),
        purpose="失业保险金",
    )
    first = await bank.disburse(**args)
    second = await bank.disburse(**args)
    assert first == second
    book = await ledger(admin)
    assert book["count"] == 1 and book["payments_per_key"] == {"claim-150102-a-1:2025-06": 1}
    assert Decimal(book["total"]) == Decimal("1862.60")

    with pytest.raises(ExternalRefused) as e:
        await bank.disburse(**{**args, "amount": Decimal("1.00")})
    assert e.value.code == "idempotency.key_reused"
    assert (await ledger(admin))["count"] == 1


async def test_concurrent_duplicates_pay_once(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    bank = GovClients.from_config(config).bank
    p = await payee(admin)
    await admin.put("/faults/bank", json={"latency_ms": 30})
    results = await asyncio.gather(
        *(
            bank.disburse(
                idempotency_key="claim-150102-b-1:2025-06",
                account_no=p["account_no"],
                account_name=p["name"],
                amount=Decimal("1700.00"),
                purpose="失业保险金",
            )
            for _ in range(10)
        )
    )
    assert len({r.bank_ref for r in results}) == 1
    book = await ledger(admin)
    assert book["count"] == 1 and book["payments_per_key"] == {"claim-150102-b-1:2025-06": 1}


async def test_retry_after_a_fault_pays_once(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    """What a Temporal retry does: the first attempt fails transiently, the retry uses the same key."""
    bank = GovClients.from_config(config).bank
    p = await payee(admin)
    args: dict[str, Any] = dict(
        idempotency_key="claim-150102-c-1:2025-07",
        account_no=p["account_no"],
        account_name=p["name"],
        amount=Decimal("1700.00"),
        purpose="失业保险金",
    )
    await admin.put("/faults/bank", json={"error_rate": 1.0})
    with pytest.raises(ExternalUnavailable):
        await bank.disburse(**args)
    await admin.delete("/faults/bank")
    await bank.disburse(**args)
    await bank.disburse(**args)
    assert (await ledger(admin))["payments_per_key"] == {"claim-150102-c-1:2025-07": 1}


async def test_deferred_settlement(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    bank = GovClients.from_config(config).bank
    p = await payee(admin)
    await admin.put("/config", json={"bank_settle_seconds": 0.1})
    d = await bank.disburse(
        idempotency_key="claim-150102-d-1:2025-06",
        account_no=p["account_no"],
        account_name=p["name"],
        amount=Decimal("100.00"),
        purpose="失业保险金",
    )
    assert d.status == "accepted" and d.paid_at is None
    await asyncio.sleep(0.15)
    later = await bank.get_disbursement("claim-150102-d-1:2025-06")
    assert later.status == "paid" and later.paid_at is not None
