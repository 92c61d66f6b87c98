"""CEL runtime values: how each CEL type is represented in Python.

=========  ==========================================================
CEL        Python
=========  ==========================================================
null       ``None``
bool       ``bool``
int        ``int`` (never ``bool``), checked to int64 range
uint       :class:`UInt` (an ``int`` subclass), checked to uint64 range
double     ``float``
string     ``str``
bytes      ``bytes``
list       ``list`` (``tuple`` accepted on input)
map        ``dict`` (:class:`MixedKeyMap` when bool keys sit beside int/uint keys 0 or 1)
timestamp  :class:`Timestamp` (nanoseconds since the epoch, UTC)
duration   :class:`Duration` (nanoseconds)
type       :class:`CelType` values (``type(1) == int``)
optional   :class:`Optional`
error      :class:`CelError` (raised)
=========  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .civil import civil_from_days

__all__ = [
    "CelError",
    "utf8",
    "UInt",
    "Timestamp",
    "Duration",
    "Optional",
    "TypeValue",
    "MixedKeyMap",
    "INT64_MIN",
    "INT64_MAX",
    "UINT64_MAX",
    "eq",
    "ne",
    "map_lookup",
    "stored_key_is_bool",
    "format_timestamp",
    "format_duration",
    "go_text",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

NS = 1_000_000_000
# Timestamps: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z
TS_MIN = -62135596800 * NS
TS_MAX = 253402300799 * NS + NS - 1
# Durations: int64 nanoseconds (about +-292 years), as cel-go and the conformance suite
DUR_MIN = -(1 << 63)
DUR_MAX = (1 << 63) - 1


class CelError(Exception):
    """A CEL evaluation error (CEL errors are values; in Python they are raised)."""

    def __init__(self, message: str, code: str = "error", *, diagnostics: Sequence[object] = (),
                 span: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.diagnostics = tuple(diagnostics)
        """The checker's diagnostics, for a ``check_error``."""
        self.span = span
        """Where in the CEL source an evaluation error happened (set by the program)."""

    def __repr__(self) -> str:
        return f"CelError({self.message!r})"


def utf8(s: str) -> bytes:
    """``s`` in UTF-8. Text holding a lone surrogate has no UTF-8 form (such text can only come
    from outside CEL, e.g. JSON's ``"\\ud800"``): a CEL error, not a UnicodeEncodeError."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        raise CelError("the string holds a lone surrogate, which has no UTF-8 form", "invalid_argument") from None


class UInt(int):
    """A CEL ``uint``: a Python int that remembers its CEL type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"

    __str__ = int.__repr__


class _Nanoseconds:
    """A count of nanoseconds of one kind (:class:`Timestamp`, :class:`Duration`): equal to and
    ordered against its own kind only (another kind is ``NotImplemented``: an error in CEL)."""

    __slots__ = ("ns",)
    _tag = ""  # what the hash mixes in, so that a timestamp and a duration of one count differ

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other.ns == self.ns  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __lt__(self, other: object) -> bool:
        return self.ns < other.ns if other.__class__ is self.__class__ else NotImplemented  # type: ignore[attr-defined]

    def __le__(self, other: object) -> bool:
        return self.ns <= other.ns if other.__class__ is self.__class__ else NotImplemented  # type: ignore[attr-defined]

    def __gt__(self, other: object) -> bool:
        return self.ns > other.ns if other.__class__ is self.__class__ else NotImplemented  # type: ignore[attr-defined]

    def __ge__(self, other: object) -> bool:
        return self.ns >= other.ns if other.__class__ is self.__class__ else NotImplemented  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self._tag, self.ns))


class Timestamp(_Nanoseconds):
    """A point in time with nanosecond precision, in UTC."""

    __slots__ = ()
    _tag = "ts"

    def __repr__(self) -> str:
        return f"timestamp({format_timestamp(self)!r})"


