"""Outside events that stop a benefit period (issue 14 item 2), on the money's side.

One function, ``OutsideStops.apply``, is the whole effect of an outside stop, for both ways one
arrives: pushed by its system (``api/routes/period_events.py``, a signed callback) or found by the
re-check before a pay day (``recheck_chunk`` below). In one transaction, with the case's schedule
rows locked ``FOR UPDATE`` (the point where a stop and a payment meet, docs/payments.md §0):

- months from the effective month still unpaid become ``stopped`` at once (one at the bank is
  flagged for the chunk, as ``sync_schedule`` does), so the pay day's cut-off never takes them,
  whether or not the period workflow has run its turn yet;
- months from the effective month already paid each open a ``payment_recovery`` row (the existing
  recovery task, keyed by the order: the period's own later ``sync_schedule`` finds it there),
  with exactly the amount paid;
- the event is recorded (``period_event``, one row per system and event id: a second delivery
  acts on nothing) and audited; the person is told what is to be repaid.

Then the period workflow gets its existing ``stop_event`` signal (reference = the event id, which
it ignores when it has it already) and applies the stop to its schedule, timeline and notices.

The re-check asks every system about everyone due on the pay day, in chunks, one bulk call per
system per chunk. It fails closed as ``activities.gov.base.lookup`` does: a system that does not
answer is asked again (Temporal retries the chunk) and, after ``LOOKUP_MAX_ATTEMPTS``, the
people it could not clear are not paid: their due months are held, the period is suspended with
the reason in Chinese, and the supervisors are told; nothing is paid on a missing answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.gov import ExternalRefused, ExternalUnavailable, GovClients
from activities.gov.base import LOOKUP_MAX_ATTEMPTS, GovClientConfig
from activities.gov.stop_checks import SYSTEM_ZH, FoundEvent, StopCheckClient, stop_checks
from core import audit
from core.db import Database
from core.sealed import Sealer
from core.settings import Settings
from models.benefit import PaymentDetails, ResumeEvent, StopEvent, SuspendEvent
from models.case import local_date
from models.enums import CaseType, Role
from models.period_events import (
    HOLD_SYSTEM,
    OutsideEventType,
    PeriodEventStatus,
    RecheckChunkRequest,
    RecheckChunkResult,
)
from models.rules import YearMonth
from models.tables import CaseRecord, Payee, PaymentRecovery, PaymentSchedule, PeriodEvent, Staff
from policy.money import format_amount
from policy.period_stops import stop_effective_from
from policy.regions import ancestors

log = logging.getLogger("uiflow.activities.period_events")

UNPAID = ("scheduled", "held", "claimed")


def ym_zh(month: str) -> str:
    y, m = month.split("-")
    return f"{y}年{m}月"


@dataclass
class StopApplied:
    """What one outside stop did (case ids, months and amounts: no personal data)."""

    event: PeriodEvent
    duplicate: bool = False
    stopped: list[str] = field(default_factory=list)
    recovered: list[tuple[str, Decimal]] = field(default_factory=list)


async def open_period_of(session: AsyncSession, key: str) -> CaseRecord | None:
    """The person's benefit period still running (one at most, region-wide: uq_case_active_period)."""
    q = select(CaseRecord).where(
        CaseRecord.applicant_key == key,
        CaseRecord.case_type == CaseType.BENEFIT_PERIOD.value,
        CaseRecord.status != "closed",
    )
    return (await session.exec(q)).first()


def _insert_ignore(session: AsyncSession, table: Any) -> Any:
    dialect = postgresql if session.bind is not None and session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table.__table__).on_conflict_do_nothing()


async def signal(client: Client, case_id: str, name: str, arg: Any) -> None:
    """Signal the period; one that has finished (its read model not yet closed) has nothing to stop."""
    try:
        await client.get_workflow_handle(case_id).signal(name, arg)
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        log.info("period %s has finished: %s not delivered", case_id, name)


