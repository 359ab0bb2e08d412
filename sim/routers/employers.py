"""Employer registry (参保单位信息): the insured headcount feeds the risk rule on a high ratio of
claimants to an employer's insured staff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sim.deps import require_credit_code, system_guard
from sim.state import SimError, SimState

router = APIRouter(prefix="/employers", tags=["employers"])
State = Annotated[SimState, Depends(system_guard("employers"))]


@router.get("/{credit_code}")
async def get_employer(credit_code: str, state: State) -> dict[str, Any]:
    employer = state.pop.employers.get(require_credit_code(credit_code))
    if employer is None:
        raise SimError(404, "employer.not_found", "未查询到该参保单位")
    return employer.model_dump(mode="json")
