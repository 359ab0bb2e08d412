"""Shared types for query parameters and headers, so every route refuses the same bad input the
same way: a 422 naming the field with a Chinese message, never a 500 from deeper down (an unknown
region code reaching the region table, a naive time compared with an aware column, a page number
that overflows the database's OFFSET, a header the client could not have meant)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import Header, Query
from pydantic import AfterValidator

from policy.regions import RegionError, get_region

# Far beyond any real list (1,000,000 cases at the smallest page size) and far below an overflow.
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 200
IDEMPOTENCY_KEY_MAX = 128
# Printable ASCII without spaces: what a client's generated key (a UUID, a ULID) is made of.
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]+$")


def region_or_blank(code: str) -> str:
    """For the console's lenient filter bar: a current region code as it is, anything else
    (malformed, abolished, unknown) dropped, never an error page."""
    try:
        return get_region(code.strip()).code if code.strip() else ""
    except RegionError:
        return ""


def _known_region(code: str | None) -> str | None:
    if code is None or code == "":
        return None
    try:
        return get_region(code).code
    except RegionError as e:
        raise ValueError(e.message_zh) from None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("时间须带时区，例如 2026-01-05T09:00:00+08:00")
    return value


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not _IDEMPOTENCY_KEY_RE.match(value):
        raise ValueError(f"幂等键须为1至{IDEMPOTENCY_KEY_MAX}个可见ASCII字符（例如UUID）")
    return value


RegionQuery = Annotated[
    str | None,
    Query(description="地区代码（六位行政区划代码，须为本区现行区划）", examples=["150102"]),
    AfterValidator(_known_region),
]
AwareTime = Annotated[
    datetime | None,
    Query(description="带时区的时间（ISO 8601），例如 2026-01-05T09:00:00+08:00"),
    AfterValidator(_aware),
]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="页码，从1开始")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="客户端生成的幂等键：同一决定重试时带同一个键，返回首次的回执而不会重复办理",
    ),
    AfterValidator(_idempotency_key),
]
