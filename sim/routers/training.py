"""The vocational-training subsidy system (职业培训补贴): whether a certificate was already funded
by a training subsidy, so the skill-upgrade subsidy is not paid twice for it (domain.md E1)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sim.deps import system_guard
from sim.state import SimError, SimState

router = APIRouter(prefix="/training-subsidies", tags=["training"])
State = Annotated[SimState, Depends(system_guard("training"))]


@router.get("/{cert_no}")
async def get_training_subsidy(cert_no: str, state: State) -> dict[str, Any]:
    paid = state.pop.training_subsidies.get(cert_no.strip().upper())
    if paid is None:
        raise SimError(404, "training_subsidy.not_found", "该证书未享受职业培训补贴")
    return paid.model_dump(mode="json")
