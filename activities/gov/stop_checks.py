"""Clients for the bulk question each system that learns of a stop condition answers before a pay
day (``POST /<system>/stop-checks``): many people per call, ID numbers in the body only (a path is
logged by every proxy on the way). One subclass per system, so logs and faults name the system."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from activities.gov.base import GovClient, GovClientConfig, GovModel
from models.period_events import OutsideEventType


class FoundEvent(GovModel):
    event: OutsideEventType
    event_id: str
    on: date


class CheckAnswer(GovModel):
    id_number: str
    event: FoundEvent | None = None


class _CheckAnswers(GovModel):
    results: list[CheckAnswer]


class StopCheckClient(GovClient):
    prefix: ClassVar[str] = ""
    event: ClassVar[OutsideEventType]

    async def check(self, items: list[tuple[str, date]]) -> dict[str, FoundEvent | None]:
        """(ID number, since) pairs → the event the system knows of for each, or None."""
        body = {"items": [{"id_number": n, "since": d.isoformat()} for n, d in items]}
        answer = await self._call("POST", f"{self.prefix}/stop-checks", _CheckAnswers, json=body)
        return {a.id_number: a.event for a in answer.results}


class ReemploymentCheck(StopCheckClient):
    system = "contributions"
    prefix = "/contributions"
    event = OutsideEventType.REEMPLOYED


class PensionCheck(StopCheckClient):
    system = "insurance-record"
    prefix = "/insurance-record"
    event = OutsideEventType.PENSION


class DeathCheck(StopCheckClient):
    system = "civil-affairs"
    prefix = "/civil-affairs"
    event = OutsideEventType.DEATH


class ElsewhereCheck(StopCheckClient):
    system = "cross-province"
    prefix = "/cross-province"
    event = OutsideEventType.BENEFIT_ELSEWHERE


SYSTEM_ZH = {
    "contributions": "参保缴费记录系统",
    "insurance-record": "养老保险记录系统",
    "civil-affairs": "民政殡葬信息系统",
    "cross-province": "全国跨省待遇比对平台",
}


def stop_checks(config: GovClientConfig) -> list[StopCheckClient]:
    return [c(config) for c in (ReemploymentCheck, PensionCheck, DeathCheck, ElsewhereCheck)]
