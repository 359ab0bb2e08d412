"""What every simulated system shares: the token check, fault injection, call counting, error
rendering and lookups with the systems' own refusal codes.

Faults are injected *after* the token check, so a test of the 401 path is never disturbed by an
error rate, and *before* the handler runs, so an injected error or timeout never changes state
(as with a real gateway that fails in front of the service).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import Request

from policy.identity import IdentityError, parse_resident_id, validate_credit_code
from sim.clock import now_shanghai
from sim.population import Person
from sim.state import SimError, SimState


def get_state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def system_guard(system: str) -> Callable[[Request], Awaitable[SimState]]:
    """A dependency for one system's router: check the bearer token, count the call, inject faults."""

    async def guard(request: Request) -> SimState:
        state = get_state(request)
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {state.config.token}".encode()):
            raise SimError(401, "auth.unauthorized", "缺少或无效的接口访问令牌，请检查授权配置")
        state.calls[system] += 1
        await apply_faults(state, system)
        return state

    return guard


async def apply_faults(state: SimState, system: str) -> None:
    fault = state.faults.get(system)
    if fault is None:
        return
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    rng = state.fault_rng
    if fault.timeout_rate and rng.random() < fault.timeout_rate:
        state.injected[f"{system}.timeout"] += 1
        await asyncio.sleep(fault.hang_seconds)
        raise SimError(504, "system.timeout", "系统处理超时，请稍后再试")
    if fault.error_rate and rng.random() < fault.error_rate:
        state.injected[f"{system}.error"] += 1
        raise SimError(503, "system.unavailable", "系统繁忙，暂时无法处理，请稍后再试")
    if fault.refuse_rate and rng.random() < fault.refuse_rate:
        state.injected[f"{system}.refuse"] += 1
        raise SimError(fault.refuse_status, fault.refuse_code, "业务系统拒绝受理该请求")


def require_id(id_number: str) -> str:
    try:
        return parse_resident_id(id_number).number
    except IdentityError as e:
        raise SimError(422, "id_number.invalid", e.message_zh) from e


def require_credit_code(code: str) -> str:
    try:
        return validate_credit_code(code)
    except IdentityError as e:
        raise SimError(422, "credit_code.invalid", e.message_zh) from e


def require_person(state: SimState, id_number: str) -> Person:
    person = state.pop.persons.get(require_id(id_number))
    if person is None:
        raise SimError(404, "person.not_found", "未查询到该人员的参保信息")
    return person


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over method, path, timestamp, nonce and the body's SHA-256, keyed with the
    sending system's callback secret. Kept separate from the clients' ``activities.gov.callbacks``
    on purpose: two implementations agreeing is part of the test."""
    digest = hashlib.sha256(body).hexdigest()
    msg = f"{method}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


# The events of the systems that learn of a stop condition, and the key ring that signs each.
PERSON_EVENT_SYSTEMS = {
    "person.reemployed": "contributions",
    "person.pension_started": "insurance_record",
    "person.died": "civil_affairs",
    "person.benefit_elsewhere": "cross_province",
}


def system_of(event: dict[str, Any]) -> str:
    name = str(event.get("event", ""))
    if name in PERSON_EVENT_SYSTEMS:
        return PERSON_EVENT_SYSTEMS[name]
    if name.startswith("hotline."):
        return "hotline"
    return "demand_platform" if name.startswith("ticket.") else "registration"


def callback_headers(state: SimState, event: dict[str, Any], url: str, body: bytes) -> dict[str, str]:
    """Signed with the sending system's first callback key, a fresh nonce and the current time."""
    system = system_of(event)
    kid, _, secret = state.config.callback_keys.get(system, "").partition(",")[0].partition(":")
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    path = urlsplit(url).path or "/"
    return {
        "X-Callback-System": system,
        "X-Callback-Key-Id": kid,
        "X-Callback-Timestamp": timestamp,
        "X-Callback-Nonce": nonce,
        "X-Callback-Signature": sign(secret, "POST", path, timestamp, nonce, body),
    }


async def deliver_callback(state: SimState, event: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """POST a signed event to the configured callback URL, retrying a little as a real platform
    would (the same signed request: a retry of a delivery whose answer was lost is refused as a
    replay by a receiver that took it). The outcome is logged in state and returned, never raised:
    the admin call that caused the event has still happened, whether or not our API was listening."""
    url = url or state.config.callback_url
    record: dict[str, Any] = {"event": event, "url": url, "delivered": False, "attempts": 0, "status": None}
    if not url:
        record["skipped"] = True
        state.callbacks.append(record)
        return record
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        **callback_headers(state, event, url, body),
        "X-Request-Id": uuid.uuid4().hex,
    }
    async with httpx.AsyncClient(timeout=5.0) as client:
        for attempt in range(1, 4):
            record["attempts"] = attempt
            try:
                resp = await client.post(url, content=body, headers=headers)
                record["status"] = resp.status_code
                if resp.status_code < 300:
                    record["delivered"] = True
                    break
                if 400 <= resp.status_code < 500:
                    break
            except httpx.HTTPError as e:
                record["status"] = type(e).__name__
            await asyncio.sleep(0.05 * attempt)
    record["at"] = now_shanghai().isoformat()
    state.callbacks.append(record)
    return record
