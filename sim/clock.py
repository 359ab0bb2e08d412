"""The simulator's notion of "now", in the business timezone (Asia/Shanghai).

The simulated systems stamp registrations, payments and tickets as the real ones would, with the
wall clock; only the population's reference date can be pinned (``as_of``) for reproducible tests.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now_shanghai() -> datetime:
    return datetime.now(SHANGHAI)


def today_shanghai() -> date:
    return now_shanghai().date()