class OutsideStops:
    """The effect of an outside stop (see the module docstring); used by the API and the re-check."""

    def __init__(self, settings: Settings, notifier_config: GovClientConfig | None = None) -> None:
        self.settings = settings
        self.sealer = Sealer(settings)
        self.gov = GovClients.from_config(notifier_config or GovClientConfig.from_settings(settings))

    async def find(self, session: AsyncSession, system: str, event_id: str) -> PeriodEvent | None:
        q = select(PeriodEvent).where(PeriodEvent.system == system, PeriodEvent.event_id == event_id)
        return (await session.exec(q)).first()

    async def record_unmatched(
        self,
        session: AsyncSession,
        *,
        system: str,
        event_id: str,
        etype: OutsideEventType,
        key: str,
        on: date,
        source: str,
    ) -> PeriodEvent:
        """An event about nobody with an open period here: recorded (the answer names it), audited."""
        now = datetime.now(UTC)
        row = PeriodEvent(
            system=system,
            event_id=event_id,
            event_type=etype.value,
            source=source,
            applicant_key=key,
            occurred_on=on,
            status=PeriodEventStatus.NO_OPEN_PERIOD.value,
            note_zh="未找到该人员在本地区正在发放的失业保险金案件",
            received_at=now,
        )
        session.add(row)
        await session.flush()
        await audit.append(
            session,
            actor=f"system:{system}",
            action="period_event.unmatched",
            payload={"event_id": event_id, "event": etype.value, "on": on.isoformat()},
            detail={"event": etype.value, "event_id": event_id},
            at=now,
        )
        return row

    async def apply(
        self,
        session: AsyncSession,
        client: Client,
        case: CaseRecord,
        *,
        system: str,
        event_id: str,
        etype: OutsideEventType,
        on: date,
        source: str,
        payday_id: str | None = None,
    ) -> StopApplied:
        """Stop the rows, open the recoveries, record, audit, tell the person, signal the period.
        The caller commits after it returns (a failure before leaves nothing: it is retried)."""
        now = datetime.now(UTC)
        reason = etype.reason
        eff = stop_effective_from(reason, on)
        out = StopApplied(
            event=PeriodEvent(
                system=system,
                event_id=event_id,
                event_type=etype.value,
                source=source,
                applicant_key=case.applicant_key,
                occurred_on=on,
                case_id=case.case_id,
                region_code=case.region_code,
                status=PeriodEventStatus.DELIVERED.value,
                effective_from=str(eff),
                payday_id=payday_id,
                received_at=now,
            )
        )
        rows = (
            await session.exec(
                select(PaymentSchedule)
                .where(PaymentSchedule.case_id == case.case_id)
                .order_by(col(PaymentSchedule.pay_month))
                .with_for_update()
            )
        ).all()
        for r in rows:
            if YearMonth.parse(r.pay_month) < eff:
                continue
            if r.state in UNPAID:
                r.state, r.updated_at = "stopped", now
                out.stopped.append(r.pay_month)
            elif r.state == "sending":
                r.stop_requested, r.updated_at = True, now
            elif r.state == "paid":
                await session.exec(  # type: ignore[call-overload]
                    _insert_ignore(session, PaymentRecovery).values(
                        order_key=r.order_key,
                        case_id=r.case_id,
                        region_code=r.region_code,
                        pay_month=r.pay_month,
                        amount=r.amount,
                        reason="stopped_after_payment",
                        payday_id=r.payday_id,
                        status="open",
                        created_at=now,
                    )
                )
                out.recovered.append((r.pay_month, r.amount))
            session.add(r)
        ev = out.event
        ev.recovery_months = [m for m, _ in out.recovered]
        ev.recovery_amount = sum((a for _, a in out.recovered), Decimal("0"))
        ev.note_zh = f"{etype.label_zh}（{on.isoformat()}）：自{ym_zh(str(eff))}起停发" + (
            f"；{'、'.join(ym_zh(m) for m in ev.recovery_months)}已发放，"
            f"应追回{format_amount(ev.recovery_amount)}元"
            if out.recovered
            else ""
        )
        session.add(ev)
        await session.flush()
        await audit.append(
            session,
            actor=f"system:{system}",
            action="period.outside_stop",
            case_id=case.case_id,
            payload={"event_id": event_id, "event": etype.value, "on": on.isoformat(), "source": source},
            detail={
                "event": etype.value,
                "event_id": event_id,
                "effective_from": str(eff),
                "stopped": out.stopped,
                "recovery_months": ev.recovery_months,
                "recovery_amount": str(ev.recovery_amount),
            },
            at=now,
        )
        if out.recovered:
            await self._tell_recovery(session, case, etype, on, ev)
        await signal(
            client,
            case.case_id,
            "stop_event",
            StopEvent(reason=reason, on=on, source=system, reference=event_id),
        )
        log.info(
            "outside stop %s on case %s: %d month(s) stopped, %d to recover",
            etype.value,
            case.case_id,
            len(out.stopped),
            len(out.recovered),
        )
        return out

    async def _tell_recovery(
        self, session: AsyncSession, case: CaseRecord, etype: OutsideEventType, on: date, ev: PeriodEvent
    ) -> None:
        payee = await session.get(Payee, case.case_id)
        if payee is None:
            return
        p = PaymentDetails.model_validate(self.sealer.unseal(payee.sealed))
        months = "、".join(ym_zh(m) for m in ev.recovery_months)
        await self.gov.notifier.send(
            channel="sms",
            recipient=p.phone,
            template="overpayment_recovery",
            text_zh=f"{p.name}您好：因{etype.reason.label_zh}（{on.isoformat()}），您自"
            f"{ym_zh(ev.effective_from or '')}起不再领取失业保险金。{months}的失业保险金已发放，"
            f"共{format_amount(ev.recovery_amount)}元，应予退回。经办机构将与您联系办理退回手续，如有异议请联系经办机构。",
            case_ref=case.case_id,
            idempotency_key=f"recovery-notice:{ev.system}:{ev.event_id}",
        )

    async def staff_of(self, session: AsyncSession, role: str, region: str) -> list[str]:
        for code in [region, *[r.code for r in ancestors(region)]]:
            rows = (
                await session.exec(
                    select(Staff).where(Staff.region_code == code, col(Staff.active).is_(True))
                )
            ).all()
            logins = sorted(r.login for r in rows if role in r.roles)
            if logins:
                return logins
        return []


