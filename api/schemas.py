"""Request schemas: the models' shapes plus the rules in policy/ (ID checksum, credit-code check
character, region codes), so a bad field is refused with its own Chinese message before any
workflow starts."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import field_validator

from models.case import BUSINESS_TZ
from models.claim import ClaimApplication
from policy.identity import parse_resident_id, validate_credit_code
from policy.intake import check_separation_date
from policy.regions import RegionError, get_region


class ClaimApplicationIn(ClaimApplication):
    @field_validator("id_number", mode="before")
    @classmethod
    def _id_checksum(cls, v: object) -> str:
        # IdentityError carries code and message_zh; a birth date after today is refused too
        return parse_resident_id(str(v), today=business_today()).number

    @field_validator("separation_date")
    @classmethod
    def _separation_not_ahead(cls, v: date) -> date:
        return check_separation_date(v, business_today())

    @field_validator("employer_credit_code", mode="before")
    @classmethod
    def _credit_code(cls, v: object) -> str:
        return validate_credit_code(str(v))

    @field_validator("region_code", mode="before")
    @classmethod
    def _county(cls, v: object) -> str:
        region = get_region(str(v))
        if region.level != "county":
            raise RegionError("region.level", "申领地应为旗县区一级的行政区划")
        return region.code

    def to_model(self) -> ClaimApplication:
        return ClaimApplication.model_validate(self.model_dump())


def business_today() -> date:
    """Today in Asia/Shanghai, for the plausibility checks of what a person types in."""
    return datetime.now(BUSINESS_TZ).date()
