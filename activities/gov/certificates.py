"""Client for the national skill-talent certificate query site: a certificate must be findable there
to count for the skill-upgrade subsidy (notice item 6)."""

from __future__ import annotations

from datetime import date

from activities.gov.base import ExternalRefused, GovClient, GovModel

CERTIFICATE_NOT_FOUND = "certificate.not_found"


class Certificate(GovModel):
    cert_no: str
    holder_id_number: str
    holder_name: str
    occupation_code: str
    occupation: str
    level: int
    level_label: str
    issued_on: date
    issuer: str
    issuer_region: str


class IssuedEntry(GovModel):
    cert_no: str
    issuer: str
    issuer_region: str
    issued_on: date
    occupation_code: str
    level: int


class IssuanceRegister(GovModel):
    total: int
    certificates: list[IssuedEntry]


class CertificatesClient(GovClient):
    system = "certificates"

    async def get(self, cert_no: str) -> Certificate:
        return await self._call("GET", "/certificates/{cert_no}", Certificate, path={"cert_no": cert_no})

    async def lookup(self, cert_no: str) -> Certificate | None:
        """``None`` when the site has no such certificate: an expected answer, not an error."""
        try:
            return await self.get(cert_no)
        except ExternalRefused as e:
            if e.code == CERTIFICATE_NOT_FOUND:
                return None
            raise

    async def register(self, issued_from: date, issued_to: date) -> IssuanceRegister:
        """Certificates issued in a period, by issuer and place (no holder data)."""
        return await self._call(
            "GET",
            "/certificates/register",
            IssuanceRegister,
            params={"issued_from": issued_from.isoformat(), "issued_to": issued_to.isoformat()},
        )
