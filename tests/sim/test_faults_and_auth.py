"""The contract around the systems: token, request id, error shape, and injected faults mapped to
``ExternalRefused`` (do not retry) and ``ExternalUnavailable`` (retry)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import httpx
import pytest

from activities.gov import GovClients
from activities.gov.base import ExternalRefused, ExternalUnavailable, GovClientConfig
from sim.testing import SimHandle


async def some_id(admin: httpx.AsyncClient) -> str:
    return str((await admin.get("/population", params={"limit": 1})).json()["persons"][0]["id_number"])


async def test_missing_or_wrong_token_is_refused(sim: SimHandle, admin: httpx.AsyncClient) -> None:
    id_number = await some_id(admin)
    async with httpx.AsyncClient(base_url=sim.base_url) as raw:
        r = await raw.get(f"/registration/persons/{id_number}", headers={"X-Request-Id": "req-123"})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == "req-123"
    assert r.json()["error"]["code"] == "auth.unauthorized" and r.json()["error"]["message"]

    wrong = GovClients.from_config(
        GovClientConfig(base_url=sim.base_url, token="not-the-token", timeout_seconds=2)
    )
    with pytest.raises(ExternalRefused) as e:
        await wrong.contributions.get_record(id_number)
    assert e.value.code == "auth.unauthorized" and e.value.status_code == 401
    assert sim.state.calls["contributions"] == 0, "refused before it reaches the system"


async def test_request_id_is_sent_and_echoed(sim: SimHandle, admin: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as raw:
        r = await raw.get("/employers/x", headers={"Authorization": f"Bearer {sim.token}"})
    assert r.headers["x-request-id"], "minted when the caller sends none"
    assert r.status_code == 422 and set(r.json()) == {"error"}


async def test_error_rate_gives_unavailable(
    config: GovClientConfig, admin: httpx.AsyncClient, sim: SimHandle
) -> None:
    gov = GovClients.from_config(config)
    id_number = await some_id(admin)
    await admin.put("/faults/registration", json={"error_rate": 1.0})
    with pytest.raises(ExternalUnavailable) as e:
        await gov.registration.get_status(id_number)
    assert e.value.status_code == 503
    # Other systems are unaffected; clearing the fault restores the system.
    await gov.cross_province.check(id_number)
    await admin.delete("/faults")
    assert (await gov.registration.get_status(id_number)).id_number == id_number
    stats = (await admin.get("/stats")).json()
    assert stats["injected"] == {"registration.error": 1} and stats["calls"]["registration"] == 2


async def test_refusal_injection_gives_refused(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    await admin.put("/faults/cross-province", json={"refuse_rate": 1.0, "refuse_code": "person.frozen"})
    with pytest.raises(ExternalRefused) as e:
        await gov.cross_province.check(await some_id(admin))
    assert e.value.code == "person.frozen" and e.value.status_code == 409 and e.value.message_zh


async def test_timeout_gives_unavailable(sim: SimHandle, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(
        GovClientConfig(base_url=sim.base_url, token=sim.token, timeout_seconds=0.15)
    )
    await admin.put("/faults/employers", json={"timeout_rate": 1.0, "hang_seconds": 5.0})
    code = next(iter(sim.state.pop.employers))
    started = time.perf_counter()
    with pytest.raises(ExternalUnavailable) as e:
        await gov.employers.get(code)
    assert "timed out" in e.value.detail
    # The client gave up on its own timeout, long before the server's 5 s hang ended (a loose
    # bound on purpose: this checks behaviour, not speed, on a machine that may be busy).
    assert time.perf_counter() - started < 3.0


async def test_connection_error_gives_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gov = GovClients.from_config(
        GovClientConfig(base_url=f"http://127.0.0.1:{port}", token="t", timeout_seconds=1)
    )
    with pytest.raises(ExternalUnavailable) as e:
        await gov.employers.get("91150102000000001X")
    assert "connection failed" in e.value.detail


async def test_latency_slows_calls(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    id_number = await some_id(admin)
    await admin.put("/faults/cross-province", json={"latency_ms": 250})
    started = time.perf_counter()
    await gov.cross_province.check(id_number)
    slow = time.perf_counter() - started
    assert slow >= 0.25  # the injected latency is served (a lower bound holds on any machine)
    await admin.delete("/faults/cross-province")


async def test_fault_draws_repeat_for_a_seed(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    id_number = await some_id(admin)

    async def pattern() -> list[bool]:
        await admin.put("/faults/cross-province", json={"error_rate": 0.5})
        out = []
        for _ in range(12):
            try:
                await gov.cross_province.check(id_number)
                out.append(True)
            except ExternalUnavailable:
                out.append(False)
        return out

    first = await pattern()
    await admin.post("/reset")
    assert await pattern() == first
    assert True in first and False in first


async def test_clients_log_no_personal_data(
    config: GovClientConfig, admin: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    gov = GovClients.from_config(config)
    person = (await admin.get("/population", params={"limit": 1})).json()["persons"][0]
    with caplog.at_level(logging.DEBUG):
        await gov.registration.get_status(person["id_number"])
        await gov.contributions.get_record(person["id_number"])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/registration/persons/{id_number}" in text
    for secret in (person["id_number"], person["name"], person["phone"], person["account_no"]):
        assert secret not in text


async def test_concurrent_calls_share_one_pool(config: GovClientConfig, admin: httpx.AsyncClient) -> None:
    gov = GovClients.from_config(config)
    id_number = await some_id(admin)
    results = await asyncio.gather(*(gov.cross_province.check(id_number) for _ in range(20)))
    assert {r.id_number for r in results} == {id_number}
