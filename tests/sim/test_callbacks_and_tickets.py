"""Events pushed by the external systems: signed, verifiable, and the ticket lifecycle of a
stop-reason change that the record system refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from activities.gov import GovClients
from activities.gov.base import ExternalRefused, GovClientConfig
from activities.gov.callbacks import (
    CallbackRefused,
    RegistrationConfirmed,
    TicketResolved,
    parse_event,
    signed_headers,
    verify,
)
from activities.gov.insurance_record import RECORD_LOCKED
from core.settings import Settings
from sim.testing import SimHandle, serve_app


class Receiver:
    """Stands in for our API's callback endpoint."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = asyncio.Event()
        self.app = FastAPI()

        @self.app.post("/callbacks/gov")
        async def receive(request: Request) -> dict[str, bool]:
            self.received.append((await request.body(), dict(request.headers)))
            self.arrived.set()
            return {"ok": True}


@pytest.fixture
async def receiver(admin: httpx.AsyncClient) -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with serve_app(rec.app) as url:
        r = await admin.put("/config", json={"callback_url": url + "/callbacks/gov"})
        assert r.status_code == 200
        yield rec


RINGS = Settings().callback_keyrings()  # the dev defaults, which the simulators sign with


def _verified(body: bytes, headers: dict[str, str]) -> str:
    return verify(headers, "POST", "/callbacks/gov", body, RINGS).system


def test_sign_and_verify() -> None:
    body = b'{"event":"x"}'
    h = signed_headers("registration", "k1", "secret", "POST", "/cb", body)
    rings = {"registration": {"k1": "secret"}}
    assert verify(h, "POST", "/cb", body, rings).system == "registration"
    for bad_rings, bad_body, path in (
        ({"registration": {"k1": "other"}}, body, "/cb"),
        (rings, body + b" ", "/cb"),
        (rings, body, "/other"),
        ({"demand_platform": {"k1": "secret"}}, body, "/cb"),
    ):
        with pytest.raises(CallbackRefused):
            verify(h, "POST", path, bad_body, bad_rings)
    with pytest.raises(CallbackRefused):
        verify({}, "POST", "/cb", body, rings)


async def test_online_registration_callback_is_signed(
    sim: SimHandle, config: GovClientConfig, admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    p = (await admin.get("/population", params={"scenario": "unregistered", "limit": 1})).json()["persons"][0]
    r = await admin.post(f"/registration/{p['id_number']}/register-online")
    assert r.status_code == 200 and r.json()["callback"]["delivered"]
    await asyncio.wait_for(receiver.arrived.wait(), 2)
    body, headers = receiver.received[0]
    assert _verified(body, headers) == "registration"
    event = parse_event(body)
    assert isinstance(event, RegistrationConfirmed) and event.id_number == p["id_number"]
    status = await GovClients.from_config(config).registration.get_status(p["id_number"])
    assert (
        status.registered and status.registration_no == event.registration_no and status.channel == "online"
    )
    again = await admin.post(f"/registration/{p['id_number']}/register-online")
    assert again.status_code == 409 and again.json()["error"]["code"] == "registration.exists"


async def test_callback_without_url_is_skipped(admin: httpx.AsyncClient) -> None:
    p = (await admin.get("/population", params={"scenario": "unregistered", "limit": 1})).json()["persons"][0]
    r = await admin.post(f"/registration/{p['id_number']}/register-online")
    assert r.status_code == 200 and r.json()["callback"]["delivered"] is False


async def test_locked_stop_reason_goes_through_a_ticket(
    sim: SimHandle, config: GovClientConfig, admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    gov = GovClients.from_config(config)
    p: dict[str, Any] = (
        await admin.post("/persons", json={"scenario": "voluntary_resignation", "record_locked": True})
    ).json()
    with pytest.raises(ExternalRefused) as e:
        await gov.insurance_record.change_stop_reason(
            p["id_number"],
            employer_credit_code=p["last_employer"],
            code="mutual_employer_initiated",
            basis_zh="终审通过：协商一致解除（单位提出）",
            operator_id="staff-03",
        )
    assert e.value.code == RECORD_LOCKED and "需求平台" in e.value.message_zh

    ticket_args: dict[str, Any] = dict(
        category="stop_reason_change",
        title_zh="停保原因后台变更",
        description_zh="终审通过，前台变更被拒绝，请后台修改停保原因为协商一致解除（单位提出）",
        submitted_by="staff-03",
        case_ref="dispute-150102-x-1",
        id_number=p["id_number"],
        employer_credit_code=p["last_employer"],
        requested_stop_reason="mutual_employer_initiated",
        idempotency_key="dispute-150102-x-1:ticket",
    )
    ticket = await gov.demand_platform.open_ticket(**ticket_args)
    assert ticket.status == "open"
    assert (await gov.demand_platform.open_ticket(**ticket_args)).ticket_id == ticket.ticket_id
    assert (await gov.demand_platform.get_ticket(ticket.ticket_id)).status == "open"

    r = await admin.post(
        f"/demand-platform/tickets/{ticket.ticket_id}/resolve",
        json={"engineer": "运维-王工", "resolution": "已修改"},
    )
    assert r.status_code == 200 and r.json()["callback"]["delivered"]
    body, headers = receiver.received[-1]
    assert _verified(body, headers) == "demand_platform"
    event = parse_event(body)
    assert isinstance(event, TicketResolved) and event.ticket_id == ticket.ticket_id
    assert event.status == "resolved" and event.case_ref == "dispute-150102-x-1"

    done = await gov.demand_platform.get_ticket(ticket.ticket_id)
    assert done.status == "resolved" and done.engineer == "运维-王工" and done.resolved_at
    reason = await gov.insurance_record.get_stop_reason(p["id_number"])
    assert reason.code == "mutual_employer_initiated" and reason.involuntary
    closed = await admin.post(f"/demand-platform/tickets/{ticket.ticket_id}/resolve")
    assert closed.status_code == 409


async def test_incomplete_stop_reason_ticket_is_refused(config: GovClientConfig) -> None:
    with pytest.raises(ExternalRefused) as e:
        await GovClients.from_config(config).demand_platform.open_ticket(
            category="stop_reason_change", title_zh="t", description_zh="d", submitted_by="s"
        )
    assert e.value.code == "ticket.incomplete"
