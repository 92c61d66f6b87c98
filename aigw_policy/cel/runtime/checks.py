"""What every CEL operation needs to say about a value: its type name and type value, the
range checks of int, uint, timestamp and duration results, and the errors they raise
(``no such overload``, overflow)."""

from __future__ import annotations

from .values import (
    DUR_MAX,
    DUR_MIN,
    INT64_MAX,
    INT64_MIN,
    TS_MAX,
    TS_MIN,
    UINT64_MAX,
    CelError,
    Duration,
    MixedKeyMap,
    Optional,
    Timestamp,
    TypeValue,
    UInt,
)

__all__ = ["TYPES", "check_dur", "check_int", "check_ts", "check_uint", "no_overload", "overflow", "type_name",
           "type_of"]


def type_name(v: object) -> str:
    t = type(v)
    name = _TYPE_NAMES.get(t)
    if name is not None:
        return name
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, dict):
        return "map"
    n = getattr(t, "cel_type_name", None)
    if n:
        return n
    return t.__name__


_TYPE_NAMES: dict[type, str] = {
    type(None): "null_type",
    bool: "bool",
    int: "int",
    UInt: "uint",
    float: "double",
    str: "string",
    bytes: "bytes",
    list: "list",
    tuple: "list",
    dict: "map",
    MixedKeyMap: "map",
    Timestamp: "google.protobuf.Timestamp",
    Duration: "google.protobuf.Duration",
    TypeValue: "type",
    Optional: "optional_type",
}

TYPES = {
    n: TypeValue(n)
    for n in (
        "null_type",
        "bool",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "list",
        "map",
        "type",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "optional_type",
        "dyn",
        "net.IP",
        "net.CIDR",
    )
}


def type_of(v: object) -> TypeValue:
    name = type_name(v)
    t = TYPES.get(name)
    return t if t is not None else TypeValue(name)


def no_overload(name: str, *args: object) -> CelError:
    kinds = ", ".join(type_name(a) for a in args)
    return CelError(f"no such overload: {name}({kinds})", "no_such_overload")


def overflow(op: str = "") -> CelError:
    return CelError(f"return error for overflow{': ' + op if op else ''}", "overflow")


# -- checks ---------------------------------------------------------------------------------


def check_int(r: int) -> int:
    if INT64_MIN <= r <= INT64_MAX:
        return r
    raise overflow()


def check_uint(r: int) -> UInt:
    if 0 <= r <= UINT64_MAX:
        return UInt(r)
    raise overflow()


def check_ts(ns: int) -> Timestamp:
    if TS_MIN <= ns <= TS_MAX:
        return Timestamp(ns)
    raise CelError("timestamp out of range", "range")


def check_dur(ns: int) -> Duration:
    if DUR_MIN <= ns <= DUR_MAX:
        return Duration(ns)
    raise CelError("duration out of range", "range")
