"""Inner Mongolia administrative divisions (GB/T 2260) as reference data, and the scope rules built on them.

Staff are scoped by region: the autonomous region sees everything, a league or city sees its banners,
counties and districts, a banner sees only itself. Cases carry the division code where the person applies
or was insured. Both questions (may this person see this case; which codes go in an SQL ``IN`` filter) are
answered here from one table, so the API, the workflow validators and the read model cannot disagree.

The tree is the *administrative* one used for case handling, not the purely statistical one: 满洲里市 and
二连浩特市 are directly administered by the autonomous region for this purpose, so their ``parent`` is
150000 and their league cannot see their cases. ``statistical_parent`` keeps the league they belong to
under GB/T 2260, for reports and for human-readable names.

Pure functions over packaged CSV files, read once through ``importlib.resources`` and cached: no I/O after
the first call, no clock, so they are safe to call from workflow code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal, cast, get_args

REGION_ROOT = "150000"

RegionLevel = Literal["region", "league", "county"]
DisputeLevel = Literal["initial", "second", "final"]

_LEVELS: frozenset[str] = frozenset(get_args(RegionLevel))
_DISPUTE_LEVELS: tuple[str, ...] = get_args(DisputeLevel)
_REGIONS_CSV = "regions_nm.csv"
_DISPUTE_CSV = "dispute_authority.csv"


class RegionError(ValueError):
    """A region code is malformed or not a current Inner Mongolia division. ``code`` is stable (for the API
    and tests); ``message_zh`` is for staff."""

    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh


@dataclass(frozen=True)
class Region:
    """One division. ``parent`` is the administrative parent used for scope (``None`` only for the root);
    ``statistical_parent`` is the GB/T 2260 parent, which differs only for directly administered cities."""

    code: str
    name: str
    level: RegionLevel
    parent: str | None
    directly_administered: bool
    statistical_parent: str | None


@dataclass(frozen=True)
class _Table:
    by_code: MappingProxyType[str, Region]
    children: MappingProxyType[str, tuple[str, ...]]


def _read_data(name: str) -> str:
    # Resolved relative to the installed package, so it works from a wheel, an editable install and CI alike.
    return files("policy").joinpath("data", name).read_text(encoding="utf-8")


def _parse_bool(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise RuntimeError(f"{where}: directly_administered must be true or false, got {value!r}")
    return v == "true"


def _build_table(rows: Iterable[dict[str, str]]) -> _Table:
    """Build and check the tree. A broken data file is a deployment bug, not bad user input, so it raises
    ``RuntimeError`` (never ``RegionError``, which callers turn into a message for staff)."""
    by_code: dict[str, Region] = {}
    for row in rows:
        code = row["code"].strip()
        where = f"{_REGIONS_CSV} {code}"
        level = row["level"].strip()
        if not _is_well_formed(code):
            raise RuntimeError(f"{where}: code must be 6 digits starting with 15")
        if level not in _LEVELS:
            raise RuntimeError(f"{where}: unknown level {level!r}")
        if code in by_code:
            raise RuntimeError(f"{where}: duplicate code")
        by_code[code] = Region(
            code=code,
            name=row["name"].strip(),
            level=cast(RegionLevel, level),  # checked against _LEVELS just above
            parent=row["parent"].strip() or None,
            directly_administered=_parse_bool(row["directly_administered"], where),
            statistical_parent=row["statistical_parent"].strip() or None,
        )
    children: dict[str, list[str]] = {}
    for r in by_code.values():
        if r.parent is None:
            if r.code != REGION_ROOT:
                raise RuntimeError(f"{_REGIONS_CSV} {r.code}: only {REGION_ROOT} may have no parent")
            continue
        for p in (r.parent, r.statistical_parent):
            if p is not None and p not in by_code:
                raise RuntimeError(f"{_REGIONS_CSV} {r.code}: parent {p} is not in the table")
        children.setdefault(r.parent, []).append(r.code)
    if REGION_ROOT not in by_code:
        raise RuntimeError(f"{_REGIONS_CSV}: the root {REGION_ROOT} is missing")
    return _Table(
        by_code=MappingProxyType(dict(sorted(by_code.items()))),
        children=MappingProxyType({k: tuple(sorted(v)) for k, v in children.items()}),
    )


@cache
def _table() -> _Table:
    return _build_table(csv.DictReader(io.StringIO(_read_data(_REGIONS_CSV))))


def _is_well_formed(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit() and code.startswith("15")


def _normalise(code: object) -> str:
    if not isinstance(code, str):
        raise RegionError("region.format", "地区码应为6位数字")
    c = code.strip()
    if len(c) != 6 or not c.isascii() or not c.isdigit():
        raise RegionError("region.format", "地区码应为6位数字")
    return c


def get_region(code: str) -> Region:
    """Return the division for ``code``; raise ``RegionError`` ("region.format" for anything that is not six
    digits, "region.unknown" for six digits that are not a current Inner Mongolia division). Abolished codes
    are unknown on purpose: a case must be filed under a division that still has an office."""
    c = _normalise(code)
    region = _table().by_code.get(c)
    if region is None:
        raise RegionError("region.unknown", f"地区码{c}不是内蒙古自治区现行行政区划代码")
    return region


def is_known_region(code: str) -> bool:
    try:
        get_region(code)
    except RegionError:
        return False
    return True


def ancestors(code: str) -> list[Region]:
    """The administrative ancestors of ``code``, nearest first, ending with the root (empty for the root).
    Follows ``parent``, so a directly administered city's only ancestor is the autonomous region."""
    table = _table()
    out: list[Region] = []
    parent = get_region(code).parent
    while parent is not None:
        region = table.by_code[parent]
        out.append(region)
        parent = region.parent
    return out


