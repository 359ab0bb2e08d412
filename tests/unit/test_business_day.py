"""The business day is Beijing's, not UTC's: between 16:00 and 24:00 UTC it is already the next
day in Inner Mongolia. The instants here fall on one UTC date and two Beijing dates, so a
computation that used UTC's date would give the same answer for both and fail."""

from __future__ import annotations

from datetime import UTC, date, datetime

from temporalio.testing import ActivityEnvironment

from activities.case_store import CaseStoreActivities
from activities.gov import GovClients
from core.db import Database
from core.settings import Settings
from models.case import DeadlineRequest, local_date

THURSDAY_LATE = datetime(2026, 3, 12, 15, 30, tzinfo=UTC)  # Thursday 12 March, 23:30 in Beijing
FRIDAY_EARLY = datetime(2026, 3, 12, 16, 30, tzinfo=UTC)  # same UTC day; Friday 13 March, 00:30 in Beijing


def test_the_business_day_of_an_instant_is_beijings() -> None:
    assert THURSDAY_LATE.date() == FRIDAY_EARLY.date()
    assert local_date(THURSDAY_LATE) == date(2026, 3, 12)
    assert local_date(FRIDAY_EARLY) == date(2026, 3, 13)
    assert local_date(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)


async def test_the_review_deadline_counts_from_beijings_day(settings: Settings, sqlite_db: Database) -> None:
    """Ten working days (domain.md C: 经办条例 Art. 24), no holiday in March 2026: received on
    Thursday the 12th, due Thursday the 26th; half an hour past midnight in Beijing it was received
    on Friday the 13th, due Friday the 27th (pinned here, not computed with the calendar)."""
    acts = CaseStoreActivities(settings, sqlite_db, GovClients.from_settings(settings))
    env = ActivityEnvironment()
    thursday = await env.run(acts.compute_deadline, DeadlineRequest(start=THURSDAY_LATE, working_days=10))
    friday = await env.run(acts.compute_deadline, DeadlineRequest(start=FRIDAY_EARLY, working_days=10))
    assert (thursday.start_day, thursday.deadline) == (date(2026, 3, 12), date(2026, 3, 26))
    assert (friday.start_day, friday.deadline) == (date(2026, 3, 13), date(2026, 3, 27))
