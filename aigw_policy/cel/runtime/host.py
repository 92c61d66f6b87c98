"""Host values of declared variables: Python's ``int``, ``datetime`` and ``timedelta`` read
as CEL ``uint`` (or ``double``), ``timestamp`` and ``duration``; a value of another type than
the declared one an error (docs/cel.md, "Host values of declared variables").

The declaration decides, as in cel-cpp's binding: under ``int`` a ``bool`` is 0 or 1 and a
float, a str, None, a list... are errors (``invalid_argument``, naming the variable), under
``double`` an ``int`` or a ``bool`` is its double, under ``dyn`` a ``datetime`` or a
``timedelta`` is no CEL value. ``string``, ``bool`` and ``bytes`` are checked only where the
environment's activations are not typed already (``needs_host(t, text=True)``; the engine's
are, by its request check), and so is any list or map: walked where its elements are numbers,
times, strings, bools or bytes (a map's keys with them), else tested for its class only (a
``list(dyn)``, a ``map(string, dyn)``: cel-cpp walks those too, once when bound; we would on
each read). Where the activation is typed, a list or map is walked only for its numbers and times. Generated code tests the common case inline (:func:`inline_class`, ``PLAIN``).

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
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from ..types import Type, parse_type
from .timefmt import parse_timestamp
from .values import INT64_MAX, INT64_MIN, UINT64_MAX, CelError, Duration, Optional, Timestamp, TypeValue, UInt

__all__ = ["HOST_KINDS", "PLAIN", "dyn_items", "dyn_value", "host_class", "host_value", "inline_class", "needs_host"]

HOST_KINDS = frozenset({"int", "uint", "double", "timestamp", "duration", "dyn"})
CHECKED_KINDS = frozenset({"string", "bool", "bytes"})
"""Kinds whose Python value is taken as it is when of the right type, else an error, checked
only where the environment asks for it (``needs_host(t, text=True)``): the engine's own
activation is typed already (its request check), and these are its most read variables.
Where the activation is typed, a list or a map is looked at only where its elements' kind is
one of ``HOST_KINDS`` (else read at no cost, whatever it is: a ``map(string, dyn)`` is the
common host variable)."""
_CONVERTED = HOST_KINDS - {"dyn"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_Conv = Callable[[object], object]


def needs_host(t: Type, text: bool = False) -> bool:
    """Whether a value of declared type ``t`` may be (or hold) a host value to convert or
    check (a ``dyn`` inside a list or map is converted where it is selected, indexed or
    iterated: :func:`dyn_value`, :func:`dyn_items`); ``text``: a ``string``, ``bool`` or
    ``bytes`` too is checked, and any list or map (an environment whose activation is not
    typed already)."""
    return t.kind in HOST_KINDS or _holds_host(t) or text and t.kind in CHECKED_KINDS | _CONTAINERS


_CONTAINERS = frozenset({"list", "map"})


def host_types(decls: Mapping[str, Type], text: bool = False) -> dict[str, str]:
    """The declared types, as text :func:`host_value` reads, of the variables whose values
    :func:`needs_host` converts or checks. A type parameter (``T`` of ``list(T)``, as a
    conformance file's ``type_env`` may declare) or an opaque type of no known text stands for
    any value: it is read as ``dyn`` (the declared text made the code generator fail)."""
    return {n: str(e) for n, t in decls.items() if needs_host(e := _erase(t), text=text)}


def _erase(t: Type) -> Type:
    """``t`` with its type parameters and unreadable opaque types made ``dyn`` (``t`` itself
    when it holds none: every compile reads every declaration, so this is kept cheap)."""
    return _erased(t) if t.params or t.kind in _ERASED_KINDS else t


_ERASED_KINDS = frozenset({"param", "opaque"})


@lru_cache(maxsize=1024)
def _erased(t: Type) -> Type:
    if t.kind == "param":
        return Type("dyn")
    t = Type(t.kind, tuple(_erase(p) for p in t.params), t.name) if t.params else t
    if t.kind == "opaque":
        try:
            return t if parse_type(str(t)) == t else Type("dyn")
        except ValueError:
            return Type("dyn")
    return t


def _holds_host(t: Type) -> bool:
    return t.kind in _CONTAINERS and any(p.kind in _CONVERTED or _holds_host(p) for p in t.params)


def _walked(t: Type) -> bool:
    """Whether a list or map of type ``t`` is walked when read: it holds numbers or times to
    convert, or strings, bools or bytes to check (a ``dyn`` or an object is taken as it is)."""
    return t.kind in _CONTAINERS and any(p.kind in _CONVERTED | CHECKED_KINDS or _walked(p) for p in t.params[-1:]) \
        or _holds_host(t)


_INLINE = {"double": "float", "string": "str", "bool": "bool", "bytes": "bytes"}


def inline_class(declared: str) -> str | None:
    """The Python class whose exact instances a variable of type ``declared`` is read as, as
    they are (generated code tests ``v.__class__ is C`` inline, else calls :func:`host_value`);
    None: every read calls it (a list or map that is walked, a time)."""
    if declared.startswith(("list(", "map(")):
        t = parse_type(declared)
        return None if _walked(t) else "list" if t.kind == "list" else "dict"
    return _INLINE.get(declared)


def host_value(value: object, declared: str, name: str = "") -> object:
    """``value`` (the variable ``name`` of the declared type ``declared``) as the runtime's
    value; a value of another type is an error (``invalid_argument``), as cel-cpp refuses it."""
    try:
        return _converter(declared)(value)
    except _WrongType as e:
        raise CelError(f"variable '{name}' is declared {declared}: {e.args[0]}", "invalid_argument") from None


def host_class(value: object, cls: type, declared: str, name: str) -> object:
    """:func:`host_value` with the common case first, where generated code cannot test it
    inline (a comprehension's range binds no ``:=``): ``value`` of the class ``cls`` as it is."""
    return value if value.__class__ is cls else host_value(value, declared, name)


class _WrongType(Exception):
    """A host value no CEL value of the declared kind (the message names both)."""


def _wrong(v: object, kind: str) -> _WrongType:
    return _WrongType(f"a Python {type(v).__name__} is no {kind}")


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
    if t.kind in _TEXT:
        return _TEXT[t.kind]
    if t.kind == "list":
        if not _walked(t):
            return lambda v: v if type(v) is list else _other_list(v)
        item = _build(t.params[0])
        return lambda v: _list(v, item) if type(v) is list else _other_list(v)
    if t.kind == "map":
        if not _walked(t):
            return lambda v: v if type(v) is dict else _other_map(v)
        key = _build(t.params[0]) if t.params[0].kind != "dyn" else _key
        val = _build(t.params[1])
        return lambda v: _map(v, key, val) if type(v) is dict else _other_map(v)
    return _same


def _same(v: object) -> object:
    return v


def _list(v: list, item: _Conv) -> list:
    if not v or item is _int and _ints_in_range(v) or _all_of(v, item):
        return v
    out = None
    for i, x in enumerate(v):
        y = item(x)
        if y is not x:
            if out is None:
                out = list(v)
            out[i] = y
    return v if out is None else out


def _ints_in_range(v: list) -> bool:
    """Whether ``v`` is all ``int`` (exactly), each within 64 bits, tested at C speed."""
    return set(map(type, v)) == _INT_ONLY and INT64_MIN <= min(v) and max(v) <= INT64_MAX


_INT_ONLY = {int}


def _numbers_in_range(v: list) -> bool:
    """Whether ``v`` is all numbers, each int within 64 bits: its ends by ``min``/``max`` at C
    speed (ints compare with doubles exactly; a NaN makes the test fail, never pass)."""
    if type(v[0]) is not int and type(v[0]) is not float:
        return False
    try:
        return INT64_MIN <= min(v) and max(v) <= INT64_MAX
    except TypeError:  # not all numbers
        return False


def _all_of(values: object, conv: _Conv) -> bool:
    """Whether ``values`` are all of the one class ``conv`` takes as they are (a string's
    ``str``...), tested at C speed; False when ``conv`` converts or ranges its values."""
    cls = _PLAIN_OF.get(conv)
    return cls is not None and set(map(type, values)) == cls  # type: ignore[call-overload]


def _map(v: dict, key: _Conv, val: _Conv) -> dict:
    if not v or _all_of(v, key) and _all_of(v.values(), val):
        return v
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
    if type(v) is int:
        if not INT64_MIN <= v <= INT64_MAX:
            raise _out_of_range(v, "int")
        return v
    if isinstance(v, int) and type(v) is not UInt:  # a bool is 0 or 1 (Python's bool is an int), an IntEnum its value
        return _int(int(v))
    raise _wrong(v, "int")  # a float too, integral or not (cel-cpp)


def _uint(v: object) -> object:
    if type(v) is UInt:
        return v
    if isinstance(v, int):  # a bool, an IntEnum as for `int`
        v = int(v)
        if not 0 <= v <= UINT64_MAX:
            raise _out_of_range(v, "uint")
        return UInt(v)
    raise _wrong(v, "uint")


def _double(v: object) -> object:
    if type(v) is float:
        return v
    if isinstance(v, (int, float)):  # an int, a UInt, a bool (1.0), a float subclass
        return _float(v) if isinstance(v, int) else float(v)
    raise _wrong(v, "double")


def _string(v: object) -> object:
    if type(v) is str:
        return v
    if isinstance(v, str):  # a str subclass (a StrEnum): its text
        return str.__str__(v)
    if isinstance(v, (bytes, bytearray)):  # cel-cpp takes bytes as the string; text only when UTF-8
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise _WrongType(f"a Python {type(v).__name__} that is not UTF-8 is no string") from None
    raise _wrong(v, "string")


def _bool(v: object) -> object:
    if type(v) is bool:
        return v
    raise _wrong(v, "bool")  # 0 and 1 too: CEL has no truthiness


def _bytes(v: object) -> object:
    if type(v) is bytes:
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise _wrong(v, "bytes")


_TEXT: dict[str, _Conv] = {"string": _string, "bool": _bool, "bytes": _bytes}
_PLAIN_OF: dict[_Conv, set[type]] = {_string: {str}, _bool: {bool}, _bytes: {bytes}, _double: {float}}


def _other_list(v: object) -> object:
    """A list of a kind of its own (a subclass, a tuple) is taken as it is, elements unread."""
    if isinstance(v, (list, tuple)):
        return v
    raise _wrong(v, "list")


def _other_map(v: object) -> object:
    """A mapping other than a ``dict`` (one a host computes lazily) is taken as it is."""
    if isinstance(v, Mapping):
        return v
    raise _wrong(v, "map")


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
    takes out of a host list or map): an int past 64 bits is the double of a JSON number; a
    Python value of no CEL type (a ``set``, a ``datetime``...) is an error there too, as cel-cpp
    refuses it (it was handed on as it was: ``x[0]`` of ``[{1}]`` was a Python ``set``)."""
    t = type(v)
    if t in PLAIN:
        return v
    if t is int:
        return v if INT64_MIN <= v <= INT64_MAX else _float(v)
    try:
        return _in_range(_cel_value(v))
    except _WrongType as e:
        raise CelError(f"{e.args[0]} (taken out of a host list or map)", "invalid_argument") from None


def dyn_items(v: object) -> object:
    """The range of a comprehension over a ``dyn``: a list's elements as :func:`dyn_value`
    (copied only when one changes; a list of numbers is tested by ``min``/``max``, any other
    list by its elements' classes, at C speed)."""
    if type(v) is list and v and not _numbers_in_range(v):
        classes = set(map(type, v))
        if int in classes or not PLAIN.issuperset(classes):
            return [dyn_value(x) for x in v]
    return v


def _in_range(v: object) -> object:
    return _float(v) if type(v) is int and not INT64_MIN <= v <= INT64_MAX else v


def _dyn(v: object) -> object:
    """A variable declared ``dyn`` (or undeclared): see :func:`_cel_value`."""
    return _in_range(_cel_value(v))


def _cel_value(v: object) -> object:
    """A Python value of no CEL type (a ``set``, a ``Decimal``, a ``date``, any object without a
    ``cel_type_name``) is an error, as cel-cpp refuses it; so is a ``datetime`` or
    ``timedelta``, which a variable declared ``timestamp`` or ``duration`` converts. A
    ``bytearray`` is its bytes (cel-cpp). A list or map's elements are looked at where they
    are taken out (:func:`dyn_value`)."""
    if isinstance(v, (datetime, timedelta)):
        kind = "timestamp" if isinstance(v, datetime) else "duration"
        raise _WrongType(f"a Python {type(v).__name__} is no CEL value (declare the variable {kind})")
    if not isinstance(v, _CEL_CLASSES) and getattr(type(v), "cel_type_name", None) is None:
        if isinstance(v, bytearray):
            return bytes(v)
        raise _WrongType(f"a Python {type(v).__name__} is no CEL value")
    return v


_CEL_CLASSES = (str, int, float, bytes, list, tuple, dict, type(None), Timestamp, Duration, Optional, TypeValue)
"""The Python classes (and their subclasses) of CEL values a ``dyn`` variable may hold."""

PLAIN = frozenset({str, float, bool, bytes, list, dict, type(None), UInt, Timestamp, Duration})
"""The classes of a ``dyn`` variable's value read as it is, inline (an ``int`` is tested for
its range, a ``datetime`` refused, other classes looked at: :func:`host_value`)."""


def _timestamp(v: object) -> object:
    if type(v) is Timestamp:
        return v
    if isinstance(v, datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)  # naive: UTC
        return Timestamp(_nanos(aware - _EPOCH))
    if type(v) is str:  # JSON's form of a timestamp (protobuf's JSON mapping): RFC 3339 text
        try:
            return parse_timestamp(v)
        except CelError:
            raise _WrongType("a Python str that is not an RFC 3339 timestamp is no timestamp") from None
    raise _wrong(v, "timestamp")


def _duration(v: object) -> object:
    if type(v) is Duration:
        return v
    if isinstance(v, timedelta):
        ns = _nanos(v)
        if INT64_MIN <= ns <= INT64_MAX:
            return Duration(ns)
        raise CelError(f"duration value out of range: {v}", "out_of_range")
    raise _wrong(v, "duration")


def _nanos(d: timedelta) -> int:
    return ((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds) * 1000