class Duration(_Nanoseconds):
    """A signed span of time with nanosecond precision."""

    __slots__ = ()
    _tag = "dur"

    def __repr__(self) -> str:
        return f"duration({format_duration(self)!r})"


class Optional:
    """A CEL ``optional(T)``: a value or none."""

    __slots__ = ("value", "present")

    def __init__(self, value: object = None, present: bool = False) -> None:
        self.value = value
        self.present = present

    def __eq__(self, other: object) -> bool:
        if type(other) is not Optional:
            return False
        if not self.present or not other.present:  # type: ignore[attr-defined]
            return self.present == other.present  # type: ignore[attr-defined]
        return eq(self.value, other.value)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(("opt", self.present))

    def __repr__(self) -> str:
        return f"optional.of({self.value!r})" if self.present else "optional.none()"


NONE = Optional()


class TypeValue:
    """A CEL type as a runtime value (the result of ``type(x)``, or ``int`` as an identifier)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return type(other) is TypeValue and other.name == self.name  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("type", self.name))

    def __repr__(self) -> str:
        return self.name


class _BoolKey:
    """How :class:`MixedKeyMap` stores a bool key: equal only to the same bool key."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return type(other) is _BoolKey and other.value is self.value  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((_BoolKey, self.value))

    def __repr__(self) -> str:
        return repr(self.value)


_BOOL_KEYS = {True: _BoolKey(True), False: _BoolKey(False)}


class MixedKeyMap(dict):  # type: ignore[type-arg]
    """A CEL map holding a bool key beside an int or uint key of the same value.

    CEL keeps ``true`` and ``1`` apart (bool is not a number), Python does not
    (``True == 1``): a plain dict would merge them. This dict stores bool keys wrapped and
    unwraps them on the way out, so lookups, ``in``, ``len``, iteration and ``items()``
    behave as a CEL map. It is built only for maps that need it (the runtime's map
    constructors decide); copying it into a plain ``dict`` merges the keys again.
    """

    __slots__ = ()

    @classmethod
    def of(cls, items: object) -> MixedKeyMap:
        m = cls()
        for k, v in items:  # type: ignore[attr-defined]
            m[k] = v
        return m

    def __setitem__(self, k: object, v: object) -> None:
        dict.__setitem__(self, _BOOL_KEYS[k] if type(k) is bool else k, v)  # type: ignore[index]

    def __getitem__(self, k: object) -> object:
        return dict.__getitem__(self, _BOOL_KEYS[k] if type(k) is bool else k)  # type: ignore[index]

    def __contains__(self, k: object) -> bool:
        return dict.__contains__(self, _BOOL_KEYS[k] if type(k) is bool else k)  # type: ignore[index]

    def get(self, k: object, default: object = None) -> object:
        return dict.get(self, _BOOL_KEYS[k] if type(k) is bool else k, default)  # type: ignore[index]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (k.value if type(k) is _BoolKey else k for k in dict.__iter__(self))

    def keys(self):  # type: ignore[no-untyped-def,override]
        return list(self)

    def items(self):  # type: ignore[no-untyped-def,override]
        return [(k.value if type(k) is _BoolKey else k, v) for k, v in dict.items(self)]

    def copy(self) -> MixedKeyMap:
        return MixedKeyMap.of(self.items())

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (MixedKeyMap.of, (self.items(),))

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.items()) + "}"


# -- text of times -----------------------------------------------------------------------


def _fraction(nanos: int) -> str:
    """Protobuf's canonical fraction: none, or 3, 6 or 9 digits, as precision needs."""
    if not nanos:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


def _civil_text(secs: int) -> str:
    days, rem = divmod(secs, 86400)
    y, mo, d = civil_from_days(days)
    return f"{y:04d}-{mo:02d}-{d:02d}T{rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}"


