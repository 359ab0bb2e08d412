"""The national cross-province benefit check: is this person already receiving unemployment benefit
in another province? Unknown people simply have no receipt, as on the national platform."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sim.catalogue import ELSEWHERE_PROVINCES
from sim.deps import require_id, system_guard
from sim.state import SimState

router = APIRouter(prefix="/cross-province", tags=["cross-province"])
State = Annotated[SimState, Depends(system_guard("cross-province"))]


@router.get("/persons/{id_number}")
async def check(id_number: str, state: State) -> dict[str, Any]:
    number = require_id(id_number)
    person = state.pop.persons.get(number)
    if person is None or not person.receiving_elsewhere or person.elsewhere_province_code is None:
        return {
            "id_number": number,
            "receiving_elsewhere": False,
            "province_code": None,
            "province": None,
            "period_start": None,
            "period_end": None,
        }
    return {
        "id_number": number,
        "receiving_elsewhere": True,
        "province_code": person.elsewhere_province_code,
        "province": ELSEWHERE_PROVINCES[person.elsewhere_province_code],
        "period_start": person.elsewhere_period_start,
        "period_end": person.elsewhere_period_end,
    }
