"""Host values of declared variables: Python's ``int``, ``datetime`` and ``timedelta`` read
as CEL ``uint`` (or ``double``), ``timestamp`` and ``duration``.

The runtime gives these kinds classes of their own (:class:`UInt`, :class:`Timestamp`,
:class:`Duration`), which a caller filling an activation does not naturally use: a
``uint`` variable given ``5`` was an ``int`` (``u + 1u`` had no overload, ``type(u)`` was
``int``), a ``double`` given ``2`` was an ``int`` (``d / 4.0`` had no overload) and a
``timestamp`` given a ``datetime`` had no overload at all, where cel-cpp converts the host
value by the declaration. Generated code reads a variable whose declared
type mentions one of these kinds through :func:`host_value` (others are read as they are, at
no cost). Only what the declaration says is converted.

Integers outside CEL's 64 bits (a JSON number such as ``1e30`` written ``10**30`` reaches
Python as an ``int``) never act as Python's unbounded ``int``: where the declaration says
``int`` or ``uint`` (alone or in a list or map) reading one is an evaluation error, as
cel-cpp refuses such a host value; where it says ``dyn`` (a JSON value: ``map(string,
dyn)``, an undeclared variable) the number is the ``double`` a JSON number is in CEL
(langdef, "JSON Data Conversion"). A map key out of range is an error either way (a double
is no map key). Containers are walked when read and copied only when something changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from ..types import Type, parse_type
from .values import UINT64_MAX, CelError, Duration, Timestamp, UInt

__all__ = ["HOST_KINDS", "PLAIN", "host_value", "needs_host"]

HOST_KINDS = frozenset({"int", "uint", "double", "timestamp", "duration", "dyn"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_Conv = Callable[[object], object]
PLAIN = frozenset({str, float, bool, type(None), bytes})
"""The classes a ``dyn`` value is read as it is without a look (generated code's inline test)."""


def needs_host(t: Type) -> bool:
    """Whether a value of declared type ``t`` may hold a host value to convert."""
    return t.kind in HOST_KINDS or (t.kind in ("list", "map") and any(needs_host(p) for p in t.params))


def host_value(value: object, declared: str) -> object:
    """``value`` (a variable of the declared type ``declared``) as the runtime's value."""
    try:
        return _converter(declared)(value)
    except RecursionError:
        raise CelError("a variable's value is nested too deeply to read") from None


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
    if t.kind == "list" and needs_host(t):
        item = _build(t.params[0])
        return lambda v: _list(v, item) if type(v) is list else v
    if t.kind == "map" and needs_host(t):
        key = _build(t.params[0]) if t.params[0].kind != "dyn" else _key
        val = _build(t.params[1])
        return lambda v: _map(v, key, val) if type(v) is dict else v
    return _same


def _same(v: object) -> object:
    return v


def _list(v: list, item: _Conv) -> list:
    if item is _int or item is _dyn:
        try:  # all numbers (C speed): in range at both ends, no int past 64 bits (a NaN fails the test)
            if not v or (_INT64_MIN <= min(v) and max(v) <= _INT64_MAX):
                return v
        except TypeError:  # not all numbers: element by element
            pass
    out = None
    for i, x in enumerate(v):
        y = item(x)
        if y is not x:
            if out is None:
                out = list(v)
            out[i] = y
    return v if out is None else out


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
    if type(v) is int and not _INT64_MIN <= v <= _INT64_MAX:
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
    try:
        return float(v)
    except OverflowError:
        raise CelError(f"number out of range: {v} is past the largest double", "out_of_range") from None


def _key(v: object) -> object:
    """A key of a ``dyn``-keyed map: an int out of range has no CEL value a key can have."""
    return _int(v)


def _dyn(v: object) -> object:
    """A value of type ``dyn``: an int past 64 bits is the double of a JSON number."""
    kind = type(v)
    if kind is int:
        return v if _INT64_MIN <= v <= _INT64_MAX else _float(v)
    if kind is list:
        return _list(v, _dyn)  # type: ignore[arg-type]
    if kind is dict:
        return _map(v, _key, _dyn)  # type: ignore[arg-type]
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
