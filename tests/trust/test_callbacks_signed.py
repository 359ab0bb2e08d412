"""Issue 12 item 6: government callbacks cannot be forged or replayed. Each system signs with its
own rotatable secret (never the outbound bearer token), over method, path, timestamp, nonce and
body; a request older than 5 minutes, a replayed nonce, or another system's event is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from activities.gov.callbacks import SIGNATURE_HEADER, signed_headers
from core.settings import DEV_CALLBACK_KEYS, Settings
from sim.state import DEFAULT_CALLBACK_KEYS
from sim.testing import SimHandle

CB = "/api/v1/callbacks/gov"
EVENT = json.dumps(
    {
        "event": "registration.confirmed",
        "id_number": "150102199001010019",
        "registration_no": "DJ-FORGED-1",
        "registered_on": "2020-01-01",
    }
).encode()
TICKET = json.dumps(
    {
        "event": "ticket.resolved",
        "ticket_id": "T-1",
        "status": "resolved",
        "resolved_at": "2026-01-01T00:00:00+08:00",
    }
).encode()


def _key(system: str) -> tuple[str, str]:
    return next(iter(Settings().callback_keyrings()[system].items()))


def _signed(
    system: str, body: bytes, *, path: str = CB, now: datetime | None = None, nonce: str | None = None
) -> dict[str, str]:
    kid, secret = _key(system)
    return signed_headers(system, kid, secret, "POST", path, body, now=now, nonce=nonce)


def test_simulators_and_uiflow_share_the_dev_callback_keys() -> None:
    assert DEFAULT_CALLBACK_KEYS == DEV_CALLBACK_KEYS


def test_prod_refuses_default_or_weak_callback_secrets() -> None:
    base = dict(
        mode="prod",
        database_url="postgresql+asyncpg://x/y",
        codec_keys="k:" + "A" * 43 + "=",
        jwt_secret="j" * 40,
        applicant_key_secret="a" * 40,
        applicant_oidc_issuer="https://idp.example.gov.cn",
        public_base_url="https://uiflow.example.gov.cn",
    )
    with pytest.raises(ValueError, match="UIFLOW_CALLBACK_KEYS_REGISTRATION"):
        Settings(**base, callback_keys_demand_platform="d1:" + "d" * 40)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="UIFLOW_CALLBACK_KEYS_DEMAND_PLATFORM"):
        Settings(**base, callback_keys_registration="r1:" + "r" * 40)  # type: ignore[arg-type]
    token = "t" * 40
    with pytest.raises(ValueError, match="not the token"):
        Settings(
            **base,  # type: ignore[arg-type]
            sim_token=token,
            callback_keys_registration=f"r1:{token}",
            callback_keys_demand_platform="d1:" + "d" * 40,
        )
    with pytest.raises(ValueError, match="UIFLOW_CALLBACK_KEYS_HOTLINE"):
        Settings(
            **base,  # type: ignore[arg-type]
            callback_keys_registration="r1:" + "r" * 40,
            callback_keys_demand_platform="d1:" + "d" * 40,
        )
    first_three = dict(
        callback_keys_registration="r2:" + "n" * 40 + ",r1:" + "r" * 40,
        callback_keys_demand_platform="d1:" + "d" * 40,
        callback_keys_hotline="h1:" + "h" * 40,
    )
    # the systems that push stop events (issue 14): each needs its own secrets too
    outside = {
        "contributions": "c1:" + "c" * 40,
        "insurance_record": "i1:" + "i" * 40,
        "civil_affairs": "m1:" + "m" * 40,
        "cross_province": "x1:" + "x" * 40,
    }
    for missing in outside:
        given = {f"callback_keys_{k}": v for k, v in outside.items() if k != missing}
        with pytest.raises(ValueError, match=f"UIFLOW_CALLBACK_KEYS_{missing.upper()}"):
            Settings(**base, **first_three, **given)  # type: ignore[arg-type]
    ok = Settings(
        **base,  # type: ignore[arg-type]
        **first_three,  # type: ignore[arg-type]
        **{f"callback_keys_{k}": v for k, v in outside.items()},
    )
    assert list(ok.callback_keyrings()["registration"]) == ["r2", "r1"]


async def test_forged_with_the_outbound_token_is_refused(case_api: httpx.AsyncClient, sim: SimHandle) -> None:
    """The old scheme: an HMAC of the body keyed with the bearer token sent on every outbound call."""
    old = hmac.new(sim.token.encode(), EVENT, hashlib.sha256).hexdigest()
    r = await case_api.post(CB, content=EVENT, headers={"X-Sim-Signature": old, SIGNATURE_HEADER: old})
    assert r.status_code == 401 and r.json()["error"]["code"] == "callback.signature"
    # the token as if it were the registration platform's callback key
    h = signed_headers("registration", "dev1", sim.token, "POST", CB, EVENT)
    r = await case_api.post(CB, content=EVENT, headers=h)
    assert r.status_code == 401


async def test_a_signed_callback_is_taken_once(case_api: httpx.AsyncClient) -> None:
    h = _signed("registration", EVENT)
    first = await case_api.post(CB, content=EVENT, headers=h)
    assert first.status_code == 200, first.text
    again = await case_api.post(CB, content=EVENT, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "callback.replayed"
    assert "重复" in again.json()["error"]["message"]


async def test_stale_or_future_timestamps_are_refused(case_api: httpx.AsyncClient) -> None:
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        h = _signed("registration", EVENT, now=datetime.now(UTC) + skew)
        r = await case_api.post(CB, content=EVENT, headers=h)
        assert r.status_code == 401 and r.json()["error"]["code"] == "callback.expired", r.text
    h = _signed("registration", EVENT, now=datetime.now(UTC) - timedelta(minutes=4))
    assert (await case_api.post(CB, content=EVENT, headers=h)).status_code == 200


async def test_signature_binds_path_body_and_system(case_api: httpx.AsyncClient) -> None:
    h = _signed("registration", EVENT, path="/api/v1/disputes/callbacks/ticket")
    assert (await case_api.post(CB, content=EVENT, headers=h)).status_code == 401
    h = _signed("registration", EVENT)
    assert (await case_api.post(CB, content=EVENT.replace(b"2020", b"2019"), headers=h)).status_code == 401
    h = {**_signed("registration", EVENT), "X-Callback-System": "demand_platform"}
    assert (await case_api.post(CB, content=EVENT, headers=h)).status_code == 401
    # the registration platform's key cannot report a ticket outcome
    r = await case_api.post(CB, content=TICKET, headers=_signed("registration", TICKET))
    assert r.status_code == 422 and r.json()["error"]["code"] == "callback.unsupported"
    raw = {k: v.encode() for k, v in _signed("registration", EVENT).items()}
    raw[SIGNATURE_HEADER] = "é".encode()  # a non-ASCII header is a refusal, not a 500
    r = await case_api.post(CB, content=EVENT, headers=raw)
    assert r.status_code == 400 and r.json()["error"]["code"] == "request.header"


async def test_ticket_callback_refuses_replays_too(case_api: httpx.AsyncClient) -> None:
    path = "/api/v1/disputes/callbacks/ticket"
    h = _signed("demand_platform", TICKET, path=path)
    first = await case_api.post(path, content=TICKET, headers=h)
    assert first.status_code in (200, 404), first.text  # no dispute behind the ticket: 404
    again = await case_api.post(path, content=TICKET, headers=h)
    assert again.status_code in (409, 404)
