"""Effective-dated rule parameters, in the manner of OpenFisca's parameter files.

Why: every figure the law or a notice sets (minimum wage, benefit rates, bracket edges, subsidy
amounts, time limits, risk thresholds) changes by date, and several are UNCONFIRMED in domain.md.
Keeping them out of the code means an operator can add a new effective-dated value, or correct an
unconfirmed one, without a release, and an auditor can see which value and source a decision used.

Shape of a parameter document (YAML, already parsed)::

    parameters:
      benefit.rate.months_1_to_12:
        description: ...
        type: decimal            # decimal | int | bool | str | date | year_month | int_brackets
        unit: ratio
        values:
          - effective_from: 2024-08-01
            value: "0.95"        # decimals are written as strings, never floats
            status: confirmed    # or unconfirmed
            source: "内蒙古自治区失业保险实施办法（政府令第268号）第七条; domain.md B1"
            note: optional text

A value applies from its ``effective_from`` until the next value's date. Everything here is pure:
``packaged_parameters()`` reads only the YAML shipped inside this package (once, at import, so no
file access happens later inside a workflow) and ``merge_parameters()`` takes documents that the
application layer has already read.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import yaml

from models.rules import InvalidYearMonth, YearMonth
from policy.errors import PolicyError

# The pure-Python loader on purpose: libyaml's CSafeLoader fails when a Temporal workflow sandbox
# re-imports this module ("could not determine a constructor for the tag None").
_YamlLoader = yaml.SafeLoader

ValueType = Literal["decimal", "int", "bool", "str", "date", "year_month", "int_brackets"]
Status = Literal["confirmed", "unconfirmed"]
_VALUE_TYPES: frozenset[str] = frozenset(
    {"decimal", "int", "bool", "str", "date", "year_month", "int_brackets"}
)


@dataclass(frozen=True, slots=True)
class Bracket:
    """One row of a bracket table: ``value`` applies from ``lower`` (inclusive) up to the next row."""

    lower: int
    value: int


ParamValue: TypeAlias = Decimal | int | bool | str | date | YearMonth | tuple[Bracket, ...]


@dataclass(frozen=True, slots=True)
class ParameterEntry:
    """One effective-dated value of a parameter, with where it comes from."""

    name: str
    value: ParamValue
    effective_from: date
    source: str
    status: Status
    note: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for audit records and the API."""
        return {
            "name": self.name,
            "value": _jsonable(self.value),
            "effective_from": self.effective_from.isoformat(),
            "source": self.source,
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    description: str
    type: ValueType
    unit: str | None
    entries: tuple[ParameterEntry, ...]  # sorted by effective_from, dates unique


@dataclass(frozen=True, eq=False)
class ParameterSet:
    """An immutable set of parameters. ``version`` is a content hash: it changes whenever any value,
    date, source or status changes, so a recorded decision names exactly the rules it used."""

    parameters: Mapping[str, Parameter]
    version: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "version", _version_of(self.parameters))

    def names(self) -> list[str]:
        return sorted(self.parameters)

    def parameter(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            raise PolicyError("params.unknown", f"未定义的参数：{name}") from None

    def history(self, name: str) -> tuple[ParameterEntry, ...]:
        return self.parameter(name).entries

    def entry(self, name: str, as_of: date | None) -> ParameterEntry:
        """The value in force on ``as_of``. ``None`` means the latest value in the set, for rules
        that have no natural date (the statutory brackets, the retirement tables)."""
        entries = self.parameter(name).entries
        if not entries:
            raise PolicyError("params.no_value", f"参数“{name}”尚无取值，请业务主管部门确认后录入")
        if as_of is None:
            return entries[-1]
        found: ParameterEntry | None = None
        for e in entries:
            if e.effective_from <= as_of:
                found = e
            else:
                break
        if found is None:
            raise PolicyError(
                "params.no_value",
                f"参数“{name}”在{as_of.isoformat()}尚无生效取值（最早自{entries[0].effective_from.isoformat()}起）",
            )
        return found

    def value(self, name: str, as_of: date | None) -> ParamValue:
        return self.entry(name, as_of).value

    # Typed accessors: the rules use these so a wrongly typed operator value fails loudly.
    def decimal(self, name: str, as_of: date | None) -> Decimal:
        return _expect(self.value(name, as_of), Decimal, name)

    def integer(self, name: str, as_of: date | None) -> int:
        v = self.value(name, as_of)
        if isinstance(v, bool) or not isinstance(v, int):
            raise PolicyError("params.type", f"参数“{name}”类型应为整数")
        return v

    def flag(self, name: str, as_of: date | None) -> bool:
        return _expect(self.value(name, as_of), bool, name)

    def day(self, name: str, as_of: date | None) -> date:
        return _expect(self.value(name, as_of), date, name)

    def year_month(self, name: str, as_of: date | None) -> YearMonth:
        return _expect(self.value(name, as_of), YearMonth, name)

    def brackets(self, name: str, as_of: date | None) -> tuple[Bracket, ...]:
        v = self.value(name, as_of)
        if not isinstance(v, tuple):
            raise PolicyError("params.type", f"参数“{name}”类型应为分档表")
        return v


def _expect(v: ParamValue, t: type[Any], name: str) -> Any:
    if not isinstance(v, t) or (t is not bool and isinstance(v, bool)):
        raise PolicyError("params.type", f"参数“{name}”类型不正确")
    return v


def bracket_lookup(table: tuple[Bracket, ...], x: int) -> int | None:
    """The value of the last row whose lower edge is <= x; ``None`` below the first row."""
    result: int | None = None
    for row in table:
        if row.lower <= x:
            result = row.value
        else:
            break
    return result


# ---------------------------------------------------------------------------------------------
# Parsing and merging


def _bad(name: str, what: str) -> PolicyError:
    return PolicyError("params.invalid", f"参数“{name}”定义有误：{what}")


def _parse_date(name: str, raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise _bad(name, f"日期格式应为YYYY-MM-DD：{raw!r}")


def _parse_value(name: str, vtype: ValueType, raw: Any) -> ParamValue:
    if vtype == "decimal":
        # Money and rates are exact: a YAML float (0.95) is refused, write "0.95".
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise _bad(name, f'金额和比例须写成字符串，例如"0.95"：{raw!r}')
        try:
            d = Decimal(str(raw).strip())
        except InvalidOperation:
            raise _bad(name, f"不是有效的数值：{raw!r}") from None
        if not d.is_finite():
            raise _bad(name, f"不是有效的数值：{raw!r}")
        return d
    if vtype == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _bad(name, f"应为整数：{raw!r}")
        return raw
    if vtype == "bool":
        if not isinstance(raw, bool):
            raise _bad(name, f"应为true或false：{raw!r}")
        return raw
    if vtype == "str":
        if not isinstance(raw, str):
            raise _bad(name, f"应为文字：{raw!r}")
        return raw
    if vtype == "date":
        return _parse_date(name, raw)
    if vtype == "year_month":
        if isinstance(raw, str):
            try:
                return YearMonth.parse(raw)
            except InvalidYearMonth:
                pass
        raise _bad(name, f"年月格式应为YYYY-MM：{raw!r}")
    # int_brackets
    if not isinstance(raw, list) or not raw:
        raise _bad(name, "分档表应为非空列表")
    rows: list[Bracket] = []
    for item in raw:
        if not isinstance(item, Mapping) or set(item) != {"from", "value"}:
            raise _bad(name, "分档表每行应为 {from: 整数, value: 整数}")
        lo, val = item["from"], item["value"]
        if any(isinstance(x, bool) or not isinstance(x, int) for x in (lo, val)):
            raise _bad(name, "分档表的 from 和 value 应为整数")
        if rows and lo <= rows[-1].lower:
            raise _bad(name, "分档表的 from 应严格递增")
        rows.append(Bracket(lo, val))
    return tuple(rows)


def _parse_entries(name: str, vtype: ValueType, raw_values: Any) -> list[ParameterEntry]:
    if not isinstance(raw_values, list):
        raise _bad(name, "values 应为列表")
    out: list[ParameterEntry] = []
    for raw in raw_values:
        if not isinstance(raw, Mapping):
            raise _bad(name, "values 的每一项应为映射")
        unknown = set(raw) - {"effective_from", "value", "status", "source", "note"}
        if unknown:
            raise _bad(name, f"未知字段：{', '.join(sorted(map(str, unknown)))}")
        for key in ("effective_from", "value", "status", "source"):
            if key not in raw:
                raise _bad(name, f"缺少 {key}")
        status = raw["status"]
        if status not in ("confirmed", "unconfirmed"):
            raise _bad(name, "status 应为 confirmed 或 unconfirmed")
        source = raw["source"]
        if not isinstance(source, str) or not source.strip():
            raise _bad(name, "必须注明来源（source）")
        note = raw.get("note")
        if note is not None and not isinstance(note, str):
            raise _bad(name, "note 应为文字")
        out.append(
            ParameterEntry(
                name=name,
                value=_parse_value(name, vtype, raw["value"]),
                effective_from=_parse_date(name, raw["effective_from"]),
                source=source.strip(),
                status=status,
                note=note,
            )
        )
    return out


def _sorted_unique(name: str, entries: Iterable[ParameterEntry]) -> tuple[ParameterEntry, ...]:
    result = sorted(entries, key=lambda e: e.effective_from)
    for a, b in itertools.pairwise(result):
        if a.effective_from == b.effective_from:
            raise _bad(name, f"同一生效日期出现两次：{a.effective_from.isoformat()}")
    return tuple(result)


def _doc_parameters(doc: Any) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("parameters"), Mapping):
        raise PolicyError("params.invalid", "参数文件应以 parameters: 开头")
    params: Mapping[str, Any] = doc["parameters"]
    return params


def parse_parameter_docs(docs: Iterable[Any]) -> ParameterSet:
    """Build a set from complete parameter documents (each parameter fully declared once)."""
    out: dict[str, Parameter] = {}
    for doc in docs:
        for name, spec in _doc_parameters(doc).items():
            if not isinstance(name, str) or not isinstance(spec, Mapping):
                raise PolicyError("params.invalid", f"参数定义有误：{name!r}")
            if name in out:
                raise _bad(name, "重复定义")
            vtype = spec.get("type")
            if vtype not in _VALUE_TYPES:
                raise _bad(name, f"type 应为 {', '.join(sorted(_VALUE_TYPES))} 之一")
            description = spec.get("description")
            if not isinstance(description, str) or not description.strip():
                raise _bad(name, "缺少说明（description）")
            unit = spec.get("unit")
            out[name] = Parameter(
                name=name,
                description=description.strip(),
                type=vtype,
                unit=str(unit) if unit is not None else None,
                entries=_sorted_unique(name, _parse_entries(name, vtype, spec.get("values", []))),
            )
    return ParameterSet(out)


def merge_parameters(base: ParameterSet, extra_docs: Iterable[Any]) -> ParameterSet:
    """Overlay operator documents on ``base`` and return a new set (``base`` is untouched).

    Pure: the application layer reads the operator directory and passes the parsed YAML here.
    An extra document names existing parameters and lists ``values`` in the same shape as the
    packaged files; a value with a new date is added, a value with an existing date replaces
    that one (e.g. to confirm an unconfirmed figure). Unknown names are refused, so a typo cannot
    silently leave the packaged value in force. ``type`` may be restated but not changed.
    """
    merged: dict[str, Parameter] = dict(base.parameters)
    for doc in extra_docs:
        for name, spec in _doc_parameters(doc).items():
            if name not in merged:
                raise PolicyError("params.unknown", f"未定义的参数：{name}（运营方只能为已有参数增加取值）")
            if not isinstance(spec, Mapping):
                raise _bad(name, "定义应为映射")
            current = merged[name]
            if "type" in spec and spec["type"] != current.type:
                raise _bad(name, f"类型不可更改（原为 {current.type}）")
            new_entries = _parse_entries(name, current.type, spec.get("values", []))
            _sorted_unique(name, new_entries)  # no duplicate dates within one document
            by_date = {e.effective_from: e for e in current.entries}
            for e in new_entries:
                by_date[e.effective_from] = e
            merged[name] = Parameter(
                name=name,
                description=current.description,
                type=current.type,
                unit=current.unit,
                entries=_sorted_unique(name, by_date.values()),
            )
    return ParameterSet(merged)


def _jsonable(v: ParamValue) -> Any:
    if isinstance(v, bool | int | str):
        return v
    if isinstance(v, Decimal | YearMonth):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    return [{"from": b.lower, "value": b.value} for b in v]


def _version_of(parameters: Mapping[str, Parameter]) -> str:
    canon = {
        name: {
            "type": p.type,
            "entries": [
                [e.effective_from.isoformat(), _jsonable(e.value), e.status, e.source] for e in p.entries
            ],
        }
        for name, p in sorted(parameters.items())
    }
    digest = hashlib.sha256(json.dumps(canon, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return f"params-{digest[:12]}"


def _load_packaged() -> ParameterSet:
    root = resources.files("policy.params")
    docs = [
        yaml.load(f.read_text(encoding="utf-8"), Loader=_YamlLoader)
        for f in sorted(root.iterdir(), key=lambda p: p.name)
        if f.name.endswith(".yaml")
    ]
    return parse_parameter_docs(docs)


# Loaded once at import: the files are compiled-in data, and no file is opened later (a workflow
# sandbox forbids ``open``).
_PACKAGED = _load_packaged()


def packaged_parameters() -> ParameterSet:
    """The parameter set shipped with this release."""
    return _PACKAGED


def resolve(params: ParameterSet | None) -> ParameterSet:
    return _PACKAGED if params is None else params
