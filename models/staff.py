"""The staff member acting, as the API hands it to workflow Update validators."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.enums import Role


class StaffActor(BaseModel):
    """Who acts. Built by the API from a verified token; the workflow validators check role,
    region and separation of duties against it. Holds no applicant data."""

    login: str = Field(min_length=1, max_length=64)
    name: str = ""
    roles: list[Role]
    region_code: str = Field(pattern=r"^\d{6}$")
    applicant_key: str | None = None  # HMAC of their own ID number: refuses decisions on their own case

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)