def format_timestamp(ts: Timestamp) -> str:
    """``string(timestamp)``: RFC 3339 in UTC with protobuf's canonical 0, 3, 6 or 9
    fraction digits (the text of ``google.protobuf.Timestamp``; cel-cpp and cel-java)."""
    secs, nanos = divmod(ts.ns, NS)
    return f"{_civil_text(secs)}{_fraction(nanos)}Z"


def format_duration(d: Duration) -> str:
    """``string(duration)``: seconds with protobuf's canonical 0, 3, 6 or 9 fraction digits
    and an ``s`` (the text of ``google.protobuf.Duration``; cel-cpp and cel-java)."""
    ns = d.ns
    secs, nanos = divmod(abs(ns), NS)
    return f"{'-' if ns < 0 else ''}{secs}{_fraction(nanos)}s"


def go_text(v: Timestamp | Duration) -> str:
    """cel-go's text of a time value (ngrok's ``${...}``, and ``%s`` in the strings extension):
    a timestamp is Go's ``RFC3339Nano`` (the fraction's zeros trimmed); a duration is its
    seconds as a double (Go's ``Duration.Seconds``), shortest, with an ``s``."""
    if type(v) is Timestamp:
        secs, nanos = divmod(v.ns, NS)
        frac = f".{nanos:09d}".rstrip("0") if nanos else ""
        return f"{_civil_text(secs)}{frac}Z"
    ns = v.ns
    whole = abs(ns) // NS * (-1 if ns < 0 else 1)  # Go's `/` and `%` truncate toward zero
    seconds = float(whole) + float(ns - whole * NS) / 1e9
    text = repr(seconds)
    if "e" in text or "E" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text + "s"


# -- CEL equality (heterogeneous numbers, deep lists and maps) -------------------------------


def eq(a: object, b: object) -> bool:
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is list or ta is tuple:
            return _list_eq(a, b)  # type: ignore[arg-type]
        if ta is dict or ta is MixedKeyMap:
            return _map_eq(a, b)  # type: ignore[arg-type]
        return a == b
    if ta in _NUMERIC and tb in _NUMERIC:
        if ta is float:
            return a == float(b)
        if tb is float:
            return float(a) == b
        return a == b
    if ta in _LISTS and tb in _LISTS:
        return _list_eq(a, b)  # type: ignore[arg-type]
    if ta is bool or tb is bool or ta is type(None) or tb is type(None):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return _map_eq(a, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return _list_eq(a, b)
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        return a == b
    return False


_NUMERIC = frozenset({int, UInt, float})
_LISTS = frozenset({list, tuple})


def ne(a: object, b: object) -> bool:
    return not eq(a, b)


def _list_eq(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if not eq(x, y):
            return False
    return True


def _map_eq(a: dict, b: dict) -> bool:
    if len(a) != len(b):
        return False
    for k, v in a.items():
        found, w = map_lookup(b, k)
        if not found or not eq(v, w):
            return False
    return True


def map_lookup(m: dict, k: object) -> tuple[bool, object]:
    """Find ``k`` in ``m`` with CEL key equality: int, uint and double keys compare as
    numbers (``{1: x}[1u]``, ``{1: x}[1.0]``), a bool key equals only a bool key."""
    tk = type(k)
    if tk is str:
        if k in m:
            return True, m[k]
        return False, None
    if tk is int or tk is UInt or tk is bool:
        if k not in m:
            return False, None
        if type(m) is not MixedKeyMap and (k == 0 or k == 1) and stored_key_is_bool(m, k) != (tk is bool):
            return False, None  # Python's True == 1: the stored key is the other kind
        return True, m[k]
    if tk is float:
        if k == k and not math.isinf(k) and k == int(k):
            return map_lookup(m, int(k))
        return False, None
    if isinstance(k, int) and not isinstance(k, bool):
        return map_lookup(m, int(k))
    return False, None


def stored_key_is_bool(m: dict, k: object) -> bool:
    """Whether the key of ``m`` equal to ``k`` (0, 1, False or True) is a bool."""
    for key in m:
        if key == k:
            return type(key) is bool
    return False


