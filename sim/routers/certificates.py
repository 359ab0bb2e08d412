"""The national skill-talent certificate query site (技能人才评价证书全国联网查询). A certificate that
cannot be found here does not count for the skill-upgrade subsidy."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sim.deps import system_guard
from sim.state import SimError, SimState

router = APIRouter(prefix="/certificates", tags=["certificates"])
State = Annotated[SimState, Depends(system_guard("certificates"))]


@router.get("/register")
async def issuance_register(state: State, issued_from: date, issued_to: date) -> dict[str, Any]:
    """The certificates issued in a period, by issuer and place (no holder data): the skill-appraisal
    register the anomaly rules read (one body issuing many certificates in a short time)."""
    items = [
        {
            "cert_no": c.cert_no,
            "issuer": c.issuer,
            "issuer_region": c.issuer_region,
            "issued_on": c.issued_on.isoformat(),
            "occupation_code": c.occupation_code,
            "level": c.level,
        }
        for c in state.pop.certificates.values()
        if issued_from <= c.issued_on <= issued_to
    ]
    return {"total": len(items), "certificates": items}


@router.get("/{cert_no}")
async def get_certificate(cert_no: str, state: State) -> dict[str, Any]:
    cert = state.pop.certificates.get(cert_no.strip().upper())
    if cert is None:
        raise SimError(404, "certificate.not_found", "未在技能人才评价证书全国联网查询系统中查到该证书")
    return cert.model_dump(mode="json")
