"""Errors of the rule layer. Every refusal carries a stable ``code`` (for programs and tests) and a
Chinese ``message_zh`` (for staff), mirroring ``policy.identity.IdentityError``."""

from __future__ import annotations


class PolicyError(ValueError):
    """A rule cannot be applied to the given input (impossible month, negative count, no parameter
    value for the date...). It is a ``ValueError`` so that pydantic validators surface it."""

    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh


class CalendarMissingError(PolicyError):
    """The working-day calendar has no table for a year. We fail closed rather than guess
    (domain.md D5): the State Council publishes each year's 调休 only in the November before."""

    def __init__(self, year: int) -> None:
        super().__init__("calendar.year_missing", f"{year}年的节假日安排尚未录入工作日历，无法计算工作日")
        self.year = year
