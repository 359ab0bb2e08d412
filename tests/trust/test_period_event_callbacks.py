"""Issue 14 item 2: the systems that learn of a stop condition push signed events the same way as
every government system (their own rotatable key ring, signature over method, path, timestamp,
nonce and body hash, 5 minutes, nonce once). A forged, stale or replayed event, or one a system
may not send, is refused before it touches a case; an event about nobody with an open period is
recorded and answered with a stable code; the same event again acts on nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import select

from activities.gov.callbacks import signed_headers
from core.applicant import applicant_key
from core.db import Database
from core.settings import Settings
from models.tables import AuditLog, PeriodEvent
from sim.testing import SimHandle
from tests.factories import sim_person

CB = "/api/v1/callbacks/gov"


def _body(id_number: str, event_id: str, event: str = "person.reemployed") -> bytes:
    return json.dumps(
        {"event": event, "event_id": event_id, "id_number": id_number, "on": "2026-01-05"}
    ).encode()


def _signed(
    system: str, body: bytes, *, now: datetime | None = None, nonce: str | None = None
) -> dict[str, str]:
    kid, secret = next(iter(Settings().callback_keyrings()[system].items()))
    return signed_headers(system, kid, secret, "POST", CB, body, now=now, nonce=nonce)


async def test_refusals_before_anything_is_acted_on(case_api: httpx.AsyncClient, sim: SimHandle) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible")
    body = _body(person["id_number"], "ev-refusals-1")
    # signed with another system's key, or with a wrong secret
    h = signed_headers("contributions", "dev1", "not-the-contributions-secret-" + "z" * 20, "POST", CB, body)
    r = await case_api.post(CB, content=body, headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "callback.signature"
    h = {**_signed("civil_affairs", body), "X-Callback-System": "contributions"}
    assert (await case_api.post(CB, content=body, headers=h)).status_code == 401
    # the body changed after signing
    h = _signed("contributions", body)
    r = await case_api.post(CB, content=body.replace(b"2026-01-05", b"2026-01-04"), headers=h)
    assert r.status_code == 401
    # stale
    h = _signed("contributions", body, now=datetime.now(UTC) - timedelta(minutes=6))
    r = await case_api.post(CB, content=body, headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "callback.expired"
    # civil affairs may report a death, not a re-employment
    r = await case_api.post(CB, content=body, headers=_signed("civil_affairs", body))
    assert r.status_code == 422 and r.json()["error"]["code"] == "callback.unsupported"
    # a malformed ID number: a refusal with a code, not a 500
    bad = _body("150102199001010010", "ev-refusals-2")
    r = await case_api.post(CB, content=bad, headers=_signed("contributions", bad))
    assert r.status_code == 422 and r.json()["error"]["code"] == "id_number.invalid"


async def test_unknown_person_is_recorded_and_a_replay_or_resend_acts_on_nothing(
    case_api: httpx.AsyncClient, pg_db: Database, settings: Settings, sim: SimHandle
) -> None:
    person = await sim_person(sim.base_url, sim.token, scenario="eligible")
    body = _body(person["id_number"], "ev-unknown-1", event="person.died")
    h = _signed("civil_affairs", body)
    first = await case_api.post(CB, content=body, headers=h)
    assert first.status_code == 404, first.text
    assert first.json()["error"]["code"] == "period_event.no_open_period"
    assert "Traceback" not in first.text and person["id_number"] not in first.text
    # the same signed request again: a replay
    again = await case_api.post(CB, content=body, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "callback.replayed"
    # the system sends the same event again (a new nonce): the recorded answer, nothing new
    resent = await case_api.post(CB, content=body, headers=_signed("civil_affairs", body))
    assert resent.status_code == 404 and resent.json()["error"]["code"] == "period_event.no_open_period"
    key = applicant_key(settings, person["id_number"])
    async with pg_db.session() as s:
        rows = (await s.exec(select(PeriodEvent).where(PeriodEvent.applicant_key == key))).all()
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "period_event.unmatched"))).all()
    assert [(r.system, r.event_id, r.status, r.case_id) for r in rows] == [
        ("civil_affairs", "ev-unknown-1", "no_open_period", None)
    ]
    assert any(a.detail.get("event_id") == "ev-unknown-1" for a in audit)
    assert all(person["id_number"] not in json.dumps(a.detail, ensure_ascii=False) for a in audit)
