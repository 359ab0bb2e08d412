"""The bank's payroll batches (批量代发): per-item idempotency keys and per-item results. A key sent
in two batches (a retry after a lost answer) is paid once; a refused account fails only its item;
the per-item fault fails items without paying them; the lookup reconciles item by item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from activities.gov import GovClients
from activities.gov.base import GovClientConfig


async def people(admin: httpx.AsyncClient, n: int) -> list[dict[str, Any]]:
    found = (await admin.get("/population", params={"scenario": "eligible", "limit": 50})).json()["persons"]
    return [p for p in found if p["account_status"] == "active"][:n]


def item(p: dict[str, Any], key: str) -> dict[str, object]:
    return {
        "idempotency_key": key,
        "account_no": p["account_no"],
        "account_name": p["name"],
        "amount": "2261.00",
        "purpose": "失业保险金2025-05",
        "case_ref": "period-150102-x",
    }


async def test_a_key_in_two_batches_is_paid_once_and_a_bad_account_fails_only_its_item(
    config: GovClientConfig, admin: httpx.AsyncClient
) -> None:
    bank = GovClients.from_config(config).bank
    a, b = await people(admin, 2)
    bad = {**item(b, "benefit:period-150102-x:2025-07"), "account_name": "不是本人"}
    first = await bank.disburse_batch("payday-150102-20250610-c1-a1", [item(a, "benefit:p-1:2025-05"), bad])
    assert [r.status for r in first.results] == ["paid", "failed"]
    assert first.results[1].code == "account.invalid" and first.paid == 1
    again = await bank.disburse_batch("payday-150102-20250610-c1-a2", [item(a, "benefit:p-1:2025-05")])
    assert (
        again.results[0].bank_ref == first.results[0].bank_ref
        and again.bank_batch_ref != first.bank_batch_ref
    )
    book = (await admin.get("/bank/ledger")).json()
    assert book["payments_per_key"] == {"benefit:p-1:2025-05": 1}
    held = await bank.lookup(["benefit:p-1:2025-05", "benefit:period-150102-x:2025-07"])
    assert [(d.idempotency_key, d.amount) for d in held] == [("benefit:p-1:2025-05", Decimal("2261.00"))]


async def test_failing_items_are_not_paid_and_are_paid_once_when_sent_again(
    config: GovClientConfig, admin: httpx.AsyncClient
) -> None:
    bank = GovClients.from_config(config).bank
    payees = await people(admin, 10)
    items = [item(p, f"benefit:p-{i}:2025-05") for i, p in enumerate(payees)]
    assert (await admin.put("/faults/bank.items", json={"error_rate": 0.5})).status_code == 200
    first = await bank.disburse_batch("payday-b-1", items)
    failed = [r.idempotency_key for r in first.results if r.status == "failed"]
    assert failed and all(r.code == "system.unavailable" for r in first.results if r.status == "failed")
    assert len((await admin.get("/bank/ledger")).json()["payments_per_key"]) == 10 - len(failed)
    await admin.delete("/faults/bank.items")
    second = await bank.disburse_batch("payday-b-2", [i for i in items if i["idempotency_key"] in failed])
    assert {r.status for r in second.results} == {"paid"}
    assert set((await admin.get("/bank/ledger")).json()["payments_per_key"].values()) == {1}