class PeriodEventActivities:
    """The re-check before a region's pay day (``workflows/period_recheck.py``)."""

    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.stops = OutsideStops(settings, gov.notifier.config)
        self.checks: list[StopCheckClient] = stop_checks(gov.contributions.config)

    @activity.defn
    async def recheck_chunk(self, req: RecheckChunkRequest) -> RecheckChunkResult:
        """One chunk of the people due on the pay day: every system asked once for all of them;
        stops applied, and those a system could not clear held. Safe to run again: a stop already
        recorded acts on nothing, a hold already recorded is not repeated."""
        res = RecheckChunkResult()
        async with self.db.session() as s:
            after = [col(PaymentSchedule.case_id) > req.after] if req.after else []
            due_q = select(PaymentSchedule.case_id).where(
                PaymentSchedule.region_code == req.region_code,
                PaymentSchedule.state == "scheduled",
                col(PaymentSchedule.due_date) <= req.pay_date,
                *after,
            )
            # People held by an earlier re-check are asked again, so a hold ends by itself once
            # every system answers (issue 14: a held period waited for staff even then).
            held_q = select(PeriodEvent.case_id).where(
                PeriodEvent.system == HOLD_SYSTEM,
                PeriodEvent.status == PeriodEventStatus.HELD.value,
                PeriodEvent.region_code == req.region_code,
                *([col(PeriodEvent.case_id) > req.after] if req.after else []),
            )
            both = union(due_q, held_q).subquery()
            ids = [
                c
                for c in (
                    await s.exec(select(both.c.case_id).order_by(both.c.case_id).limit(req.chunk_size))
                ).all()
                if c is not None
            ]
            if not ids:
                return res
            res.last = ids[-1]
            due = set((await s.exec(due_q.where(col(PaymentSchedule.case_id).in_(ids)).distinct())).all())
            holds: dict[str, list[str]] = {}
            for case_id, payday_id in (
                await s.exec(
                    select(PeriodEvent.case_id, PeriodEvent.payday_id).where(
                        PeriodEvent.system == HOLD_SYSTEM,
                        PeriodEvent.status == PeriodEventStatus.HELD.value,
                        col(PeriodEvent.case_id).in_(ids),
                    )
                )
            ).all():
                if case_id is not None and payday_id is not None:
                    holds.setdefault(case_id, []).append(payday_id)
            starts = dict(
                (
                    await s.exec(
                        select(PaymentSchedule.case_id, func.min(PaymentSchedule.pay_month))
                        .where(col(PaymentSchedule.case_id).in_(ids))
                        .group_by(col(PaymentSchedule.case_id))
                    )
                ).all()
            )
            payees = (await s.exec(select(Payee).where(col(Payee.case_id).in_(ids)))).all()
        people = {
            p.case_id: PaymentDetails.model_validate(self.stops.sealer.unseal(p.sealed)) for p in payees
        }
        items = [(people[c].id_number, YearMonth.parse(starts[c]).first_day()) for c in ids if c in people]
        res.checked = len(items)
        found: dict[str, list[FoundEvent]] = {c: [] for c in ids}
        down: list[str] = []
        by_number = {people[c].id_number: c for c in ids if c in people}
        for check in self.checks:
            activity.heartbeat(check.system)
            try:
                answers = await check.check(items)
            except ExternalUnavailable:
                if activity.info().attempt < LOOKUP_MAX_ATTEMPTS:
                    raise  # asked again (the whole chunk: nothing was written yet)
                down.append(check.system)
                continue
            except ExternalRefused as e:
                log.warning("recheck: %s refused the bulk check (%s)", check.system, e.code)
                down.append(check.system)
                continue
            for number, ev in answers.items():
                case_id = by_number.get(number)
                if ev is not None and case_id is not None:
                    found[case_id].append(ev)
        client = activity.client()
        for case_id in ids:
            events = sorted(found[case_id], key=lambda e: e.on)
            if events:
                if await self._stop(client, case_id, events[0], req):
                    res.stopped += 1
            elif down or case_id not in people:
                # Held again only where months are due and unheld (staff may have resumed it).
                if case_id in due and await self._hold(client, case_id, down, req):
                    res.held += 1
            elif case_id in holds and await self._release(client, case_id, req):
                res.released += 1
        return res

    async def _release(self, client: Client, case_id: str, req: RecheckChunkRequest) -> bool:
        """Every system answered and none knows a stop: the earlier re-check holds end. The hold's
        suspension is lifted with the period's own ``resume`` signal (reference ``recheck-<run>``,
        ignored if staff lifted it already), so the held months move on and are paid as any
        resumed month, once. Safe to run again: a released hold is not released twice."""
        now = datetime.now(UTC)
        async with self.db.session() as s:
            events = (
                await s.exec(
                    select(PeriodEvent)
                    .where(
                        PeriodEvent.system == HOLD_SYSTEM,
                        PeriodEvent.status == PeriodEventStatus.HELD.value,
                        PeriodEvent.case_id == case_id,
                    )
                    .with_for_update()
                )
            ).all()
            if not events:
                return False
            for ev in events:
                ev.status = PeriodEventStatus.RELEASED.value
                ev.note_zh = (ev.note_zh + f"；{local_date(now).isoformat()}发放前核查已通过，恢复发放")[:500]
                s.add(ev)
            await audit.append(
                s,
                actor="system:recheck",
                action="period.recheck_released",
                case_id=case_id,
                payload={"payday_id": req.payday_id, "holds": [ev.event_id for ev in events]},
                at=now,
            )
            for ev in events:
                await signal(
                    client,
                    case_id,
                    "resume",
                    ResumeEvent(ref=f"recheck-{ev.payday_id}", on=local_date(now), note="发放前核查已通过"),
                )
            await s.commit()
        log.info("recheck released case %s (%d hold(s))", case_id, len(events))
        return True

    async def _stop(self, client: Client, case_id: str, ev: FoundEvent, req: RecheckChunkRequest) -> bool:
        async with self.db.session() as s:
            if await self.stops.find(s, ev.event.system, ev.event_id) is not None:
                return False  # pushed (or found) before: applied then
            case = await s.get(CaseRecord, case_id)
            if case is None:
                return False
            await self.stops.apply(
                s,
                client,
                case,
                system=ev.event.system,
                event_id=ev.event_id,
                etype=ev.event,
                on=ev.on,
                source="recheck",
                payday_id=req.payday_id,
            )
            await s.commit()
        return True

    async def _hold(
        self, client: Client, case_id: str, down: Sequence[str], req: RecheckChunkRequest
    ) -> bool:
        """Not paid on a missing answer: the due months held, the period suspended (the reason in
        Chinese on its timeline), the supervisors told. Lifted by staff (resume) once checked."""
        event_id = f"hold:{req.payday_id}:{case_id}"
        reason = (
            "发放前资格核查未完成（"
            + "、".join(SYSTEM_ZH.get(x, x) for x in down)
            + "暂时无法查询），暂缓发放"
            if down
            else "发放前资格核查未完成（缺少收款人信息），暂缓发放"
        )
        now = datetime.now(UTC)
        async with self.db.session() as s:
            if await self.stops.find(s, HOLD_SYSTEM, event_id) is not None:
                return False
            case = await s.get(CaseRecord, case_id)
            if case is None:
                return False
            rows = (
                await s.exec(
                    select(PaymentSchedule)
                    .where(
                        PaymentSchedule.case_id == case_id,
                        PaymentSchedule.state == "scheduled",
                        col(PaymentSchedule.due_date) <= req.pay_date,
                    )
                    .with_for_update()
                )
            ).all()
            for r in rows:
                r.state, r.updated_at = "held", now
                s.add(r)
            s.add(
                PeriodEvent(
                    system=HOLD_SYSTEM,
                    event_id=event_id,
                    event_type="system_unavailable",
                    source="recheck",
                    applicant_key=case.applicant_key,
                    case_id=case_id,
                    region_code=case.region_code,
                    status=PeriodEventStatus.HELD.value,
                    note_zh=reason,
                    payday_id=req.payday_id,
                    received_at=now,
                )
            )
            await audit.append(
                s,
                actor="system:recheck",
                action="period.recheck_held",
                case_id=case_id,
                payload={"payday_id": req.payday_id, "systems": list(down)},
                detail={"systems": list(down), "months": [r.pay_month for r in rows]},
                at=now,
            )
            supervisors = await self.stops.staff_of(s, Role.SUPERVISOR.value, case.region_code)
            if supervisors:
                await self.stops.gov.notifier.send_batch(
                    [
                        {
                            "channel": "portal",
                            "recipient": f"staff:{login}",
                            "template": "recheck_held",
                            "text_zh": f"发放案件{case_id}：{reason}。请在相关系统恢复后核实，再恢复发放。",
                            "case_ref": case_id,
                            "idempotency_key": f"{event_id}:{login}",
                        }
                        for login in supervisors
                    ]
                )
            await signal(
                client,
                case_id,
                "suspend",
                SuspendEvent(
                    ref=f"recheck-{req.payday_id}", reason_zh=reason, source="recheck", on=local_date(now)
                ),
            )
            await s.commit()
        log.info("recheck held case %s (%d month(s)): %s", case_id, len(rows), ",".join(down))
        return True


ACTIVITY_CLASSES = [PeriodEventActivities]
