"""The working-day calendar and the working-day time limits (domain.md A6, D).

Why an explicit table: the State Council fixes each year's holidays and make-up working days
(调休上班) in a notice published the November before, so no rule can predict them. The table is
typed from the notices (``policy/calendar_data/cn-YYYY.yaml``), cross-checked day by day against
``chinese_calendar`` and ``holidays`` in the tests, and a year without a table fails closed with
``CalendarMissingError`` (domain.md D5) instead of guessing.

A working day is a Monday–Friday that is not a holiday, plus any 调休 Saturday or Sunday (D4).
"""

from __future__ import annotations

import calendar as _stdcal
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from importlib import resources
from typing import Any

import yaml

from policy.errors import CalendarMissingError, PolicyError
from policy.parameters import ParameterSet, resolve

# The pure-Python loader on purpose: libyaml's CSafeLoader fails when a Temporal workflow sandbox
# re-imports this module ("could not determine a constructor for the tag None").
_YamlLoader = yaml.SafeLoader

_ONE_DAY = timedelta(days=1)
# A deadline search never needs more than a few weeks; this bound only stops a runaway loop.
_MAX_SCAN_DAYS = 3 * 366


@dataclass(frozen=True, eq=False)
class HolidayCalendar:
    """Holiday tables for a set of years. ``version`` changes whenever any table changes."""

    years: frozenset[int]
    holidays: Mapping[date, str]  # date -> holiday name
    workdays: Mapping[date, str]  # 调休上班 date -> holiday it makes up for
    version: str = field(default="")

    def covers(self, year: int) -> bool:
        return year in self.years

    def require(self, d: date) -> None:
        if d.year not in self.years:
            raise CalendarMissingError(d.year)

    def is_working_day(self, d: date) -> bool:
        self.require(d)
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def holiday_name(self, d: date) -> str | None:
        self.require(d)
        return self.holidays.get(d)

    @cached_property
    def _index(self) -> _WorkingDayIndex:
        return _WorkingDayIndex.build(self)

    def working_days_through(self, d: date) -> int:
        """Working days from the start of ``d``'s run of consecutive tabled years up to and
        including ``d``: O(1) from the cumulative index, built once per table on first use."""
        self.require(d)
        return self._index.through(d)

    def same_run(self, a: date, b: date) -> bool:
        """Whether every year from ``a``'s to ``b``'s has a table (so a count between them can
        be taken from the cumulative index)."""
        return self._index.run_of[a.year] == self._index.run_of[b.year]


@dataclass(frozen=True, slots=True)
class _WorkingDayIndex:
    """A cumulative working-day count per tabled year, so counting the working days between two
    dates is two look-ups instead of a walk over the calendar (the case lists compute "working days
    left" for every row). ``cumulative[y][k]`` is the number of working days among the first
    ``k + 1`` days of year ``y``; ``before[y]`` the working days of the earlier years of the same
    run of consecutive tabled years (``run_of[y]`` names the run: counts never span a gap)."""

    cumulative: Mapping[int, tuple[int, ...]]
    before: Mapping[int, int]
    run_of: Mapping[int, int]

    @classmethod
    def build(cls, cal: HolidayCalendar) -> _WorkingDayIndex:
        cumulative: dict[int, tuple[int, ...]] = {}
        before: dict[int, int] = {}
        run_of: dict[int, int] = {}
        carried = 0
        for year in sorted(cal.years):
            if year - 1 in cal.years:
                run_of[year] = run_of[year - 1]
            else:
                run_of[year], carried = year, 0
            before[year] = carried
            counts: list[int] = []
            n = 0
            d = date(year, 1, 1)
            while d.year == year:
                n += cal.is_working_day(d)
                counts.append(n)
                d += _ONE_DAY
            cumulative[year] = tuple(counts)
            carried += n
        return cls(cumulative, before, run_of)

    def through(self, d: date) -> int:
        return self.before[d.year] + self.cumulative[d.year][d.timetuple().tm_yday - 1]


