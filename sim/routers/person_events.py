"""What the systems that learn of a stop condition know and tell (issue 14 item 2): new
contributions (re-employment), the pension record, civil affairs (deaths), the national
cross-province platform (a benefit in another province).

Two ways out, as with the real systems: each pushes a signed event to the agency's callback URL
when it learns of one (``POST /admin/person-events/{event}`` makes the fact and sends it), and
each answers a bulk question before each pay day (``POST /<system>/stop-checks``: many people in
one call, ID numbers in the body only, never in a path). The event id is derived from the fact,
so the pushed event and the same fact found by the re-check carry the same id."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sim.catalogue import ELSEWHERE_PROVINCES
from sim.deps import deliver_callback, get_state, require_id, require_person, system_guard
from sim.population import Person
from sim.state import SimState

EventName = Literal["person.reemployed", "person.pension_started", "person.died", "person.benefit_elsewhere"]


def event_id(event: str, id_number: str, on: date) -> str:
    return "ev-" + hashlib.sha256(f"{event}|{id_number}|{on.isoformat()}".encode()).hexdigest()[:24]


class CheckItem(BaseModel):
    id_number: str
    since: date  # the benefit period's start: facts from before it are the old job's


class CheckRequest(BaseModel):
    items: list[CheckItem] = Field(max_length=1000)


def _reemployed(p: Person, since: date) -> date | None:
    on = p.reemployed_on or (date.fromisoformat(p.reemployed_month + "-01") if p.reemployed_month else None)
    return on if on is not None and on >= since else None


def _pension(p: Person, since: date) -> date | None:
    return p.pension_since if p.pension_receiving and p.pension_since else None


def _died(p: Person, since: date) -> date | None:
    return p.died_on


def _elsewhere(p: Person, since: date) -> date | None:
    if not p.receiving_elsewhere or p.elsewhere_period_start is None:
        return None
    if p.elsewhere_period_end is not None and p.elsewhere_period_end < since:
        return None
    return max(p.elsewhere_period_start, since)


FACTS = {
    "person.reemployed": _reemployed,
    "person.pension_started": _pension,
    "person.died": _died,
    "person.benefit_elsewhere": _elsewhere,
}


def _check_router(system: str, prefix: str, event: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[system])
    guard = Depends(system_guard(system))

    @router.post("/stop-checks", name=f"{system}_stop_checks")
    async def stop_checks(body: CheckRequest, state: SimState = guard) -> dict[str, Any]:
        """For each person: the event this system knows of since the date, or none."""
        results = []
        for item in body.items:
            number = require_id(item.id_number)
            person = state.pop.persons.get(number)
            on = FACTS[event](person, item.since) if person is not None else None
            results.append(
                {
                    "id_number": number,
                    "event": None
                    if on is None
                    else {"event": event, "event_id": event_id(event, number, on), "on": on.isoformat()},
                }
            )
        return {"results": results}

    return router


routers = [
    _check_router("contributions", "/contributions", "person.reemployed"),
    _check_router("insurance-record", "/insurance-record", "person.pension_started"),
    _check_router("civil-affairs", "/civil-affairs", "person.died"),
    _check_router("cross-province", "/cross-province", "person.benefit_elsewhere"),
]


# --- the control surface: make the fact, and the system pushes it ------------------------------------

admin_router = APIRouter(prefix="/admin", tags=["admin"])


class PersonEventRequest(BaseModel):
    id_number: str
    on: date
    province_code: str | None = None  # person.benefit_elsewhere (default: the first listed)
    deliver: bool = True  # False: only the fact (the re-check will find it)


@admin_router.post("/person-events/{event}")
async def person_event(event: EventName, body: PersonEventRequest, request: Request) -> dict[str, Any]:
    """The system learns of the fact (the person is changed accordingly) and pushes the signed
    event to the configured callback URL."""
    state = get_state(request)
    p = require_person(state, body.id_number)
    detail = None
    if event == "person.reemployed":
        p.reemployed_on, p.reemployed_month = body.on, f"{body.on:%Y-%m}"
    elif event == "person.pension_started":
        p.pension_receiving, p.pension_since = True, body.on
    elif event == "person.died":
        p.died_on = body.on
    else:
        code = body.province_code or next(iter(ELSEWHERE_PROVINCES))
        p.receiving_elsewhere, p.elsewhere_province_code = True, code
        p.elsewhere_period_start, p.elsewhere_period_end = body.on, body.on + timedelta(days=365)
        detail = ELSEWHERE_PROVINCES.get(code)
    state.changed(p.id_number)
    payload = {
        "event": event,
        "event_id": event_id(event, p.id_number, body.on),
        "id_number": p.id_number,
        "on": body.on.isoformat(),
        "detail": detail,
    }
    if not body.deliver:
        return {"event_id": payload["event_id"], "callback": None}
    record = await deliver_callback(state, payload)
    return {
        "event_id": payload["event_id"],
        "callback": {k: record.get(k) for k in ("url", "delivered", "attempts", "status")},
    }
