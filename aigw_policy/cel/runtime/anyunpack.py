"""The value a ``google.protobuf.Any`` literal packs, as cel-cpp unpacks it: ``type_url`` names
a well-known message (after ``type.googleapis.com/`` or ``type.googleprod.com/``) and ``value``
is that message in protobuf's wire format. A wrapper is its primitive, a ``Duration`` or
``Timestamp`` the time value, a ``Value``, ``Struct`` or ``ListValue`` its JSON value.

The bytes are read as protobuf's parser reads them: the last of a repeated scalar counts, a
repeated message field is merged into the one before it (a ``Value``'s kind is a oneof, a
``ListValue`` appends, a ``Struct``'s entry replaces the entry of its key), a field of an
unknown number or of another wire type than its field's is skipped (groups included), text
must be UTF-8. Truncated input, a field number 0, wire types 6 and 7, a varint longer than
ten bytes, a message nested more than protobuf's 100 levels deep (a ``Struct``'s entry is one),
any other type (``Empty``,
``FieldMask``, ``Any`` itself, every message not well-known) or an empty ``type_url`` is an
error (``invalid_argument``)."""

from __future__ import annotations

import struct

from .checks import check_dur, check_ts
from .values import NS, CelError, Duration, Timestamp, UInt

_PREFIXES = ("type.googleapis.com/", "type.googleprod.com/")
_DEPTH = 100
_SECONDS_MAX = 315_576_000_000  # protobuf's Duration: +-10,000 years
_TS_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
_P = "google.protobuf."
_SCALARS = {  # wrapper -> (wire type of its field 1, read, default)
    "BoolValue": (0, lambda v: v != 0, False),
    "Int32Value": (0, lambda v: _signed(v & 0xFFFFFFFF, 32), 0),
    "Int64Value": (0, lambda v: _signed(v, 64), 0),
    "UInt32Value": (0, lambda v: UInt(v & 0xFFFFFFFF), UInt(0)),
    "UInt64Value": (0, UInt, UInt(0)),
    "DoubleValue": (1, lambda b: struct.unpack("<d", b)[0], 0.0),
    "FloatValue": (5, lambda b: struct.unpack("<f", b)[0], 0.0),
    "StringValue": (2, lambda b: _text(b), ""),
    "BytesValue": (2, bytes, b""),
}


def unpack(type_url: str, value: bytes) -> object:
    """The CEL value of ``google.protobuf.Any{type_url: type_url, value: value}``."""
    name = next((type_url[len(p):] for p in _PREFIXES if type_url.startswith(p)), None)
    if name is None or not name.startswith(_P):
        raise CelError(f"unable to find descriptor for type URL: {type_url!r}", "invalid_argument")
    short = name[len(_P):]
    if short in _SCALARS:
        wire, read, out = _SCALARS[short]
        for number, w, v in _fields(value):
            if number == 1 and w == wire:
                out = read(v)
        return out
    if short in ("Duration", "Timestamp"):
        seconds = nanos = 0
        for number, w, v in _fields(value):
            if number == 1 and w == 0:
                seconds = _signed(v, 64)  # type: ignore[arg-type]
            elif number == 2 and w == 0:
                nanos = _signed(v & 0xFFFFFFFF, 32)  # type: ignore[operator]
        return time_value(short, seconds, nanos)
    if short == "Value":
        return _json(_value(value, [None, None], 0))
    if short == "Struct":
        return _json(("struct", _struct(value, {}, 0)))
    if short == "ListValue":
        return _json(("list", _list(value, [], 0)))
    raise CelError(f"unable to unpack a google.protobuf.Any of {name!r}", "invalid_argument")


def time_value(kind: str, seconds: int, nanos: int) -> Timestamp | Duration:
    """A ``Duration`` or ``Timestamp`` message's value; out of its range an error."""
    if kind == "Duration":
        if not -_SECONDS_MAX <= seconds <= _SECONDS_MAX or not -NS < nanos < NS or seconds * nanos < 0:
            raise CelError(f"invalid duration: seconds {seconds}, nanos {nanos}", "invalid_argument")
        return check_dur(seconds * NS + nanos)  # durations are int64 nanoseconds (docs/cel.md)
    if not _TS_SECONDS[0] <= seconds <= _TS_SECONDS[1] or not 0 <= nanos < NS:
        raise CelError(f"invalid timestamp: seconds {seconds}, nanos {nanos}", "invalid_argument")
    return check_ts(seconds * NS + nanos)


