"""The unemployment-registration platform (失业登记). Until the region's employment cloud platform
offers a combined interface, the agency can only *ask* whether someone is registered, and staff can
register a person at the counter; online registration is the person's own act (see the admin
endpoint that simulates it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from policy.regions import is_known_region
from sim.clock import today_shanghai
from sim.deps import require_id, require_person, system_guard
from sim.population import Person
from sim.state import SimError, SimState

router = APIRouter(prefix="/registration", tags=["registration"])
State = Annotated[SimState, Depends(system_guard("registration"))]


def status_of(id_number: str, person: Person | None) -> dict[str, Any]:
    if person is None or not person.registered:
        return {
            "id_number": id_number,
            "registered": False,
            "registered_on": None,
            "registration_no": None,
            "region": None,
            "channel": None,
        }
    return {
        "id_number": person.id_number,
        "registered": True,
        "registered_on": person.registered_on,
        "registration_no": person.registration_no,
        "region": person.insured_region,
        "channel": person.registration_channel,
    }


def register(
    state: SimState, person: Person, *, region: str, on: date, channel: Literal["online", "counter"]
) -> None:
    if person.pension_receiving:
        raise SimError(409, "registration.pension", "该人员已领取基本养老金，不能办理失业登记")
    person.registered = True
    person.registered_on = on
    person.registration_no = state.builder.next_registration_no(region, on)
    person.registration_channel = channel
    state.changed(person.id_number)


@router.get("/persons/{id_number}")
async def get_status(id_number: str, state: State) -> dict[str, Any]:
    number = require_id(id_number)
    return status_of(number, state.pop.persons.get(number))


class CounterRegistration(BaseModel):
    id_number: str
    name: str = Field(min_length=1, max_length=50)
    region: str
    operator_id: str = Field(min_length=1, max_length=64)
    registered_on: date | None = None


@router.post("/registrations")
async def register_at_counter(body: CounterRegistration, state: State) -> dict[str, Any]:
    """Staff register the person on the spot. Registering someone already registered returns the
    existing registration, so a retried call is harmless."""
    person = require_person(state, body.id_number)
    if not is_known_region(body.region):
        raise SimError(422, "region.invalid", "登记地区码不是内蒙古自治区现行行政区划代码")
    if person.name != body.name.strip():
        raise SimError(422, "person.name_mismatch", "姓名与身份证号码登记信息不一致")
    if not person.registered:
        register(
            state, person, region=body.region, on=body.registered_on or today_shanghai(), channel="counter"
        )
        person.insured_region = person.insured_region or body.region
        state.changed(person.id_number)
    return status_of(person.id_number, person)