def _as_date(raw: Any, where: str) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise PolicyError("calendar.invalid", f"工作日历数据有误（{where}）：日期格式应为YYYY-MM-DD")


def build_calendar(docs: Iterable[Any]) -> HolidayCalendar:
    """Build a calendar from parsed year documents (``{year, notice, holidays, workdays}``).

    Pure, so the application layer could add a new year's table read from an operator directory.
    Checks what the notices guarantee: make-up working days are Saturdays or Sundays, never inside
    a holiday; each year appears once.
    """
    years: set[int] = set()
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for doc in docs:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("year"), int):
            raise PolicyError("calendar.invalid", "工作日历数据有误：缺少年份（year）")
        year: int = doc["year"]
        if year in years:
            raise PolicyError("calendar.invalid", f"工作日历数据有误：{year}年重复")
        if not isinstance(doc.get("notice"), str) or not doc["notice"].strip():
            raise PolicyError("calendar.invalid", f"工作日历数据有误：{year}年未注明通知（notice）")
        years.add(year)
        for h in doc.get("holidays") or []:
            start = _as_date(h.get("from"), f"{year} {h.get('name')}")
            end = _as_date(h.get("to"), f"{year} {h.get('name')}")
            if end < start or (end - start).days > 15:
                raise PolicyError(
                    "calendar.invalid", f"工作日历数据有误：{year}年{h.get('name')}的起止日期不合理"
                )
            d = start
            while d <= end:
                holidays[d] = str(h.get("name"))
                d += _ONE_DAY
        for w in doc.get("workdays") or []:
            d = _as_date(w.get("date"), f"{year} workday")
            if d.weekday() < 5:
                raise PolicyError("calendar.invalid", f"工作日历数据有误：调休上班日{d.isoformat()}不是周末")
            workdays[d] = str(w.get("for"))
    clash = set(holidays) & set(workdays)
    if clash:
        first = min(clash).isoformat()
        raise PolicyError("calendar.invalid", f"工作日历数据有误：{first}既是假日又是调休上班日")
    digest = hashlib.sha256(
        repr(
            (
                sorted(years),
                sorted((k.isoformat(), v) for k, v in holidays.items()),
                sorted((k.isoformat(), v) for k, v in workdays.items()),
            )
        ).encode()
    ).hexdigest()
    span = f"{min(years)}-{max(years)}" if years else "empty"
    return HolidayCalendar(
        years=frozenset(years),
        holidays=dict(holidays),
        workdays=dict(workdays),
        version=f"cn-{span}-{digest[:10]}",
    )


def _load_packaged() -> HolidayCalendar:
    root = resources.files("policy.calendar_data")
    docs = [
        yaml.load(f.read_text(encoding="utf-8"), Loader=_YamlLoader)
        for f in sorted(root.iterdir(), key=lambda p: p.name)
        if f.name.endswith(".yaml")
    ]
    return build_calendar(docs)


# Loaded once at import (compiled-in data; no file access later, e.g. inside a workflow).
_PACKAGED = _load_packaged()
CALENDAR_VERSION: str = _PACKAGED.version


def packaged_calendar() -> HolidayCalendar:
    return _PACKAGED


def _cal(cal: HolidayCalendar | None) -> HolidayCalendar:
    return _PACKAGED if cal is None else cal


def is_working_day(d: date, cal: HolidayCalendar | None = None) -> bool:
    """Whether ``d`` is a working day; raises ``CalendarMissingError`` for a year with no table."""
    return _cal(cal).is_working_day(d)