def is_within(scope_code: str, code: str) -> bool:
    """True when staff scoped at ``scope_code`` may see a case filed in ``code``: the same division or one
    of its administrative ancestors. Unknown or malformed codes raise rather than return False, so that a
    data error is not mistaken for a plain "not authorised"."""
    scope = get_region(scope_code)
    target = get_region(code)
    return scope.code == target.code or any(a.code == scope.code for a in ancestors(target.code))


def children(code: str) -> list[Region]:
    """Direct administrative children, by code."""
    table = _table()
    return [table.by_code[c] for c in table.children.get(get_region(code).code, ())]


def descendants(code: str) -> list[Region]:
    """Every division below ``code`` (not itself), depth first, each followed by its own children."""
    out: list[Region] = []
    for child in children(code):
        out.append(child)
        out.extend(descendants(child.code))
    return out


def subtree_codes(code: str) -> frozenset[str]:
    """``code`` and all its descendants: what a staff member scoped at ``code`` may see, ready for an SQL
    ``IN`` filter on the case read model."""
    return frozenset([get_region(code).code, *(r.code for r in descendants(code))])


def leagues() -> list[Region]:
    """The 12 leagues and prefecture-level cities, by code."""
    return [r for r in _table().by_code.values() if r.level == "league"]


def full_name(code: str) -> str:
    """Human-readable name for letters and the console, e.g. "呼伦贝尔市 海拉尔区". Uses the statistical
    parent, because 满洲里市 is still written "呼伦贝尔市 满洲里市" in addresses even though its cases are
    administered by the autonomous region. The autonomous region's name is left out below the root."""
    table = _table()
    region = get_region(code)
    names = [region.name]
    parent = region.statistical_parent
    while parent is not None and parent != REGION_ROOT:
        p = table.by_code[parent]
        names.append(p.name)
        parent = p.statistical_parent
    return " ".join(reversed(names))


# --- stop-reason dispute delegation -------------------------------------------------------------------


@cache
def _dispute_rules() -> MappingProxyType[tuple[str, str], frozenset[str]]:
    """(case_region, level) -> reviewing regions, from ``dispute_authority.csv``. Lines starting with "#"
    are comments. Every code must be a known division and every level one of initial|second|final, checked
    at load so that a typo cannot silently fall back to the default."""
    lines = [ln for ln in _read_data(_DISPUTE_CSV).splitlines() if not ln.lstrip().startswith("#")]
    rules: dict[tuple[str, str], set[str]] = {}
    for row in csv.DictReader(lines):
        case_region = row["case_region"].strip()
        reviewer = row["reviewing_region"].strip()
        for c in (case_region, reviewer):
            if c not in _table().by_code:
                raise RuntimeError(f"{_DISPUTE_CSV}: unknown region {c!r}")
        levels = [lv.strip() for lv in row["levels"].split("|") if lv.strip()]
        if not levels or any(lv not in _DISPUTE_LEVELS for lv in levels):
            raise RuntimeError(f"{_DISPUTE_CSV}: bad levels {row['levels']!r} for {case_region}")
        for lv in levels:
            rules.setdefault((case_region, lv), set()).add(reviewer)
    return MappingProxyType({k: frozenset(v) for k, v in rules.items()})


def _league_of(region: Region) -> str:
    """The league-level office responsible for ``region``: itself if it is a league, its administrative
    parent otherwise. For a directly administered city (and the root) that is the autonomous region."""
    if region.level == "league":
        return region.code
    return region.parent or REGION_ROOT


def _default_reviewers(region: Region, level: str) -> frozenset[str]:
    if level == "initial":
        return frozenset({region.code, REGION_ROOT})
    return frozenset({_league_of(region), REGION_ROOT})


def dispute_reviewer_regions(case_region: str, level: DisputeLevel) -> frozenset[str]:
    """Which regions' staff may review a stop-reason dispute about a case in ``case_region`` at ``level``.

    Rows of ``dispute_authority.csv`` for exactly this (case_region, level) replace the default; rows are
    exact-code matches, not inherited by a league's banners. The default: the case's own banner (or
    whatever division it was filed in) reviews ``initial``; its league reviews ``second`` and ``final``;
    the autonomous region may review every level. Separation of duties between levels is per person and
    is checked by the caller, not here.
    """
    region = get_region(case_region)
    if level not in _DISPUTE_LEVELS:
        raise RegionError("region.dispute_level", "复核层级应为 initial、second 或 final")
    override = _dispute_rules().get((region.code, level))
    return override if override is not None else _default_reviewers(region, level)
