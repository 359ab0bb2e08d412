"""The person a case is about, as every case type takes them in: ID number, name, phone, and the
documents they hand in (by hash).

Why a module of its own: claims, disputes and the case types to come take the same person data
with the same checks; the shapes lived in ``models/claim.py`` and were copied into
``models/dispute.py``. Field shapes are what the payload converter reads, so moving them here
changes no recorded payload. Personal data: these shapes travel only inside encrypted payloads;
states and read models carry masks."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
ACCOUNT_RE = re.compile(r"^\d{12,30}$")


class DocumentRef(BaseModel):
    id: str = Field(min_length=1, max_length=36)
    kind: str = Field(min_length=1, max_length=64, examples=["termination_certificate"])
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    filename: str = ""


class PersonFields(BaseModel):
    """ID number, name and mobile phone, checked for format (the checksum and region rules are the
    API's request schemas')."""

    id_number: str = Field(pattern=r"^\d{17}[\dX]$", examples=["150102198005171237"])
    name: str = Field(min_length=1, max_length=64, examples=["乌云其其格"])
    phone: str = Field(examples=["13912345678"])

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        v = v.strip()
        if not PHONE_RE.match(v):
            raise ValueError("手机号码应为11位数字，以1开头")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("姓名不能为空")
        return v
