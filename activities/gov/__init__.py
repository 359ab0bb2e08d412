"""Typed clients for the external government systems. Production code reaches those systems only
through these classes, at the base URL from settings (the simulator in dev and tests)."""

from __future__ import annotations

from dataclasses import dataclass

from activities.gov.bank import BankClient
from activities.gov.base import (
    ExternalRefused,
    ExternalSystemError,
    ExternalUnavailable,
    GovClientConfig,
    close_all,
)
from activities.gov.certificates import CertificatesClient
from activities.gov.contributions import ContributionsClient
from activities.gov.cross_province import CrossProvinceClient
from activities.gov.demand_platform import DemandPlatformClient
from activities.gov.employers import EmployersClient
from activities.gov.insurance_record import InsuranceRecordClient
from activities.gov.medical import MedicalClient
from activities.gov.notifier import NotifierClient
from activities.gov.registration import RegistrationClient
from activities.gov.training import TrainingClient
from core.settings import Settings


@dataclass(frozen=True)
class GovClients:
    """Every client over one config, for activity classes that need several systems."""

    registration: RegistrationClient
    contributions: ContributionsClient
    insurance_record: InsuranceRecordClient
    cross_province: CrossProvinceClient
    medical: MedicalClient
    certificates: CertificatesClient
    bank: BankClient
    notifier: NotifierClient
    demand_platform: DemandPlatformClient
    employers: EmployersClient
    training: TrainingClient

    @classmethod
    def from_config(cls, config: GovClientConfig) -> GovClients:
        return cls(
            registration=RegistrationClient(config),
            contributions=ContributionsClient(config),
            insurance_record=InsuranceRecordClient(config),
            cross_province=CrossProvinceClient(config),
            medical=MedicalClient(config),
            certificates=CertificatesClient(config),
            bank=BankClient(config),
            notifier=NotifierClient(config),
            demand_platform=DemandPlatformClient(config),
            employers=EmployersClient(config),
            training=TrainingClient(config),
        )

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> GovClients:
        return cls.from_config(GovClientConfig.from_settings(s))


__all__ = [
    "BankClient",
    "CertificatesClient",
    "ContributionsClient",
    "CrossProvinceClient",
    "DemandPlatformClient",
    "EmployersClient",
    "ExternalRefused",
    "ExternalSystemError",
    "ExternalUnavailable",
    "GovClientConfig",
    "GovClients",
    "InsuranceRecordClient",
    "MedicalClient",
    "NotifierClient",
    "RegistrationClient",
    "close_all",
]
