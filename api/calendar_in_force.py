"""The working-day calendar the API counts with: the packaged tables plus the operator's
(``UIFLOW_CALENDAR_DIR``), the same calendar the worker computes deadlines with.

"剩N个工作日" on every list, inbox and case page used the packaged tables alone, so a year the
operator added (the 2027 table the README asks for) showed no days left on any case due in it
(found running the suite as of 2027-02-15). The app binds the calendar of its own settings to each
request (an app-wide dependency), so the list helpers need no settings of their own."""

from __future__ import annotations

from contextvars import ContextVar

from fastapi import Request

from core.parameters import calendar_in_force
from policy.calendar import HolidayCalendar, packaged_calendar

_CALENDAR: ContextVar[HolidayCalendar | None] = ContextVar("uiflow_api_calendar", default=None)


async def bind_calendar(request: Request) -> None:
    """App-wide dependency (async, so it runs in the request's own context): the calendar of the
    app's settings for this request."""
    _CALENDAR.set(calendar_in_force(request.app.state.settings.calendar_dir))


def api_calendar() -> HolidayCalendar:
    """The calendar bound to the current request; the packaged tables outside a request."""
    cal = _CALENDAR.get()
    return cal if cal is not None else packaged_calendar()
