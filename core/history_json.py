"""Read a history file (the Temporal CLI/UI JSON format) about five times faster than the SDK.

Why: ``WorkflowHistory.from_json`` deep-copies the document and hands it to protobuf's generic
pure-Python JSON parser, which rebuilds a field table for every message it meets and parses every
timestamp with ``strptime``; for a claim history that is about as much CPU as replaying it, so a
``uiflow audit replay --dir`` spent half its time reading files. This parser walks the same
protobuf descriptors with per-type tables built once, and converts the only two well-known types a
history holds (Timestamp, Duration) directly.

It never guesses: anything it does not handle exactly (another well-known type, an enum name it
does not know, a malformed value) raises :class:`Unsupported`, and :func:`history_from_json` then
falls back to the SDK's parser for that file, so the result is always the SDK's. That it builds
the same protobuf as the SDK is checked byte for byte over every recorded history
(tests/replay/test_history_json.py).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory


class Unsupported(Exception):
    """A value this parser does not convert exactly; the SDK's parser reads the file instead."""


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d\d):(\d\d))"
)
_DURATION = re.compile(r"(-)?(\d+)(?:\.(\d{1,9}))?s")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nanos(frac: str | None) -> int:
    return int(frac.ljust(9, "0")) if frac else 0


def _timestamp(msg: Message, value: Any) -> None:
    m = _TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise Unsupported(f"timestamp {value!r}")
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    seconds = (when - _EPOCH) // _ONE_SECOND
    if sign:
        offset = int(oh) * 3600 + int(om) * 60
        seconds += -offset if sign == "+" else offset
    assert isinstance(msg, Timestamp)
    msg.seconds, msg.nanos = seconds, _nanos(frac)


def _duration(msg: Message, value: Any) -> None:
    m = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise Unsupported(f"duration {value!r}")
    neg, secs, frac = m.groups()
    seconds, nanos = int(secs), _nanos(frac)
    assert isinstance(msg, Duration)
    msg.seconds, msg.nanos = (-seconds, -nanos) if neg else (seconds, nanos)


_ONE_SECOND = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC) - _EPOCH
_WELL_KNOWN: dict[str, Callable[[Message, Any], None]] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
}

_INTS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Unsupported(f"integer {value!r}")
    return int(value)  # int64 fields are JSON strings


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise Unsupported(f"bytes {value!r}")
    encoded = value.encode()
    return base64.urlsafe_b64decode(encoded + b"=" * (4 - len(encoded) % 4))  # as protobuf's parser


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Unsupported(f"bool {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise Unsupported(f"string {value!r}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unsupported(f"number {value!r}")
    return float(value)


def _enum(enum: EnumDescriptor) -> Callable[[Any], int]:
    by_name = enum.values_by_name

    def convert(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        v = by_name.get(value) if isinstance(value, str) else None
        if v is None:  # e.g. the older PascalCase form, which the SDK's reader rewrites
            raise Unsupported(f"enum {enum.full_name} {value!r}")
        return int(v.number)

    return convert


def _scalar(field: FieldDescriptor) -> Callable[[Any], Any]:
    t = field.type
    if t in _INTS:
        return _int
    if t == FieldDescriptor.TYPE_BYTES:
        return _bytes
    if t == FieldDescriptor.TYPE_BOOL:
        return _bool
    if t == FieldDescriptor.TYPE_STRING:
        return _str
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return _float
    if t == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return _enum(field.enum_type)
    raise Unsupported(f"field type {t}")


# A field's filler: (message, JSON value) -> None, setting that field on the message.
Filler = Callable[[Message, Any], None]


@cache
def _fillers(desc: Descriptor) -> dict[str, Filler]:
    """Per message type, once: every field by its JSON name and its proto name."""
    table: dict[str, Filler] = {}
    for field in desc.fields:
        filler = _filler(field)
        table[field.json_name] = filler
        table[field.name] = filler
    return table


def _filler(field: FieldDescriptor) -> Filler:
    name = field.name
    sub = field.message_type
    if sub is not None and sub.GetOptions().map_entry:
        key_of = _scalar(sub.fields_by_name["key"])
        value_field = sub.fields_by_name["value"]
        if value_field.message_type is not None:
            value_type = value_field.message_type

            def fill_message_map(msg: Message, value: Any) -> None:
                target = getattr(msg, name)
                for k, v in _object(value).items():
                    _fill(target[key_of(k)], v, value_type)

            return fill_message_map
        value_of = _scalar(value_field)

        def fill_scalar_map(msg: Message, value: Any) -> None:
            target = getattr(msg, name)
            for k, v in _object(value).items():
                target[key_of(k)] = value_of(v)

        return fill_scalar_map
    repeated = field.is_repeated
    if sub is not None:
        if repeated:

            def fill_messages(msg: Message, value: Any) -> None:
                target = getattr(msg, name)
                for v in _array(value):
                    _fill(target.add(), v, sub)

            return fill_messages

        def fill_message(msg: Message, value: Any) -> None:
            child = getattr(msg, name)
            child.SetInParent()
            _fill(child, value, sub)

        return fill_message
    convert = _scalar(field)
    if repeated:

        def fill_scalars(msg: Message, value: Any) -> None:
            getattr(msg, name).extend(convert(v) for v in _array(value))

        return fill_scalars

    def fill_scalar(msg: Message, value: Any) -> None:
        setattr(msg, name, convert(value))

    return fill_scalar


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Unsupported(f"object {value!r}")
    return value


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Unsupported(f"array {value!r}")
    return value


def _fill(msg: Message, value: Any, desc: Descriptor) -> None:
    well_known = _WELL_KNOWN.get(desc.full_name)
    if well_known is not None:
        well_known(msg, value)
        return
    if desc.full_name.startswith("google.protobuf."):
        raise Unsupported(desc.full_name)
    table = _fillers(desc)
    for key, v in _object(value).items():
        if v is None:  # JSON null: the field stays unset, as protobuf's parser does
            continue
        filler = table.get(key)
        if filler is not None:  # an unknown field is ignored, as the SDK's reader does
            filler(msg, v)


def parse_history(doc: Any) -> History:
    """The history protobuf of a parsed JSON document; :class:`Unsupported` if not exact."""
    history = History()
    _fill(history, doc, History.DESCRIPTOR)
    return history


def history_from_json(workflow_id: str, text: str) -> WorkflowHistory:
    """The history of one JSON file: the fast parser, or the SDK's where it cannot be exact."""
    doc = json.loads(text)
    try:
        return WorkflowHistory(workflow_id, list(parse_history(doc).events))
    except Unsupported:
        return WorkflowHistory.from_json(workflow_id, text)
