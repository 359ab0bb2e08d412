"""The control surface for tests, demos and benchmarks: faults, exact cases, the events that in
reality a person or an engineer causes (online registration, ticket resolution), and the ledgers
that prove exactly-once. No token: it is never exposed outside a development machine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from policy.identity import PROVINCE_CODES, IdentityError
from policy.regions import is_known_region
from sim.catalogue import CERTIFICATE_LEVELS, OCCUPATIONS, STOP_REASONS
from sim.clock import now_shanghai, today_shanghai
from sim.deps import deliver_callback, get_state, require_person
from sim.population import SCENARIO_WEIGHTS, PersonOverrides, TrainingSubsidy, person_view
from sim.routers.bank import ITEM_FAULTS
from sim.routers.demand_platform import ticket_view
from sim.routers.registration import register, status_of
from sim.state import SYSTEMS, FaultConfig, SimError

router = APIRouter(prefix="/admin", tags=["admin"])


# --- faults --------------------------------------------------------------------------------------


@router.put("/faults/{system}")
async def set_fault(system: str, body: FaultConfig, request: Request) -> dict[str, Any]:
    if system not in SYSTEMS and system not in ITEM_FAULTS:
        raise SimError(404, "system.unknown", f"不存在的系统：{system}")
    get_state(request).faults[system] = body
    return {"system": system, **body.model_dump()}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    return {k: v.model_dump() for k, v in get_state(request).faults.items()}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    get_state(request).faults.clear()
    return {"cleared": True}


@router.delete("/faults/{system}")
async def clear_fault(system: str, request: Request) -> dict[str, Any]:
    get_state(request).faults.pop(system, None)
    return {"cleared": system}


# --- state and configuration ---------------------------------------------------------------------


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    state = get_state(request)
    state.reset()
    return {"reset": True, "seed": state.seed, "population": len(state.pop.persons), "as_of": state.as_of}


class ConfigPatch(BaseModel):
    callback_url: str | None = None
    token: str | None = Field(default=None, min_length=8)
    record_locked_share: float | None = Field(default=None, ge=0.0, le=1.0)
    record_change_refused: bool | None = None
    bank_settle_seconds: float | None = Field(default=None, ge=0.0)


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    return get_state(request).config.model_dump()


@router.put("/config")
async def put_config(body: ConfigPatch, request: Request) -> dict[str, Any]:
    """Partial update: only the fields sent change (send ``"callback_url": ""`` to turn callbacks off)."""
    state = get_state(request)
    patch = body.model_dump(exclude_unset=True)
    if patch.get("callback_url") == "":
        patch["callback_url"] = None
    state.config = state.config.model_copy(update=patch)
    return state.config.model_dump()


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    state = get_state(request)
    return {
        "calls": {s: state.calls.get(s, 0) for s in SYSTEMS},
        "injected": dict(state.injected),
        "disbursements": len(state.disbursements),
        "premiums": len(state.premiums),
        "messages": len(state.messages),
        "tickets": len(state.tickets),
        "callbacks": len(state.callbacks),
    }


# --- population ----------------------------------------------------------------------------------


@router.get("/population")
async def population(
    request: Request, scenario: str | None = None, limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    state = get_state(request)
    if scenario is not None and scenario not in SCENARIO_WEIGHTS:
        raise SimError(422, "scenario.unknown", "场景名称不存在：" + "、".join(SCENARIO_WEIGHTS))
    people = [p for p in state.pop.persons.values() if scenario is None or p.scenario == scenario]
    page = people[max(offset, 0) : max(offset, 0) + max(min(limit, 1000), 0)]
    return {
        "total": len(people),
        "scenarios": list(SCENARIO_WEIGHTS),
        "persons": [person_view(p) for p in page],
    }


@router.get("/persons/{id_number}")
async def get_person(id_number: str, request: Request) -> dict[str, Any]:
    return person_view(require_person(get_state(request), id_number))


@router.post("/persons")
async def create_person(body: PersonOverrides, request: Request) -> dict[str, Any]:
    """An exact case for a test: the given attributes, the rest drawn as for the scenario."""
    state = get_state(request)
    if body.scenario not in SCENARIO_WEIGHTS:
        raise SimError(422, "scenario.unknown", "场景名称不存在")
    if body.id_region and not (
        len(body.id_region) == 6 and body.id_region.isdigit() and body.id_region[:2] in PROVINCE_CODES
    ):
        raise SimError(422, "id_region.invalid", "身份证签发地区码应为6位数字，且前两位为有效的省级代码")
    if body.insured_region and not is_known_region(body.insured_region):
        raise SimError(422, "region.invalid", "参保地区码不是内蒙古自治区现行行政区划代码")
    if body.last_employer and body.last_employer not in state.pop.employers:
        raise SimError(422, "employer.not_found", "指定的单位不存在")
    if body.stop_reason_code and body.stop_reason_code not in STOP_REASONS:
        raise SimError(422, "stop_reason.unknown", "停保原因代码不存在")
    try:
        person = state.builder.person(body)
        person.seeded = False
    except IdentityError as e:
        raise SimError(422, e.code, e.message_zh) from e
    return person_view(person)


class CertificateRequest(BaseModel):
    """A certificate for a person; the optional fields fix what a test needs (drawn otherwise)."""

    holder_id_number: str
    burst: bool = False
    occupation_code: str | None = None
    level: int | None = Field(default=None, ge=1, le=5)
    issued_on: date | None = None
    issuer: str | None = None
    issuer_region: str | None = None


@router.post("/certificates")
async def create_certificate(body: CertificateRequest, request: Request) -> dict[str, Any]:
    state = get_state(request)
    cert = state.builder.certificate(require_person(state, body.holder_id_number), burst=body.burst)
    if body.occupation_code is not None:
        names = dict(OCCUPATIONS)
        if body.occupation_code not in names:
            raise SimError(422, "occupation.unknown", "职业（工种）编码不存在")
        cert.occupation_code, cert.occupation = body.occupation_code, names[body.occupation_code]
    if body.level is not None:
        cert.level, cert.level_label = body.level, CERTIFICATE_LEVELS[body.level]
    cert.issued_on = body.issued_on or cert.issued_on
    cert.issuer = body.issuer or cert.issuer
    cert.issuer_region = body.issuer_region or cert.issuer_region
    return cert.model_dump(mode="json")


class TrainingSubsidyRequest(BaseModel):
    cert_no: str
    amount: Decimal = Decimal("1000")
    paid_on: date | None = None


@router.post("/training-subsidies")
async def create_training_subsidy(body: TrainingSubsidyRequest, request: Request) -> dict[str, Any]:
    """Record a 职业培训补贴 paid for a certificate (the double-funding check finds it)."""
    state = get_state(request)
    cert = state.pop.certificates.get(body.cert_no.strip().upper())
    if cert is None:
        raise SimError(422, "certificate.not_found", "证书不存在")
    paid = TrainingSubsidy(
        cert_no=cert.cert_no,
        holder_id_number=cert.holder_id_number,
        amount=body.amount,
        paid_on=body.paid_on or state.pop.as_of,
    )
    state.pop.training_subsidies[cert.cert_no] = paid
    return paid.model_dump(mode="json")


@router.get("/certificates")
async def list_certificates(request: Request, holder: str | None = None, limit: int = 20) -> dict[str, Any]:
    certs = [
        c
        for c in get_state(request).pop.certificates.values()
        if holder is None or c.holder_id_number == holder
    ]
    return {"total": len(certs), "certificates": [c.model_dump(mode="json") for c in certs[: max(limit, 0)]]}


# --- events a person or an engineer causes -------------------------------------------------------


class OnlineRegistration(BaseModel):
    registered_on: date | None = None


@router.post("/registration/{id_number}/register-online")
async def register_online(
    id_number: str, request: Request, body: OnlineRegistration | None = None
) -> dict[str, Any]:
    """The person registers on the online platform; the platform then tells our API."""
    state = get_state(request)
    person = require_person(state, id_number)
    if person.registered:
        raise SimError(409, "registration.exists", "该人员已办理失业登记")
    on = (body.registered_on if body else None) or today_shanghai()
    register(state, person, region=person.insured_region, on=on, channel="online")
    event = {
        "event": "registration.confirmed",
        "id_number": person.id_number,
        "registration_no": person.registration_no,
        "registered_on": on.isoformat(),
    }
    callback = await deliver_callback(state, event)
    return {"registration": status_of(person.id_number, person), "callback": _callback_view(callback)}


class TicketResolution(BaseModel):
    outcome: Literal["resolved", "rejected"] = "resolved"
    resolution: str = Field(default="已在后台完成停保原因变更", min_length=1, max_length=1000)
    engineer: str = Field(default="运维工程师", min_length=1, max_length=64)


@router.post("/demand-platform/tickets/{ticket_id}/resolve")
async def resolve_ticket(
    ticket_id: str, request: Request, body: TicketResolution | None = None
) -> dict[str, Any]:
    """An engineer closes the ticket. For a stop-reason change that is resolved, the change is made
    in the back end, past any lock, as the notice describes."""
    state = get_state(request)
    body = body or TicketResolution()
    t = state.tickets.get(ticket_id)
    if t is None:
        raise SimError(404, "ticket.not_found", "工单不存在")
    if t.status != "open":
        raise SimError(409, "ticket.closed", "工单已办结")
    t.status = body.outcome
    t.resolution = body.resolution
    t.engineer = body.engineer
    t.resolved_at = now_shanghai()
    if (
        body.outcome == "resolved"
        and t.category == "stop_reason_change"
        and t.id_number in state.pop.persons
        and t.requested_stop_reason in STOP_REASONS
    ):
        state.pop.persons[t.id_number].stop_reason_code = t.requested_stop_reason  # type: ignore[index]
        state.changed(t.id_number)  # type: ignore[arg-type]
    event = {
        "event": "ticket.resolved",
        "ticket_id": t.ticket_id,
        "status": t.status,
        "resolution": t.resolution,
        "engineer": t.engineer,
        "case_ref": t.case_ref,
        "resolved_at": t.resolved_at.isoformat(),
    }
    callback = await deliver_callback(state, event)
    return {"ticket": ticket_view(t), "callback": _callback_view(callback)}


def _callback_view(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("url", "delivered", "attempts", "status")}


@router.get("/callbacks")
async def callbacks(request: Request) -> dict[str, Any]:
    return {"callbacks": get_state(request).callbacks}


# --- ledgers -------------------------------------------------------------------------------------


@router.get("/bank/ledger")
async def bank_ledger(request: Request) -> dict[str, Any]:
    state = get_state(request)
    per_key: dict[str, int] = {}
    for e in state.ledger:
        per_key[e.idempotency_key] = per_key.get(e.idempotency_key, 0) + 1
    return {
        "count": len(state.ledger),
        "total": sum((e.amount for e in state.ledger), Decimal("0.00")),
        "payments_per_key": per_key,
        "entries": [e.model_dump(mode="json") for e in state.ledger],
    }


@router.get("/notifier/messages")
async def notifier_messages(request: Request, case_ref: str | None = None) -> dict[str, Any]:
    msgs = [m for m in get_state(request).messages if case_ref is None or m.case_ref == case_ref]
    return {"count": len(msgs), "messages": [m.model_dump(mode="json") for m in msgs]}


@router.get("/medical/premiums")
async def medical_premiums(request: Request, id_number: str | None = None) -> dict[str, Any]:
    items = [p for p in get_state(request).premiums.values() if id_number is None or p.id_number == id_number]
    return {"count": len(items), "premiums": [p.model_dump(mode="json") for p in items]}


class SelfPaymentBody(BaseModel):
    id_number: str
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)


@router.post("/medical/self-payments")
async def add_self_payment(body: SelfPaymentBody, request: Request) -> dict[str, Any]:
    """A month the person paid himself as a flexible worker (the receipt he brings to the counter);
    the medical system then refuses the agency's payment for that month (already insured)."""
    state = get_state(request)
    person = require_person(state, body.id_number)
    state.self_payments.setdefault(person.id_number, {})[body.month] = str(body.amount)
    state.save()
    return {"id_number": person.id_number, "month": body.month, "amount": str(body.amount)}


