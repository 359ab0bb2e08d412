"""The year the timer tests run in: always ahead of the clock they run under.

The time-skipping server starts at the machine's current time and can only move forward, so a
test that sleeps until "Monday 1 February" needs a year still to come. A literal 2027 turned the
suite red by itself on 2027-01-11. Instead the tests use :data:`FUTURE_YEAR`: the first year after
the current one whose days fall on the same weekdays as 2027 (the shape the synthetic holiday
table ``tests/fixtures/calendar/cn-2027.yaml`` was written for: a claim received on the Monday
before 春节 falls due on a make-up Saturday). :func:`synthetic_calendar_dir` writes that table
for :data:`FUTURE_YEAR` beside the fixture tables.

Run under ``faketime '2027-02-15 10:00:00'`` the year is 2038, and the same tests pass.
"""

from __future__ import annotations

import calendar
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from policy.calendar import packaged_calendar

FIXTURE_CALENDAR = Path(__file__).parent / "fixtures" / "calendar"
TEMPLATE_YEAR = 2027


def future_year(today: date) -> int:
    """The first year after ``today``'s laid out like :data:`TEMPLATE_YEAR` (same weekday of 1
    January, same leap-ness), so every date of the synthetic table keeps its weekday."""
    year = today.year + 1
    shape = (date(TEMPLATE_YEAR, 1, 1).weekday(), calendar.isleap(TEMPLATE_YEAR))
    while (date(year, 1, 1).weekday(), calendar.isleap(year)) != shape:
        year += 1
    return year


FUTURE_YEAR = future_year(datetime.now(ZoneInfo("Asia/Shanghai")).date())


FILLER = """\
# SYNTHETIC, FOR TESTS ONLY: a year between the clock and FUTURE_YEAR with no published table
# (working days are counted across it on the way to a pay day); New Year's Day only.
year: {year}
notice: "测试用合成日历（并非国务院办公厅通知）"
source: "tests/clock.py: synthetic filler"
holidays:
  - {{name: 元旦, from: {year}-01-01, to: {year}-01-01}}
workdays: []
"""


def synthetic_calendar_dir(root: Path) -> Path:
    """The fixture tables, the synthetic table moved to :data:`FUTURE_YEAR`, and a filler table for
    every year from now until then that has none (under a clock past 2027 the years between would
    otherwise fail closed, as they should in production), in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for f in FIXTURE_CALENDAR.glob("*.yaml"):
        shutil.copy(f, root / f.name)
    have = packaged_calendar().years | {int(f.stem.removeprefix("cn-")) for f in root.glob("cn-*.yaml")}
    this_year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    for year in range(this_year, FUTURE_YEAR):
        if year not in have:
            (root / f"cn-{year}.yaml").write_text(FILLER.format(year=year), encoding="utf-8")
    template = (FIXTURE_CALENDAR / f"cn-{TEMPLATE_YEAR}.yaml").read_text(encoding="utf-8")
    moved = template.replace(f"year: {TEMPLATE_YEAR}", f"year: {FUTURE_YEAR}").replace(
        f"{TEMPLATE_YEAR}-", f"{FUTURE_YEAR}-"
    )
    (root / f"cn-{FUTURE_YEAR}.yaml").write_text(moved, encoding="utf-8")
    return root
