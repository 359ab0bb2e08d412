"""Activities every case type shares: the read-model projection, the audit log, notifications
to applicants and staff, and review deadlines from the working-day calendar."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from core import audit, benefits, person_search
from core.db import Database
from core.parameters import calendar_in_force, parameters_in_force
from core.settings import Settings
from models.case import AuditEntry, CaseProjection, DeadlineInfo, DeadlineRequest, Notification
from models.tables import CaseRecord, Staff
from policy import calendar
from policy.errors import PolicyError
from policy.regions import ancestors

log = logging.getLogger("uiflow.activities")

_NEXT_SHORT_NO = text(
    "INSERT INTO case_number_seq (prefix, last) VALUES (:p, 1) "
    "ON CONFLICT (prefix) DO UPDATE SET last = case_number_seq.last + 1 RETURNING last"
)


async def next_short_no(s: AsyncSession, region_code: str, received_at: datetime) -> str:
    """The next short case number of the region and business day, in the caller's transaction:
    the counter row is locked by the upsert until commit, so two intakes never share a number
    (PostgreSQL and SQLite both speak ``ON CONFLICT ... RETURNING``)."""
    prefix = person_search.short_prefix(region_code, received_at)
    last = (await s.exec(_NEXT_SHORT_NO.bindparams(p=prefix))).scalar_one()  # type: ignore[call-overload]
    return person_search.short_no(prefix, int(last))


TZ = ZoneInfo("Asia/Shanghai")
REMINDER_HOUR = time(9, 0)


async def write_case_row(settings: Settings, db: Database, p: CaseProjection) -> None:
    """Upsert a case's read-model row unless the stored one is as new (``version``): the
    projection activity, and an intake route that writes a case's first row before answering
    (a service request: ``api/routes/service_requests.py``)."""
    try:
        await _write_case_row_once(settings, db, p)
    except IntegrityError:
        # Two first writes of one case at once (the create route's first row and the worker's
        # first projection): both found no row to lock and both inserted, and the second broke the
        # primary key. Once more, now that the row exists: locked, compared by version, updated
        # or left. Any other violation (one benefit per person) breaks again and is raised.
        async with db.session() as s:
            exists = await s.get(CaseRecord, p.case_id) is not None
        if not exists:
            raise
        await _write_case_row_once(settings, db, p)


async def _write_case_row_once(settings: Settings, db: Database, p: CaseProjection) -> None:
    now = datetime.now(UTC)
    async with db.session() as s:
        row = await s.get(CaseRecord, p.case_id, with_for_update=db.dialect == "postgresql")
        if row is not None and row.version >= p.version:
            return
        data = p.model_dump(mode="python", exclude={"applicant_id_number"})
        data["case_type"] = p.case_type.value
        data.update(_search_fields(settings, p))
        if row is None or row.short_no is None:
            data["short_no"] = await next_short_no(s, p.region_code, p.received_at)
        if row is None:
            s.add(CaseRecord(**data, updated_at=now))
        else:
            for k, v in data.items():
                setattr(row, k, v)
            row.updated_at = now
        await s.commit()


def _search_fields(settings: Settings, p: CaseProjection) -> dict[str, str | None]:
    """The masked name and the person-search keys; a key the projection cannot give (a name
    that came masked, a projection recorded before it carried the ID number) is left as it is."""
    out: dict[str, str | None] = {"applicant_name": person_search.mask_name(p.applicant_name)}
    if p.applicant_name and "*" not in p.applicant_name:
        out["name_key"] = person_search.name_key(settings, p.applicant_name)
    if p.applicant_id_number:
        out["tail_key"] = person_search.tail_key_of_id(settings, p.applicant_id_number)
    return out


class CaseStoreActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    @activity.defn
    async def project_case(self, p: CaseProjection) -> None:
        """Upsert the read model; a projection older than the stored one is ignored, so a retried
        or delayed activity can never roll a case back.

        The read model also holds the last line of "one benefit at a time" (core/benefits.py): a
        second open claim or a second active period of one person breaks a unique index, which is
        a business outcome, not a fault: refused for good with the reason, naming the district of
        the case that holds the benefit. A period refused so never pays (its first projection
        comes before its first month)."""
        try:
            await self._upsert_case(p)
        except IntegrityError as e:
            if not benefits.is_duplicate_benefit(e):
                raise
            async with self.db.session() as s:
                held = await benefits.current_benefit_of(s, p.applicant_key)
            raise ApplicationError(
                benefits.duplicate_benefit_message(held if held is not None else p.region_code),
                type=benefits.DUPLICATE_BENEFIT,
                non_retryable=True,
            ) from None

    async def _upsert_case(self, p: CaseProjection) -> None:
        await write_case_row(self.settings, self.db, p)

    @activity.defn
    async def write_audit(self, e: AuditEntry) -> None:
        """Append a decision to the audit log. Idempotent per activity: a retry after a commit
        whose answer was lost finds its own entry (same case, action, time, payload hash)."""
        async with self.db.session() as s:
            existing = (
                await s.exec(
                    select(func.count())
                    .select_from(audit.AuditLog)
                    .where(
                        audit.AuditLog.case_id == e.case_id,
                        audit.AuditLog.action == e.action,
                        audit.AuditLog.at == e.at,
                        audit.AuditLog.payload_hash == audit.payload_hash(e.payload),
                    )
                )
            ).one()
            if existing:
                return
            await audit.append(
                s,
                actor=e.actor,
                action=e.action,
                case_id=e.case_id,
                payload=e.payload,
                actor_role=e.actor_role,
                actor_region=e.actor_region,
                at=e.at,
                detail={k: v for k, v in e.payload.items() if k in ("decision", "reason_code", "round")},
            )
            await s.commit()

    @activity.defn
    async def notify(self, n: Notification) -> list[str]:
        """Send an SMS/portal message. The idempotency key is this activity's identity, so a
        retry never messages a person twice. Staff messages go to the named login, or to every
        active staff member of the role nearest the case's region (escalation to supervisors)."""
        info = activity.info()
        key = f"{info.workflow_run_id}:{info.activity_id}"
        sent: list[str] = []
        try:
            if n.audience == "applicant":
                if not n.phone:
                    raise ApplicationError("applicant phone missing", non_retryable=True)
                r = await self.gov.notifier.send(
                    channel="sms",
                    recipient=n.phone,
                    template=n.template,
                    text_zh=n.text_zh,
                    case_ref=n.case_id,
                    idempotency_key=key,
                )
                sent.append(r.message_id)
            else:
                for i, login in enumerate(await self._staff_recipients(n)):
                    r = await self.gov.notifier.send(
                        channel="portal",
                        recipient=f"staff:{login}",
                        template=n.template,
                        text_zh=n.text_zh,
                        case_ref=n.case_id,
                        idempotency_key=f"{key}:{i}",
                    )
                    sent.append(r.message_id)
        except ExternalRefused as e:
            raise ApplicationError(str(e), type="NotificationRefused", non_retryable=True) from e
        return sent

    async def _staff_recipients(self, n: Notification) -> list[str]:
        if n.staff_login:
            return [n.staff_login]
        if not (n.staff_role and n.region_code):
            return []
        async with self.db.session() as s:
            for region in [n.region_code, *[r.code for r in ancestors(n.region_code)]]:
                rows = (
                    await s.exec(
                        select(Staff).where(Staff.region_code == region, col(Staff.active).is_(True))
                    )
                ).all()
                logins = sorted(r.login for r in rows if n.staff_role in r.roles)
                if logins:
                    return logins
        return []

    @activity.defn
    async def compute_deadline(self, req: DeadlineRequest) -> DeadlineInfo:
        """The review deadline from the calendar in force now. Computed here, not in the
        workflow, so the history records it and a later calendar change cannot alter an old
        case's replay. A year without a holiday table fails closed (non-retryable)."""
        params = parameters_in_force(self.settings.params_dir)
        cal = calendar_in_force(self.settings.calendar_dir)
        start_local = req.start.astimezone(TZ)
        start_day = start_local.date()
        try:
            n = req.working_days or params.integer(req.parameter or "review.working_days", start_day)
            deadline = calendar.review_deadline(start_day, n, params, cal=cal)
            reminder_day = None
            if req.reminder_working_days > 0:
                reminder_day = deadline
                for _ in range(req.reminder_working_days):
                    reminder_day -= timedelta(days=1)
                    while not calendar.is_working_day(reminder_day, cal):
                        reminder_day -= timedelta(days=1)
        except PolicyError as e:
            raise ApplicationError(e.message_zh, type=e.code, non_retryable=True) from e
        deadline_at = datetime.combine(deadline + timedelta(days=1), time(0, 0), TZ)
        reminder_at = None
        if reminder_day is not None:
            candidate = datetime.combine(reminder_day, REMINDER_HOUR, TZ)
            if candidate > req.start:
                reminder_at = candidate
        return DeadlineInfo(
            start_day=start_day,
            deadline=deadline,
            deadline_at=deadline_at,
            reminder_at=reminder_at,
            working_days=n,
            calendar_version=cal.version,
            parameter_version=params.version,
        )


ACTIVITY_CLASSES = [CaseStoreActivities]