# --- what the risk scans read (issue 16) ---------------------------------------------------------


@router.get("/risk-facts")
async def risk_facts(request: Request) -> dict[str, Any]:
    """The population as the agency's scans see it across systems: who claimed and receives, the
    contribution runs and any contributions after the benefit began, pension and civil-affairs
    records, and the contact details the claims gave; employers with their insured headcount. A
    stand-in for the joins the real scans make over the contribution, pension and civil-affairs
    systems; development only (like every /admin route)."""
    state = get_state(request)
    as_of = state.as_of
    out = []
    for p in state.pop.persons.values():
        after: list[str] = []
        if p.reemployed_month:
            m = p.reemployed_month
            while m <= f"{as_of.year:04d}-{as_of.month:02d}":
                after.append(m)
                y, mo = int(m[:4]), int(m[5:])
                m = f"{y + (mo == 12):04d}-{mo % 12 + 1:02d}"
        out.append(
            {
                "id_number": p.id_number,
                "employer": p.last_employer,
                "region": p.insured_region,
                "stop_date": p.stop_date.isoformat(),
                "consecutive_months": p.last_consecutive_months,
                "claimed": p.registered,
                "benefit_since": p.benefit_since.isoformat() if p.benefit_since else None,
                "receiving_elsewhere": p.receiving_elsewhere,
                "elsewhere_province": p.elsewhere_province_code,
                "pension_since": p.pension_since.isoformat() if p.pension_since else None,
                "died_on": p.died_on.isoformat() if p.died_on else None,
                "contribution_months_after": after,
                "phone": p.phone,
                "account": p.account_no,
                "address": p.address,
                "agent": p.agent,
                "scenario": p.scenario,
            }
        )
    employers = [
        {"code": e.credit_code, "headcount": e.insured_headcount} for e in state.pop.employers.values()
    ]
    return {
        "as_of": as_of.isoformat(),
        "persons": out,
        "employers": employers,
        "anomalies": state.pop.anomalies,
    }
