"""Outside events that stop a benefit period (issue 14 item 2): what the systems that learn of
them push (a signed callback) and answer when asked before each pay day (the re-check), and the
shapes the re-check exchanges with its activities.

Four systems, one event each (社保法 Art. 51; 经办条例 Art. 25–26; domain.md A5, A8): new
contributions mean re-employment; the pension record a pension; civil affairs a death; the
national cross-province platform a benefit in another province. Each names the person by the
number both sides hold (the citizen ID number, which is the social-security number), in the
signed body only: never in a URL, a log line, a workflow id or a history (the re-check's history
carries case ids and counts)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from models.benefit import StopReason


class OutsideEventType(StrEnum):
    """The event, the system that sends it, and why the period stops."""

    REEMPLOYED = "person.reemployed"
    PENSION = "person.pension_started"
    DEATH = "person.died"
    BENEFIT_ELSEWHERE = "person.benefit_elsewhere"

    @property
    def system(self) -> str:
        """The callback key ring that signs it (``UIFLOW_CALLBACK_KEYS_<SYSTEM>``)."""
        return _SYSTEM[self]

    @property
    def reason(self) -> StopReason:
        return _REASON[self]

    @property
    def label_zh(self) -> str:
        return _LABEL[self]


_SYSTEM = {
    OutsideEventType.REEMPLOYED: "contributions",
    OutsideEventType.PENSION: "insurance_record",
    OutsideEventType.DEATH: "civil_affairs",
    OutsideEventType.BENEFIT_ELSEWHERE: "cross_province",
}
# A benefit drawn in another province for the same months is not one of Art. 51's five reasons by
# name; it is the "other statutory case" of 条例 Art. 15 (no month is paid from two funds).
_REASON = {
    OutsideEventType.REEMPLOYED: StopReason.REEMPLOYED,
    OutsideEventType.PENSION: StopReason.PENSION,
    OutsideEventType.DEATH: StopReason.DEATH,
    OutsideEventType.BENEFIT_ELSEWHERE: StopReason.OTHER_STATUTORY,
}
_LABEL = {
    OutsideEventType.REEMPLOYED: "参保缴费记录显示已重新就业",
    OutsideEventType.PENSION: "养老保险记录显示已开始领取基本养老金",
    OutsideEventType.DEATH: "民政（殡葬）信息显示已死亡",
    OutsideEventType.BENEFIT_ELSEWHERE: "全国失业保险跨省比对显示在外省领取失业保险金",
}

#: The system name in the callback key rings and the event it may send (activities/gov/callbacks.py).
EVENT_OF_SYSTEM = {t.system: t.value for t in OutsideEventType}


HOLD_SYSTEM = "recheck"  # period_event.system of a re-check hold (no outside system said anything)


class PeriodEventStatus(StrEnum):
    """What became of one outside event (``period_event.status``)."""

    DELIVERED = "delivered"  # the person's open period was told (a stop)
    NO_OPEN_PERIOD = "no_open_period"  # nobody with an open period here: recorded, not acted on
    HELD = "held"  # the re-check could not ask a system: the person's due months wait
    RELEASED = "released"  # a later re-check cleared the person: the hold lifted

    @property
    def label_zh(self) -> str:
        return {
            PeriodEventStatus.DELIVERED: "已停发",
            PeriodEventStatus.NO_OPEN_PERIOD: "无在发案件",
            PeriodEventStatus.HELD: "暂缓发放（核查未完成）",
            PeriodEventStatus.RELEASED: "核查通过，已恢复发放",
        }[self]


class RecheckInput(BaseModel):
    """The re-check before one region's pay day (``workflows/period_recheck.py``)."""

    payday_id: str
    region_code: str
    pay_date: date
    chunk_size: int = Field(default=500, ge=1, le=1000)


class RecheckChunkRequest(BaseModel):
    payday_id: str
    region_code: str
    pay_date: date
    after: str | None = None  # keyset: the last case id of the previous chunk
    chunk_size: int


class RecheckChunkResult(BaseModel):
    """Counts and case ids only (no personal data in the history)."""

    checked: int = 0
    stopped: int = 0
    held: int = 0
    released: int = 0  # earlier holds lifted: every system answered, none knew a stop
    recoveries: int = 0
    last: str | None = None  # None: nothing after this chunk


class RecheckResult(BaseModel):
    payday_id: str
    chunks: int = 0
    checked: int = 0
    stopped: int = 0
    held: int = 0
    released: int = 0
    recoveries: int = 0
