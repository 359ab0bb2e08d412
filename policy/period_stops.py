"""From which month a stop condition ends payment (domain.md A5). Shared by the period workflow,
which applies a stop to its schedule, and by the outside-event path and the re-check before a pay
day, which stop the rows at once so the pay day's cut-off never takes them."""

from __future__ import annotations

from datetime import date

from models.benefit import StopReason
from models.rules import YearMonth


def stop_effective_from(reason: StopReason, on: date) -> YearMonth:
    """The first month no longer paid. A pension is paid for the month it starts, so benefit stops
    that month (no month is paid from two funds); for every other reason the person was out of
    work for part of the event's month, which is still paid, and payment stops from the next.
    The month rule is local practice, UNCONFIRMED (domain.md A5 gives none)."""
    month = YearMonth.of(on)
    return month if reason is StopReason.PENSION else month + 1
