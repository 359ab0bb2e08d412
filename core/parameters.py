"""The rule parameters in force for this process: the packaged set, overlaid with an operator's
YAML files (``UIFLOW_PARAMS_DIR``), so a new effective-dated figure needs no code change. Read by
activities only: workflows get parameter-dependent answers through activities, so history
records the values used."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from policy.calendar import HolidayCalendar, build_calendar
from policy.parameters import ParameterSet, merge_parameters, packaged_parameters


@lru_cache(maxsize=8)
def _load(dir_: Path | None) -> ParameterSet:
    base = packaged_parameters()
    if dir_ is None or not dir_.exists():
        return base
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(dir_.glob("*.yaml"))]
    return merge_parameters(base, [d for d in docs if d])


def parameters_in_force(params_dir: Path | None) -> ParameterSet:
    return _load(params_dir)


def _yaml_docs(paths: list[Path]) -> list[object]:
    return [d for d in (yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths) if d]


@lru_cache(maxsize=8)
def _calendar(dir_: Path | None) -> HolidayCalendar:
    from policy.calendar import packaged_calendar

    if dir_ is None or not dir_.exists() or not any(dir_.glob("*.yaml")):
        return packaged_calendar()
    root = resources.files("policy.calendar_data")
    packaged = {
        f.name: yaml.safe_load(f.read_text(encoding="utf-8"))
        for f in root.iterdir()
        if f.name.endswith(".yaml")
    }
    operator = _yaml_docs(sorted(dir_.glob("*.yaml")))
    years = {d["year"] for d in operator if isinstance(d, dict)}
    # An operator table for a year replaces the packaged one (e.g. a corrected notice).
    base = [d for d in packaged.values() if isinstance(d, dict) and d.get("year") not in years]
    return build_calendar([*base, *operator])


def calendar_in_force(calendar_dir: Path | None) -> HolidayCalendar:
    """The working-day calendar: packaged tables plus the operator's (UIFLOW_CALENDAR_DIR)."""
    return _calendar(calendar_dir)
