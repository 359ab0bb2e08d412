"""Outside events that stop a benefit period (issue 14 item 2), on the API's side.

The systems push them to the one signed government callback (``POST /api/v1/callbacks/gov``:
the system's own key ring, signature over method, path, timestamp, nonce and body hash, 5-minute
window, nonce once; ``api/routes/callbacks.py``), which hands a verified ``PersonEvent`` here:
the ID number becomes the applicant key (never logged), the person's open period is found, and
``activities.period_events.OutsideStops`` stops its rows, opens the recoveries, records, audits
and signals the period's ``stop_event``. An event about nobody with an open period is recorded and
answered 404 ``period_event.no_open_period``; the same event again (its id, a new nonce) is
answered from the record and acts on nothing.

Supervisors list what arrived for their region (``GET /api/v1/period-events/{region}``): stops
with their months and amounts to recover, and the people the re-check held because a system did
not answer."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.gov.callbacks import PersonEvent
from activities.period_events import OutsideStops, open_period_of
from api.deps import ensure_region, get_session
from api.errors import ApiError
from api.params import RegionPath
from api.principals import SupervisorView
from core.applicant import applicant_key
from core.settings import Settings
from models.case import local_date
from models.period_events import OutsideEventType, PeriodEventStatus
from models.tables import PeriodEvent
from policy.identity import IdentityError, parse_resident_id
from policy.regions import is_within

router = APIRouter(prefix="/api/v1/period-events", tags=["period-events"])
log = logging.getLogger("uiflow.period_events")


class PersonEventAck(BaseModel):
    event: str
    event_id: str
    delivered_to: int
    duplicate: bool = False
    case_id: str | None = None
    effective_from: str | None = None
    recovery_months: list[str] = []
    recovery_amount: Decimal = Decimal("0")


def _ack(row: PeriodEvent, *, duplicate: bool) -> PersonEventAck:
    if row.status == PeriodEventStatus.NO_OPEN_PERIOD.value:
        raise ApiError(404, "period_event.no_open_period", "未找到该人员正在发放的失业保险金案件，事件已记录")
    return PersonEventAck(
        event=row.event_type,
        event_id=row.event_id,
        delivered_to=1,
        duplicate=duplicate,
        case_id=row.case_id,
        effective_from=row.effective_from,
        recovery_months=list(row.recovery_months),
        recovery_amount=row.recovery_amount,
    )


async def deliver_person_event(
    event: PersonEvent, session: AsyncSession, settings: Settings, client: Client
) -> PersonEventAck:
    """Act on a verified event (its nonce is in ``session``, committed here with the effects)."""
    etype = OutsideEventType(event.event)
    try:
        number = parse_resident_id(event.id_number).number
    except IdentityError:
        await session.commit()  # the nonce: the same signed request is not taken again
        raise ApiError(422, "id_number.invalid", "事件中的身份证号码格式或校验码不正确") from None
    if event.on > local_date(datetime.now(UTC)):  # Beijing's date: UTC's lags it until 08:00
        await session.commit()
        raise ApiError(422, "period_event.future", "事件发生日期不能晚于今天")
    stops = OutsideStops(settings)
    seen = await stops.find(session, etype.system, event.event_id)
    if seen is not None:
        await session.commit()
        return _ack(seen, duplicate=True)
    key = applicant_key(settings, number)
    case = await open_period_of(session, key)
    if case is None:
        row = await stops.record_unmatched(
            session,
            system=etype.system,
            event_id=event.event_id,
            etype=etype,
            key=key,
            on=event.on,
            source="push",
        )
        await session.commit()
        log.info("outside event %s: no open period", etype.value)
        return _ack(row, duplicate=False)
    done = await stops.apply(
        session,
        client,
        case,
        system=etype.system,
        event_id=event.event_id,
        etype=etype,
        on=event.on,
        source="push",
    )
    await session.commit()
    return _ack(done.event, duplicate=False)


class PeriodEventView(BaseModel):
    system: str
    event_id: str
    event_type: str
    source: str
    status: str
    status_label: str
    occurred_on: date | None
    case_id: str | None
    region_code: str | None
    effective_from: str | None
    recovery_months: list[str]
    recovery_amount: Decimal
    note: str
    payday_id: str | None
    received_at: datetime


@router.get("/{region_code}", response_model=list[PeriodEventView], summary="外部停发事件与发放前核查结果")
async def list_period_events(
    region_code: RegionPath,
    staff: SupervisorView,
    session: Annotated[AsyncSession, Depends(get_session)],
    status: Annotated[PeriodEventStatus | None, Query(description="只看某一处理结果")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PeriodEventView]:
    """本地区收到的外部停发事件（再就业、领取养老金、死亡、外省领取）：停发月份、应追回月份和金额；
    以及发放前核查时因外部系统无法查询而暂缓发放的人员。"""
    ensure_region(staff, region_code)
    prefix = region_code
    while prefix.endswith("00"):
        prefix = prefix[:-2]
    q = select(PeriodEvent).where(col(PeriodEvent.region_code).startswith(prefix))
    if status is not None:
        q = q.where(PeriodEvent.status == status.value)
    found = (await session.exec(q.order_by(col(PeriodEvent.received_at).desc()).limit(limit * 2))).all()
    rows = [r for r in found if r.region_code and is_within(region_code, r.region_code)][:limit]
    return [
        PeriodEventView(
            system=r.system,
            event_id=r.event_id,
            event_type=r.event_type,
            source=r.source,
            status=r.status,
            status_label=PeriodEventStatus(r.status).label_zh,
            occurred_on=r.occurred_on,
            case_id=r.case_id,
            region_code=r.region_code,
            effective_from=r.effective_from,
            recovery_months=list(r.recovery_months),
            recovery_amount=r.recovery_amount,
            note=r.note_zh,
            payday_id=r.payday_id,
            received_at=r.received_at,
        )
        for r in rows
    ]
