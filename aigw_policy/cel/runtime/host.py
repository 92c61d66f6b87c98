"""Host values of declared variables: Python's ``int``, ``datetime`` and ``timedelta`` read
as CEL ``uint`` (or ``double``), ``timestamp`` and ``duration``.

The runtime gives these kinds classes of their own (:class:`UInt`, :class:`Timestamp`,
:class:`Duration`), which a caller filling an activation does not naturally use: a
``uint`` variable given ``5`` was an ``int`` (``u + 1u`` had no overload, ``type(u)`` was
``int``), a ``double`` given ``2`` was an ``int`` (``d / 4.0`` had no overload) and a
``timestamp`` given a ``datetime`` had no overload at all, where cel-cpp converts the host
value by the declaration; given RFC 3339 text (a timestamp in JSON, as protobuf's JSON
mapping writes one: a REQUEST.json's ``conn.ts.start``) it is that timestamp. Generated code reads a variable whose declared
type mentions one of these kinds through :func:`host_value` (others are read as they are, at
no cost). Only what the declaration says is converted.

Integers outside CEL's 64 bits (a JSON number such as ``1e30`` written ``10**30`` reaches
Python as an ``int``) never act as Python's unbounded ``int``: where the declaration says
``int`` or ``uint`` (alone or in a list or map, walked when read and copied only when
something changes) reading one is an evaluation error, as cel-cpp refuses such a host value;
where the value is a ``dyn`` (a variable so declared or undeclared, or what a select, an
index or a comprehension takes out of a ``dyn`` list or map: JSON data) the number is the
``double`` a JSON number is in CEL (langdef, "JSON Data Conversion"; past the largest double
an infinity, as a JSON parser reads ``1e400``), converted where it is taken, so that reading
a large ``dyn`` costs nothing until its parts are used. A ``dyn``-keyed map's key out of
range is an error (a double is no map key).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from ..types import Type, parse_type
from .timefmt import parse_timestamp
from .values import INT64_MAX, INT64_MIN, UINT64_MAX, CelError, Duration, Timestamp, UInt

__all__ = ["HOST_KINDS", "dyn_items", "dyn_value", "host_value", "needs_host"]

HOST_KINDS = frozenset({"int", "uint", "double", "timestamp", "duration", "dyn"})
_CONVERTED = HOST_KINDS - {"dyn"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_Conv = Callable[[object], object]


def needs_host(t: Type) -> bool:
    """Whether a value of declared type ``t`` may be (or hold) a host value to convert (a
    ``dyn`` inside a list or map is converted where it is selected, indexed or iterated:
    :func:`dyn_value`, :func:`dyn_items`)."""
    return t.kind in HOST_KINDS or _holds_host(t)


def _holds_host(t: Type) -> bool:
    return t.kind in ("list", "map") and any(p.kind in _CONVERTED or _holds_host(p) for p in t.params)


def host_value(value: object, declared: str) -> object:
    """``value`` (a variable of the declared type ``declared``) as the runtime's value."""
    return _converter(declared)(value)


@lru_cache(maxsize=256)
def _converter(declared: str) -> _Conv:
    return _build(parse_type(declared))


def _build(t: Type) -> _Conv:
    if t.kind == "int":
        return _int
    if t.kind == "uint":
        return _uint
    if t.kind == "dyn":
        return _dyn
    if t.kind == "double":
        return _double
    if t.kind == "timestamp":
        return _timestamp
    if t.kind == "duration":
        return _duration
    if t.kind == "list" and _holds_host(t):
        item = _build(t.params[0])
        return lambda v: _list(v, item) if type(v) is list else v
    if t.kind == "map" and _holds_host(t):
        key = _build(t.params[0]) if t.params[0].kind != "dyn" else _key
        val = _build(t.params[1])
        return lambda v: _map(v, key, val) if type(v) is dict else v
    return _same


def _same(v: object) -> object:
    return v


def _list(v: list, item: _Conv) -> list:
    if item is _int and (not v or _numbers_in_range(v)):
        return v
    out = None
    for i, x in enumerate(v):
        y = item(x)
        if y is not x:
            if out is None:
                out = list(v)
            out[i] = y
    return v if out is None else out


def _numbers_in_range(v: list) -> bool:
    """Whether ``v`` is all numbers, each int within 64 bits: its ends by ``min``/``max`` at C
    speed (ints compare with doubles exactly; a NaN makes the test fail, never pass)."""
    if type(v[0]) is not int and type(v[0]) is not float:
        return False
    try:
        return INT64_MIN <= min(v) and max(v) <= INT64_MAX
    except TypeError:  # not all numbers
        return False


def _map(v: dict, key: _Conv, val: _Conv) -> dict:
    out = None
    for k, x in v.items():
        k2, x2 = key(k), val(x)
        if out is None:
            if k2 is k and x2 is x:
                continue
            out = {}
            for k0, x0 in v.items():  # the entries before this one, as they are
                if k0 is k:
                    break
                out[k0] = x0
        out[k2] = x2
    return v if out is None else out


def _out_of_range(v: int, kind: str) -> CelError:
    return CelError(f"{kind} value out of range: {v} is not a 64-bit {kind}", "out_of_range")


def _int(v: object) -> object:
    if type(v) is int and not INT64_MIN <= v <= INT64_MAX:
        raise _out_of_range(v, "int")
    return v


def _uint(v: object) -> object:
    # exactly int: a bool is not a uint, a UInt is already one
    if type(v) is int:
        if not 0 <= v <= UINT64_MAX:
            raise _out_of_range(v, "uint")
        return UInt(v)
    return v


def _double(v: object) -> object:
    if type(v) is int or type(v) is UInt:  # a bool is not a number
        return _float(v)
    return v


def _float(v: int) -> float:
    """The double of an integer, an infinity past the largest (as a JSON parser reads `1e400`)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _key(v: object) -> object:
    """A key of a ``dyn``-keyed map: an int out of range has no CEL value a key can have."""
    return _int(v)


def dyn_value(v: object) -> object:
    """A ``dyn`` value from the host (a variable, or what a select, an index or an iteration
    takes out of a host list or map): an int past 64 bits is the double of a JSON number."""
    if type(v) is int and not INT64_MIN <= v <= INT64_MAX:
        return _float(v)
    return v


def dyn_items(v: object) -> object:
    """The range of a comprehension over a ``dyn``: a list's elements as :func:`dyn_value`
    (copied only when one changes; a list of numbers is tested by ``min``/``max``)."""
    if type(v) is list and v and not _numbers_in_range(v) and any(type(x) is int for x in v):
        return [dyn_value(x) for x in v]
    return v


_dyn = dyn_value


def _timestamp(v: object) -> object:
    if isinstance(v, datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)  # naive: UTC
        return Timestamp(_nanos(aware - _EPOCH))
    if type(v) is str:  # JSON's form of a timestamp (protobuf's JSON mapping): RFC 3339 text
        try:
            return parse_timestamp(v)
        except CelError:
            return v  # not a timestamp: no overload takes it, as before
    return v


def _duration(v: object) -> object:
    if isinstance(v, timedelta):
        ns = _nanos(v)
        if INT64_MIN <= ns <= INT64_MAX:
            return Duration(ns)
    return v


def _nanos(d: timedelta) -> int:
    return ((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds) * 1000
