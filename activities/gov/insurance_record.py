"""Client for the insurance record system: the stop-insurance reason (停保原因) the employer
reported, its change after a dispute (notice item 5), and pension status (a stop condition).

``involuntary`` comes from the record system's own code table; uiflow does not keep a copy."""

from __future__ import annotations

from datetime import date

from activities.gov.base import GovClient, GovModel

#: The refusal code when the front end may not change a record: raise a demand-platform ticket.
RECORD_LOCKED = "record.locked"


class StopReasonRecord(GovModel):
    id_number: str
    employer_credit_code: str
    employer_name: str | None = None
    code: str
    label: str
    involuntary: bool
    stop_date: date


class StopReasonCode(GovModel):
    code: str
    label: str
    involuntary: bool


class _StopReasonList(GovModel):
    items: list[StopReasonCode]


class PensionStatus(GovModel):
    id_number: str
    receiving: bool
    since: date | None = None


class InsuranceRecordClient(GovClient):
    system = "insurance-record"

    async def get_stop_reason(self, id_number: str, employer: str | None = None) -> StopReasonRecord:
        return await self._call(
            "GET",
            "/insurance-record/persons/{id_number}/stop-reason",
            StopReasonRecord,
            path={"id_number": id_number},
            params={"employer": employer} if employer else None,
        )

    async def change_stop_reason(
        self,
        id_number: str,
        *,
        employer_credit_code: str,
        code: str,
        basis_zh: str,
        operator_id: str,
        case_ref: str | None = None,
    ) -> StopReasonRecord:
        """Change the reason after the final review. Raises ``ExternalRefused`` with code
        ``record.locked`` when only an engineer can change it (raise a ticket then). Idempotent (PUT)."""
        body = {
            "employer_credit_code": employer_credit_code,
            "code": code,
            "basis_zh": basis_zh,
            "operator_id": operator_id,
            "case_ref": case_ref,
        }
        return await self._call(
            "PUT",
            "/insurance-record/persons/{id_number}/stop-reason",
            StopReasonRecord,
            path={"id_number": id_number},
            json=body,
        )

    async def get_pension(self, id_number: str) -> PensionStatus:
        return await self._call(
            "GET",
            "/insurance-record/persons/{id_number}/pension",
            PensionStatus,
            path={"id_number": id_number},
        )

    async def list_stop_reasons(self) -> list[StopReasonCode]:
        result = await self._call("GET", "/insurance-record/stop-reasons", _StopReasonList)
        return result.items
