"""Literals of protobuf's well-known messages (``google.protobuf.Int32Value{value: 1}``,
``google.protobuf.Struct{fields: {...}}``, ``google.protobuf.Duration{seconds: 10}``): each is
built as the CEL value it stands for, as cel-go and cel-cpp do (a wrapper is its primitive, a
``Value``, ``Struct`` or ``ListValue`` its JSON value, a ``Duration`` or ``Timestamp`` the time
value, an ``Any`` the value of the well-known message it packs, ``anyunpack.py``). No other
message type is supported. The checker's side is ``cel/wellknown.py``."""

from __future__ import annotations

import base64
import math
import struct

from .anyunpack import time_value, unpack
from .checks import type_name
from .host import dyn_value
from .values import CelError, Duration, Optional, Timestamp, UInt, format_duration, format_timestamp

_P = "google.protobuf."
FIELDS: dict[str, dict[str, str]] = {
    _P + "BoolValue": {"value": "bool"}, _P + "BytesValue": {"value": "bytes"},
    _P + "DoubleValue": {"value": "double"}, _P + "FloatValue": {"value": "double"},
    _P + "Int32Value": {"value": "int"}, _P + "Int64Value": {"value": "int"},
    _P + "UInt32Value": {"value": "uint"}, _P + "UInt64Value": {"value": "uint"},
    _P + "StringValue": {"value": "string"},
    _P + "Value": {"null_value": "int", "number_value": "double", "string_value": "string",
                   "bool_value": "bool", "struct_value": "map", "list_value": "list"},
    _P + "Struct": {"fields": "map"}, _P + "ListValue": {"values": "list"},
    _P + "Duration": {"seconds": "int", "nanos": "int"}, _P + "Timestamp": {"seconds": "int", "nanos": "int"},
    _P + "Any": {"type_url": "string", "value": "bytes"},
}  # fmt: skip
"""Each supported message's fields and the CEL kind of value each takes."""

_KIND_CLASSES = {"bool": (bool,), "bytes": (bytes,), "double": (float,), "int": (int,), "uint": (UInt,),
                 "string": (str,), "map": (dict,), "list": (list,)}
_DEFAULT = {"bool": False, "bytes": b"", "double": 0.0, "int": 0, "uint": UInt(0), "string": ""}
_INT32 = (-(2**31), 2**31 - 1)
_JSON_SAFE = 2**53 - 1


def build(name: str, inits: tuple[tuple[str, object, bool], ...]) -> object:
    """The value of ``name{field: value, ...}``; ``inits`` are (field, value, optional entry)."""
    fields = FIELDS[name]
    got: dict[str, object] = {}
    for field, value, optional in inits:
        kind = fields.get(field)
        if kind is None:
            raise CelError(f"no such field `{field}` in `{name}`", "no_such_field")
        if optional:
            if type(value) is not Optional:
                raise CelError(f"`?{field}` takes an optional, not {type_name(value)}", "no_matching_overload")
            if not value.present:
                continue
            value = value.value
        classes = _KIND_CLASSES[kind]
        if type(value) not in classes and not (kind == "map" and isinstance(value, dict)):
            raise CelError(f"field `{field}` of `{name}` takes {kind}, not {type_name(value)}", "no_matching_overload")
        got.pop(field, None)
        got[field] = value  # the last one set counts (a `Value`'s kind is a oneof)
    short = name[len(_P):]
    if short in ("Duration", "Timestamp"):
        return time_value(short, int(got.get("seconds", 0)), int(got.get("nanos", 0)))  # type: ignore[call-overload]
    if short == "Any":
        return unpack(got.get("type_url", ""), got.get("value", b""))  # type: ignore[arg-type]
    if short == "Value":
        return _value(*next(reversed(got.items()))) if got else None
    if short == "Struct":
        return to_json(got.get("fields", {}))
    if short == "ListValue":
        return to_json(got.get("values", []))
    kind = fields["value"]
    v = got.get("value", _DEFAULT[kind])
    if short == "Int32Value" and not _INT32[0] <= v <= _INT32[1]:  # type: ignore[operator]
        raise CelError("int64 to int32 overflow", "range")
    if short == "UInt32Value" and v >= 2**32:  # type: ignore[operator]
        raise CelError("uint64 to uint32 overflow", "range")
    if short == "FloatValue":
        return _float32(v)  # type: ignore[arg-type]
    return v


def _value(field: str, v: object) -> object:
    if field == "null_value":
        return None
    if field in ("struct_value", "list_value"):
        return to_json(v)
    return v


def _float32(d: float) -> float:
    """``d`` rounded to the nearest float (32 bits), an infinity past its range."""
    try:
        return struct.unpack("<f", struct.pack("<f", d))[0]
    except OverflowError:
        return math.copysign(math.inf, d)


def to_json(v: object) -> object:
    """A CEL value as a ``google.protobuf.Value`` holds it (protobuf's JSON mapping): numbers
    are doubles (an integer past 2^53 - 1 its decimal text), bytes base64, a duration or
    timestamp its JSON text, maps with string keys. A host value inside is read as a ``dyn``
    one is where it is taken out (a tuple as a list, an int past 64 bits as a double)."""
    v = dyn_value(v)
    t = type(v)
    if v is None or t is bool or t is str or t is float:
        return v
    if t is int or t is UInt:
        return float(v) if -_JSON_SAFE <= v <= _JSON_SAFE else str(v)  # type: ignore[operator, arg-type]
    if t is bytes:
        return base64.b64encode(v).decode("ascii")  # type: ignore[arg-type]
    if t is Duration:
        return format_duration(v)  # type: ignore[arg-type]
    if t is Timestamp:
        return format_timestamp(v)  # type: ignore[arg-type]
    if isinstance(v, (list, tuple)):  # a host tuple is a list (docs/cel.md)
        return [to_json(e) for e in v]
    if isinstance(v, dict):
        out = {}
        for k, e in v.items():
            if type(k) is not str:
                raise CelError(f"a JSON object's keys are strings, not {type_name(k)}", "invalid_argument")
            out[k] = to_json(e)
        return out
    raise CelError(f"{type_name(v)} has no JSON form", "invalid_argument")