def _error() -> CelError:
    return CelError("failed to unpack protocol buffer message", "invalid_argument")


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise _error() from None


def _varint(buf: bytes, i: int, most: int = 10) -> tuple[int, int]:
    out = shift = 0
    for _ in range(most):
        if i >= len(buf):
            raise _error()
        byte = buf[i]
        i += 1
        out |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return out & 0xFFFFFFFFFFFFFFFF, i
    raise _error()


def _fields(buf: bytes, depth: int = 0) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of each field of ``buf``, a message ``depth`` levels
    down: a varint as an int, a fixed 64 or 32 as its bytes, a length-delimited one as its
    bytes; groups are skipped (each one a level deeper)."""
    out: list[tuple[int, int, object]] = []
    i = 0
    groups: list[int] = []
    while i < len(buf):
        tag, i = _varint(buf, i, 5)  # a tag is at most five bytes, read as 32 bits
        number, wire = (tag & 0xFFFFFFFF) >> 3, tag & 7
        if number == 0:
            raise _error()
        v: object
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if i + size > len(buf):
                raise _error()
            v, i = buf[i:i + size], i + size
        elif wire == 2:
            size, i = _varint(buf, i, 5)  # a length is read as a 32-bit varint, at most 2^31 - 1
            size &= 0xFFFFFFFF
            if size > len(buf) - i:
                raise _error()
            v, i = buf[i:i + size], i + size
        elif wire == 3:
            groups.append(number)
            if depth + len(groups) > _DEPTH:
                raise _error()
            continue
        elif wire == 4:
            if not groups or groups.pop() != number:
                raise _error()
            continue
        else:
            raise _error()
        if not groups:
            out.append((number, wire, v))
    if groups:
        raise _error()
    return out


# A Value while it is read: [kind, payload], kind one of None (null or unset), "number",
# "string", "bool", "struct" (payload a dict of such values) or "list" (a list of them).
def _value(buf: bytes, into: list, depth: int) -> list:
    if depth > _DEPTH:
        raise _error()
    for number, w, v in _fields(buf, depth):
        if number == 1 and w == 0:
            into[:] = [None, None]
        elif number == 2 and w == 1:
            into[:] = ["number", struct.unpack("<d", v)[0]]  # type: ignore[arg-type]
        elif number == 3 and w == 2:
            into[:] = ["string", _text(v)]  # type: ignore[arg-type]
        elif number == 4 and w == 0:
            into[:] = ["bool", v != 0]
        elif number == 5 and w == 2:  # a second struct_value merges into the first
            merged = into[1] if into[0] == "struct" else {}
            into[:] = ["struct", _struct(v, merged, depth + 1)]  # type: ignore[arg-type]
        elif number == 6 and w == 2:
            appended = into[1] if into[0] == "list" else []
            into[:] = ["list", _list(v, appended, depth + 1)]  # type: ignore[arg-type]
    return into


def _struct(buf: bytes, into: dict, depth: int) -> dict:
    if depth > _DEPTH:
        raise _error()
    for number, w, v in _fields(buf, depth):
        if number == 1 and w == 2:
            if depth + 1 > _DEPTH:  # a map entry is a message of its own
                raise _error()
            key, value = "", [None, None]
            for n, w2, e in _fields(v, depth + 1):  # type: ignore[arg-type]
                if n == 1 and w2 == 2:
                    key = _text(e)  # type: ignore[arg-type]
                elif n == 2 and w2 == 2:
                    value = _value(e, value, depth + 2)  # type: ignore[arg-type]
            into[key] = value
    return into


def _list(buf: bytes, into: list, depth: int) -> list:
    if depth > _DEPTH:
        raise _error()
    for number, w, v in _fields(buf, depth):
        if number == 1 and w == 2:
            into.append(_value(v, [None, None], depth + 1))  # type: ignore[arg-type]
    return into


def _json(v: list | tuple) -> object:
    kind, payload = v
    if kind == "struct":
        return {k: _json(e) for k, e in payload.items()}
    if kind == "list":
        return [_json(e) for e in payload]
    return payload
