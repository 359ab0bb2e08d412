"""Contribution records (参保缴费记录): the cumulative months decide the benefit duration, the last
consecutive run feeds the risk rule on claims after fewer than 3 consecutive months."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sim.deps import require_person, system_guard
from sim.population import monthly_records
from sim.state import SimState

router = APIRouter(prefix="/contributions", tags=["contributions"])
State = Annotated[SimState, Depends(system_guard("contributions"))]


@router.get("/persons/{id_number}")
async def get_record(id_number: str, state: State) -> dict[str, Any]:
    person = require_person(state, id_number)
    employer = state.pop.employers.get(person.last_employer)
    return {
        "id_number": person.id_number,
        "insured_region": person.insured_region,
        "cumulative_months": person.cumulative_months,
        "last_consecutive_months": person.last_consecutive_months,
        "last_employer": {
            "credit_code": person.last_employer,
            "name": employer.name if employer else None,
        },
        "last_contribution_month": person.last_contribution_month,
        "retirement_category": person.retirement_category,
        "records": [r.model_dump(mode="json") for r in monthly_records(person, state.as_of)],
    }
