"""Plausibility of the dates on a benefit application, given the business day.

Why a tolerance for the separation date: a clerk may take in an application a few days before a
contract that has already been terminated in writing ends, but a date weeks or years ahead is a
typing error (2052 for 2025) that would otherwise start a claim, a registration and deadlines for
someone who is still employed. Pure: the caller passes ``today`` (Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, timedelta

from policy.errors import PolicyError

SEPARATION_FUTURE_TOLERANCE = timedelta(days=7)


def check_separation_date(separation: date, today: date) -> date:
    """Refuse a separation date more than ``SEPARATION_FUTURE_TOLERANCE`` after ``today``."""
    if separation > today + SEPARATION_FUTURE_TOLERANCE:
        days = SEPARATION_FUTURE_TOLERANCE.days
        raise PolicyError(
            "separation.future",
            f"离职日期（{separation.isoformat()}）晚于今天超过{days}天，请核对；尚未离职的不能申领失业保险金",
        )
    return separation
