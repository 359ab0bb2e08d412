"""Activities of the stop-reason dispute: read and change the stop reason in the insurance record
system, raise and check the operations ticket on the demand platform, find the person's open
benefit claim in the read model.

A refusal the dispute is built to handle (``record.locked``) is returned as data, so the workflow
can raise a ticket; any other refusal is non-retryable and sends the case to the blocked path."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gov import ExternalRefused, GovClients
from activities.gov.demand_platform import Ticket
from activities.gov.insurance_record import RECORD_LOCKED
from core.db import Database
from core.settings import Settings
from models.claim import OPEN_CLAIM_STATUSES
from models.dispute import ChangeOutcome, StopReasonSnapshot, StopReasonView, TicketView
from models.enums import CaseType
from models.tables import CaseRecord


class StopReasonQuery(BaseModel):
    id_number: str
    employer_credit_code: str
    requested_code: str


class ChangeRequest(BaseModel):
    case_id: str
    id_number: str
    employer_credit_code: str
    code: str
    basis_zh: str
    operator_id: str


class TicketRequest(BaseModel):
    case_id: str
    id_number: str
    employer_credit_code: str
    requested_code: str
    title_zh: str
    description_zh: str
    submitted_by: str
    idempotency_key: str


class ClaimLookup(BaseModel):
    applicant_key: str


class OpenClaim(BaseModel):
    case_id: str | None = None
    status: str | None = None


def _refused(e: ExternalRefused) -> ApplicationError:
    return ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True)


def _ticket_view(t: Ticket, opened_at: datetime | None = None) -> TicketView:
    return TicketView(
        ticket_id=t.ticket_id,
        status=t.status,
        opened_at=opened_at or t.created_at,
        resolved_at=t.resolved_at,
        engineer=t.engineer,
        resolution=t.resolution,
    )


class DisputeActivities:
    def __init__(self, settings: Settings, db: Database, gov: GovClients) -> None:
        self.settings = settings
        self.db = db
        self.gov = gov

    @activity.defn
    async def read_stop_reason(self, q: StopReasonQuery) -> StopReasonSnapshot:
        """The reason on record for this person and employer, and the requested code looked up in
        the record system's own code table (uiflow keeps no copy of it). "Not found" is an answer:
        it means the employer never reported this person, which ends the dispute."""
        codes = {c.code: c for c in await self._codes()}
        req = codes.get(q.requested_code)
        requested = StopReasonView(
            code=q.requested_code,
            label=req.label if req else "未登记的停保原因代码",
            involuntary=req.involuntary if req else None,
        )
        try:
            r = await self.gov.insurance_record.get_stop_reason(q.id_number, q.employer_credit_code)
        except ExternalRefused as e:
            if e.not_found:  # said so in the system's typed body (fail closed otherwise)
                return StopReasonSnapshot(found=False, requested=requested, requested_known=req is not None)
            raise _refused(e) from e
        return StopReasonSnapshot(
            found=True,
            current=StopReasonView(code=r.code, label=r.label, involuntary=r.involuntary),
            requested=requested,
            requested_known=req is not None,
        )

    async def _codes(self) -> list[StopReasonView]:
        try:
            items = await self.gov.insurance_record.list_stop_reasons()
        except ExternalRefused as e:
            raise _refused(e) from e
        return [StopReasonView(code=c.code, label=c.label, involuntary=c.involuntary) for c in items]

    @activity.defn
    async def change_stop_reason(self, req: ChangeRequest) -> ChangeOutcome:
        """Change the reason after the final approval (an idempotent PUT, so a retry is safe)."""
        try:
            r = await self.gov.insurance_record.change_stop_reason(
                req.id_number,
                employer_credit_code=req.employer_credit_code,
                code=req.code,
                basis_zh=req.basis_zh,
                operator_id=req.operator_id,
                case_ref=req.case_id,
            )
        except ExternalRefused as e:
            if e.code == RECORD_LOCKED:
                return ChangeOutcome(changed=False, refusal_code=e.code, refusal_message=e.message_zh)
            raise _refused(e) from e
        return ChangeOutcome(
            changed=True, record=StopReasonView(code=r.code, label=r.label, involuntary=r.involuntary)
        )

    @activity.defn
    async def open_ticket(self, req: TicketRequest) -> TicketView:
        """Raise the ticket for an engineer. The idempotency key makes a retry return the same
        ticket instead of opening a second one."""
        try:
            t = await self.gov.demand_platform.open_ticket(
                category="stop_reason_change",
                title_zh=req.title_zh,
                description_zh=req.description_zh,
                submitted_by=req.submitted_by,
                case_ref=req.case_id,
                id_number=req.id_number,
                employer_credit_code=req.employer_credit_code,
                requested_stop_reason=req.requested_code,
                idempotency_key=req.idempotency_key,
            )
        except ExternalRefused as e:
            raise _refused(e) from e
        return _ticket_view(t)

    @activity.defn
    async def get_ticket(self, ticket_id: str) -> TicketView:
        """The periodic re-check, for when the platform's callback does not arrive."""
        try:
            t = await self.gov.demand_platform.get_ticket(ticket_id)
        except ExternalRefused as e:
            raise _refused(e) from e
        return _ticket_view(t)

    @activity.defn
    async def find_open_claim(self, q: ClaimLookup) -> OpenClaim:
        """The person's most recent benefit claim that is still open (rejected and waiting for a
        re-application, or still in progress), from the read model."""
        async with self.db.session() as s:
            row = (
                await s.exec(
                    select(CaseRecord)
                    .where(
                        CaseRecord.applicant_key == q.applicant_key,
                        CaseRecord.case_type == CaseType.BENEFIT_CLAIM.value,
                        col(CaseRecord.status).in_(sorted(OPEN_CLAIM_STATUSES)),
                    )
                    .order_by(col(CaseRecord.received_at).desc())
                    .limit(1)
                )
            ).first()
        return OpenClaim(case_id=row.case_id, status=row.status) if row else OpenClaim()


ACTIVITY_CLASSES = [DisputeActivities]