def nth_working_day_after(
    start: date,
    n: int,
    *,
    count_start: bool | None = None,
    cal: HolidayCalendar | None = None,
    params: ParameterSet | None = None,
) -> date:
    """The ``n``-th working day counted from ``start`` (domain.md D4).

    With ``count_start`` false (民法典 Art. 201: the first day is not counted) this is the n-th
    working day strictly after ``start``. With it true, ``start`` itself counts as day 1 when it is
    a working day (one working day less); a non-working start is never counted. ``None`` reads the
    parameter ``review.count_receipt_day`` in force on ``start``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise PolicyError("calendar.count_invalid", f"工作日天数应为正整数：{n}")
    c = _cal(cal)
    if count_start is None:
        count_start = resolve(params).flag("review.count_receipt_day", start)
    remaining = n
    if count_start and c.is_working_day(start):
        remaining -= 1
        if remaining == 0:
            return start
    d = start
    for _ in range(_MAX_SCAN_DAYS):
        d += _ONE_DAY
        if c.is_working_day(d):
            remaining -= 1
            if remaining == 0:
                return d
    raise PolicyError("calendar.count_invalid", f"工作日天数过大：{n}")  # pragma: no cover


def working_days_between(start: date, end: date, cal: HolidayCalendar | None = None) -> int:
    """Working days from ``start`` to ``end``, both included; refuses an ``end`` before ``start``."""
    if end < start:
        raise PolicyError(
            "calendar.range_invalid", f"结束日期{end.isoformat()}早于开始日期{start.isoformat()}"
        )
    c = _cal(cal)
    c.require(start)
    c.require(end)
    if not c.same_run(start, end):
        # A year in between has no table: fail closed on the first one, as a walk would.
        raise CalendarMissingError(next(y for y in range(start.year, end.year + 1) if not c.covers(y)))
    return c.working_days_through(end) - c.working_days_through(start) + c.is_working_day(start)


def review_deadline(
    received: date,
    working_days: int | None = None,
    params: ParameterSet | None = None,
    *,
    cal: HolidayCalendar | None = None,
) -> date:
    """The last day to decide an application received on ``received`` (经办条例 Art. 24; notice
    item 一): the ``review.working_days``-th working day after receipt, counted per
    ``review.count_receipt_day``. The deadline may be a 调休 Saturday (2025-01-20 → 2025-02-08)."""
    return review_deadline_record(received, working_days, params, cal=cal).deadline


@dataclass(frozen=True, slots=True)
class ReviewDeadline:
    """A computed review deadline with what produced it, for the case record: a later change of the
    holiday table or of the parameters must not silently change an old case's deadline."""

    received: date
    deadline: date
    working_days: int
    count_receipt_day: bool
    calendar_version: str
    parameter_version: str


def review_deadline_record(
    received: date,
    working_days: int | None = None,
    params: ParameterSet | None = None,
    *,
    cal: HolidayCalendar | None = None,
) -> ReviewDeadline:
    """``review_deadline`` plus the count, the receipt-day choice and the versions it used."""
    p = resolve(params)
    c = _cal(cal)
    n = p.integer("review.working_days", received) if working_days is None else working_days
    count_start = p.flag("review.count_receipt_day", received)
    deadline = nth_working_day_after(received, n, count_start=count_start, cal=c, params=p)
    return ReviewDeadline(received, deadline, n, count_start, c.version, p.version)


def working_days_until(today: date, deadline: date, cal: HolidayCalendar | None = None) -> int:
    """Working days left before a deadline: the working days after ``today`` up to and including
    ``deadline``. 0 when the deadline is today (or today and the deadline fall in the same
    non-working stretch); negative when overdue: minus the working days after ``deadline`` up to
    and including ``today``."""
    if deadline >= today:
        if deadline == today:
            return 0
        return working_days_between(today + _ONE_DAY, deadline, cal)
    return -working_days_between(deadline + _ONE_DAY, today, cal)


def add_months_clamped(d: date, months: int) -> date:
    """``d`` plus whole months, clamped to the month's last day (民法典 Art. 202: a period counted
    in months ends on the corresponding day of the last month, or on its last day if it has none)."""
    idx = d.year * 12 + (d.month - 1) + months
    y, m0 = divmod(idx, 12)
    last = _stdcal.monthrange(y, m0 + 1)[1]
    return date(y, m0 + 1, min(d.day, last))
