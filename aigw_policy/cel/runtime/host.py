"""Host values of declared variables: Python's ``int``, ``datetime`` and ``timedelta`` read
as CEL ``uint`` (or ``double``), ``timestamp`` and ``duration``.

The runtime gives these kinds classes of their own (:class:`UInt`, :class:`Timestamp`,
:class:`Duration`), which a caller filling an activation does not naturally use: a
``uint`` variable given ``5`` was an ``int`` (``u + 1u`` had no overload, ``type(u)`` was
``int``), a ``double`` given ``2`` was an ``int`` (``d / 4.0`` had no overload) and a
``timestamp`` given a ``datetime`` had no overload at all, where cel-cpp converts the host
value by the declaration. Generated code reads a variable whose declared
type mentions one of these kinds through :func:`host_value` (others are read as they are, at
no cost). Only what the declaration says is converted: a ``dyn`` is taken as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from ..types import Type, parse_type
from .values import UINT64_MAX, Duration, Timestamp, UInt

__all__ = ["HOST_KINDS", "host_value", "needs_host"]

HOST_KINDS = frozenset({"uint", "double", "timestamp", "duration"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_Conv = Callable[[object], object]


def needs_host(t: Type) -> bool:
    """Whether a value of declared type ``t`` may hold a host value to convert."""
    return t.kind in HOST_KINDS or (t.kind in ("list", "map") and any(needs_host(p) for p in t.params))


def host_value(value: object, declared: str) -> object:
    """``value`` (a variable of the declared type ``declared``) as the runtime's value."""
    return _converter(declared)(value)


@lru_cache(maxsize=256)
def _converter(declared: str) -> _Conv:
    return _build(parse_type(declared))


def _build(t: Type) -> _Conv:
    if t.kind == "uint":
        return _uint
    if t.kind == "double":
        return _double
    if t.kind == "timestamp":
        return _timestamp
    if t.kind == "duration":
        return _duration
    if t.kind == "list" and needs_host(t):
        item = _build(t.params[0])
        return lambda v: [item(x) for x in v] if type(v) is list else v
    if t.kind == "map" and needs_host(t):
        key, val = _build(t.params[0]), _build(t.params[1])
        return lambda v: {key(k): val(x) for k, x in v.items()} if type(v) is dict else v
    return _same


def _same(v: object) -> object:
    return v


def _uint(v: object) -> object:
    # exactly int: a bool is not a uint, a UInt is already one
    if type(v) is int and 0 <= v <= UINT64_MAX:
        return UInt(v)
    return v


def _double(v: object) -> object:
    if type(v) is int or type(v) is UInt:  # a bool is not a number
        return float(v)
    return v


def _timestamp(v: object) -> object:
    if isinstance(v, datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)  # naive: UTC
        return Timestamp(_nanos(aware - _EPOCH))
    return v


def _duration(v: object) -> object:
    if isinstance(v, timedelta):
        ns = _nanos(v)
        if _INT64_MIN <= ns <= _INT64_MAX:
            return Duration(ns)
    return v


def _nanos(d: timedelta) -> int:
    return ((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds) * 1000
