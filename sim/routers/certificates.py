"""The national skill-talent certificate query site (技能人才评价证书全国联网查询). A certificate that
cannot be found here does not count for the skill-upgrade subsidy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sim.deps import system_guard
from sim.state import SimError, SimState

router = APIRouter(prefix="/certificates", tags=["certificates"])
State = Annotated[SimState, Depends(system_guard("certificates"))]


@router.get("/{cert_no}")
async def get_certificate(cert_no: str, state: State) -> dict[str, Any]:
    cert = state.pop.certificates.get(cert_no.strip().upper())
    if cert is None:
        raise SimError(404, "certificate.not_found", "未在技能人才评价证书全国联网查询系统中查到该证书")
    return cert.model_dump(mode="json")
