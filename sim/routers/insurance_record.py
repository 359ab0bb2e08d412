"""The insurance record system: the stop-insurance reason (停保原因) the employer reported, and
pension status. A change of stop reason may be refused (``record.locked``): then the agency has to
raise a ticket on the demand platform for an engineer to change it in the back end."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sim.catalogue import STOP_REASONS, stop_reason
from sim.deps import require_credit_code, require_person, system_guard
from sim.population import Person
from sim.state import SimError, SimState

router = APIRouter(prefix="/insurance-record", tags=["insurance-record"])
State = Annotated[SimState, Depends(system_guard("insurance-record"))]


def stop_reason_view(state: SimState, person: Person) -> dict[str, Any]:
    reason = stop_reason(person.stop_reason_code)
    employer = state.pop.employers.get(person.last_employer)
    return {
        "id_number": person.id_number,
        "employer_credit_code": person.last_employer,
        "employer_name": employer.name if employer else None,
        "code": reason.code,
        "label": reason.label,
        "involuntary": reason.involuntary,
        "stop_date": person.stop_date,
    }


def _check_employer(person: Person, employer: str | None) -> None:
    if employer is not None and require_credit_code(employer) != person.last_employer:
        raise SimError(404, "stop_record.not_found", "未查询到该人员在该单位的停保记录")


@router.get("/persons/{id_number}/stop-reason")
async def get_stop_reason(id_number: str, state: State, employer: str | None = None) -> dict[str, Any]:
    person = require_person(state, id_number)
    _check_employer(person, employer)
    return stop_reason_view(state, person)


class StopReasonChange(BaseModel):
    employer_credit_code: str
    code: str
    basis_zh: str = Field(
        min_length=1, max_length=500, description="变更依据，如解除劳动合同协议、仲裁裁决书"
    )
    operator_id: str = Field(min_length=1, max_length=64)
    case_ref: str | None = Field(default=None, max_length=128)


@router.put("/persons/{id_number}/stop-reason")
async def change_stop_reason(id_number: str, body: StopReasonChange, state: State) -> dict[str, Any]:
    person = require_person(state, id_number)
    _check_employer(person, body.employer_credit_code)
    if body.code not in STOP_REASONS:
        raise SimError(422, "stop_reason.unknown", "停保原因代码不存在")
    if state.record_locked(person.id_number):
        raise SimError(
            409,
            "record.locked",
            "该参保记录已锁定，前台无法变更停保原因，请通过金保工程软件需求平台提交运维工单",
        )
    person.stop_reason_code = body.code
    state.changed(person.id_number)
    return stop_reason_view(state, person)


@router.get("/persons/{id_number}/pension")
async def get_pension(id_number: str, state: State) -> dict[str, Any]:
    person = require_person(state, id_number)
    return {
        "id_number": person.id_number,
        "receiving": person.pension_receiving,
        "since": person.pension_since,
    }


@router.get("/stop-reasons")
async def list_stop_reasons(state: State) -> dict[str, Any]:
    """The code table, as the record system publishes it for front-end drop-downs."""
    return {
        "items": [
            {"code": r.code, "label": r.label, "involuntary": r.involuntary} for r in STOP_REASONS.values()
        ]
    }
