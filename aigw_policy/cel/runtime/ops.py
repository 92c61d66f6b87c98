"""The CEL standard operators on runtime values, with exact cel-spec semantics.

Every function here takes and returns CEL runtime values (see :mod:`.values`) and raises
:class:`~.values.CelError` for CEL errors. Generated code calls these when the checker
could not prove a cheaper Python operation is exact.
"""

from __future__ import annotations

import math
import re

from .checks import check_dur, check_ts, check_uint, no_overload, overflow, type_name, type_of
from .values import (
    DUR_MAX,
    DUR_MIN,
    INT64_MAX,
    INT64_MIN,
    NS,
    UINT64_MAX,
    CelError,
    Duration,
    MixedKeyMap,
    Timestamp,
    UInt,
    eq,
    format_duration,
    format_timestamp,
    map_lookup,
    ne,
    stored_key_is_bool,
    utf8,
)

_NUM = (int, UInt, float)
_NUMERIC = frozenset({int, UInt, float})
_LISTS = frozenset({list, tuple})
MAX_GROWTH = 10_000_000  # see cost.MAX_STRING


# -- ordering (equality is in values) ---------------------------------------------------------------------


_ORDERED = frozenset({str, bytes, bool, Timestamp, Duration})


def _cmp_check(name: str, a: object, b: object) -> None:
    ta = type(a)
    tb = type(b)
    if ta in _NUMERIC and tb in _NUMERIC:
        return
    if ta is tb and ta in _ORDERED:
        return
    raise no_overload(name, a, b)


def _lossy(a, b):  # type: ignore[no-untyped-def]
    """int/uint against double compare as doubles (cel-go's rule)."""
    ta = type(a)
    tb = type(b)
    if ta is float and tb is not float and tb in _NUMERIC:
        return a, float(b)
    if tb is float and ta is not float and ta in _NUMERIC:
        return float(a), b
    return a, b


def lt(a, b):  # type: ignore[no-untyped-def]
    _cmp_check("_<_", a, b)
    a, b = _lossy(a, b)
    return a < b


def le(a, b):  # type: ignore[no-untyped-def]
    _cmp_check("_<=_", a, b)
    a, b = _lossy(a, b)
    return a <= b


def gt(a, b):  # type: ignore[no-untyped-def]
    _cmp_check("_>_", a, b)
    a, b = _lossy(a, b)
    return a > b


def ge(a, b):  # type: ignore[no-untyped-def]
    _cmp_check("_>=_", a, b)
    a, b = _lossy(a, b)
    return a >= b


# -- arithmetic ------------------------------------------------------------------------------


def add(a, b):  # type: ignore[no-untyped-def]
    ta = type(a)
    tb = type(b)
    if ta is int and tb is int:
        r = a + b
        if INT64_MIN <= r <= INT64_MAX:
            return r
        raise overflow("_+_")
    if ta is tb:
        if ta is float:
            return a + b
        if ta is str or ta is bytes or ta is list:
            if len(a) + len(b) > MAX_GROWTH:
                raise CelError("string or list too large", "resource_exhausted")
            return a + b
        if ta is UInt:
            return check_uint(a + b)
        if ta is Duration:
            return check_dur(a.ns + b.ns)
    if ta in _LISTS and tb in _LISTS:
        return list(a) + list(b)
    if ta is Timestamp and tb is Duration:
        return check_ts(a.ns + b.ns)
    if ta is Duration and tb is Timestamp:
        return check_ts(a.ns + b.ns)
    raise no_overload("_+_", a, b)


def sub(a, b):  # type: ignore[no-untyped-def]
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is int:
            r = a - b
            if INT64_MIN <= r <= INT64_MAX:
                return r
            raise overflow("_-_")
        if ta is float:
            return a - b
        if ta is UInt:
            return check_uint(a - b)
        if ta is Duration:
            return check_dur(a.ns - b.ns)
        if ta is Timestamp:
            return _ts_diff(a, b)
    if ta is Timestamp and tb is Duration:
        if b.ns == DUR_MIN:  # negated first, as in cel-go and cel-cpp
            raise overflow("_-_")
        return check_ts(a.ns - b.ns)
    raise no_overload("_-_", a, b)


def _ts_diff(a: Timestamp, b: Timestamp) -> Duration:
    """``a - b`` as cel-go and cel-cpp compute it: the whole seconds first (floored), whose
    nanoseconds must fit int64, then the fractions; so a difference within a second of the
    int64 minimum is an overflow, though its exact value would fit."""
    diff = a.ns - b.ns
    if DUR_MIN + NS <= diff <= DUR_MAX - NS:  # the whole seconds are within a second of it
        return Duration(diff)
    sa, fa = divmod(a.ns, NS)
    sb, fb = divmod(b.ns, NS)
    whole = (sa - sb) * NS
    if not INT64_MIN <= whole <= INT64_MAX:
        raise overflow("_-_")
    return check_dur(whole + fa - fb)


def mul(a, b):  # type: ignore[no-untyped-def]
    ta = type(a)
    if ta is type(b):
        if ta is int:
            r = a * b
            if INT64_MIN <= r <= INT64_MAX:
                return r
            raise overflow("_*_")
        if ta is float:
            return a * b
        if ta is UInt:
            return check_uint(a * b)
    raise no_overload("_*_", a, b)


def div(a, b):  # type: ignore[no-untyped-def]
    ta = type(a)
    if ta is type(b):
        if ta is int:
            if b == 0:
                raise CelError("divide by zero", "divide_by_zero")
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            if q > INT64_MAX:
                raise overflow("_/_")
            return q
        if ta is float:
            return fdiv(a, b)
        if ta is UInt:
            if b == 0:
                raise CelError("divide by zero", "divide_by_zero")
            return UInt(a // b)
    raise no_overload("_/_", a, b)


def fdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def mod(a, b):  # type: ignore[no-untyped-def]
    ta = type(a)
    if ta is type(b):
        if ta is int or ta is UInt:
            if b == 0:
                raise CelError("modulus by zero", "divide_by_zero")
            if b == -1 and a == INT64_MIN and ta is int:
                raise overflow("_%_")  # as its quotient overflows (cel-go and cel-cpp agree)
            r = abs(a) % abs(b)
            r = -r if a < 0 else r
            return UInt(r) if ta is UInt else r
    raise no_overload("_%_", a, b)


def idiv(a: int, b: int) -> int:
    """int / int, for generated code that knows both are ints."""
    if b == 0:
        raise CelError("divide by zero", "divide_by_zero")
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        return -q
    if q > INT64_MAX:
        raise overflow("_/_")
    return q


def imod(a: int, b: int) -> int:
    if b == 0:
        raise CelError("modulus by zero", "divide_by_zero")
    if b == -1 and a == INT64_MIN:
        raise overflow("_%_")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def neg(a):  # type: ignore[no-untyped-def]
    ta = type(a)
    if ta is int:
        if a == INT64_MIN:
            raise overflow("-_")
        return -a
    if ta is float:
        return -a
    raise no_overload("-_", a)  # the langdef's -int and -double only: no -duration (cel-cpp)


def not_(a):  # type: ignore[no-untyped-def]
    if a is True:
        return False
    if a is False:
        return True
    raise CelError(f"no matching overload for '!_' applied to '({type_name(a)})'", "no_such_overload")


# -- containers ------------------------------------------------------------------------------


def index(c, k):  # type: ignore[no-untyped-def]
    tc = type(c)
    if tc is dict or isinstance(c, dict):
        tk = type(k)
        if tk is str and k in c:
            return c[k]
        if tk not in _KEY_TYPES:
            raise CelError(f"no such key: {k!r}", "no_such_key")
        found, v = map_lookup(c, k)
        if found:
            return v
        raise CelError(f"no such key: {_show(k)}", "no_such_key")
    if tc is list or tc is tuple or isinstance(c, (list, tuple)):
        tk = type(k)
        if tk is int or tk is UInt:
            i = k
        elif tk is float:
            if k != k or math.isinf(k) or k != int(k):
                raise CelError(f"invalid_argument: index {k}", "invalid_argument")
            i = int(k)
        else:
            raise CelError(f"invalid_argument: no such overload for index {type_name(k)}", "invalid_argument")
        if 0 <= i < len(c):
            return c[i]
        raise CelError(f"invalid_argument: index out of range: {i}", "invalid_argument")
    raise no_overload("_[_]", c, k)


_KEY_TYPES = frozenset({str, int, UInt, bool, float})


def _show(k: object) -> str:
    if isinstance(k, str):
        return repr(k)
    if type(k) is bool:
        return "true" if k else "false"
    return str(k)


def select(c, name):  # type: ignore[no-untyped-def]
    """``c.name``: field selection on a map (or a message-like object)."""
    if type(c) is dict or isinstance(c, dict):
        try:
            return c[name]
        except KeyError:
            raise CelError(f"no such key: '{name}'", "no_such_key") from None
    sel = getattr(type(c), "cel_select", None)
    if sel is not None:
        return sel(c, name)
    raise CelError(
        f"type '{type_name(c)}' does not support field selection", "no_such_field"
    )


def has(c, name):  # type: ignore[no-untyped-def]
    if type(c) is dict or isinstance(c, dict):
        return name in c
    h = getattr(type(c), "cel_has", None)
    if h is not None:
        return h(c, name)
    raise CelError(f"type '{type_name(c)}' does not support field selection", "no_such_field")


def in_(x, c):  # type: ignore[no-untyped-def]
    tc = type(c)
    if tc is list or tc is tuple or isinstance(c, (list, tuple)):
        tx = type(x)
        if tx is str:
            return x in c and any(type(y) is str and y == x for y in c)
        for y in c:
            if eq(x, y):
                return True
        return False
    if tc is dict or isinstance(c, dict):
        if type(x) not in _KEY_TYPES:  # no map has such a key (the langdef's `A in map(A, B)`)
            raise no_overload("@in", x, c)
        return map_lookup(c, x)[0]
    raise no_overload("@in", x, c)


def size(x):  # type: ignore[no-untyped-def]
    tx = type(x)
    if tx is str or tx is bytes or tx is list or tx is dict or tx is tuple:
        return len(x)
    if isinstance(x, (str, bytes, list, tuple, dict)):
        return len(x)
    raise no_overload("size", x)


def make_map(pairs, repeated: str = "Failed with repeated key: {}") -> dict:  # type: ignore[no-untyped-def]
    """A CEL map from (key, value) pairs: keys are string, int, uint or bool, each at most
    once (int and uint keys of the same value are the same key; a bool key never equals a
    number, so ``{true: a, 1: b}`` has two entries: a :class:`MixedKeyMap`)."""
    out: dict = {}
    seen_bool = False
    for k, v in pairs:
        tk = type(k)
        if tk not in _MAP_KEY_TYPES:
            raise CelError(f"unsupported key type: {type_name(k)}", "invalid_argument")
        seen_bool = seen_bool or tk is bool
        if k in out:
            if not seen_bool or type(out) is MixedKeyMap or stored_key_is_bool(out, k) == (tk is bool):
                raise CelError(repeated.format(_show(k)), "repeated_key")
            out = MixedKeyMap.of(out.items())
        out[k] = v
    return out


_MAP_KEY_TYPES = frozenset({str, int, UInt, bool})


# -- conversions -----------------------------------------------------------------------------


def to_int(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is int:
        return v
    if t is UInt:
        if v > INT64_MAX:
            raise CelError("int range error", "range")
        return int(v)
    if t is float:
        if v != v or not (-9.223372036854775808e18 < v < 9.223372036854775808e18):
            raise CelError("int range error", "range")
        return int(v)
    if t is str:
        try:
            r = _parse_int(v)
        except ValueError:
            raise CelError(f"type conversion error from 'string' to 'int': {v!r}", "invalid_argument") from None
        if not INT64_MIN <= r <= INT64_MAX:
            raise CelError("int range error", "range")
        return r
    if t is Timestamp:
        return v.ns // NS
    raise no_overload("int", v)  # no int(bool), no int(duration): not CEL overloads


_INT_TEXT = re.compile(r"[+-]?0*([0-9]{1,30})\Z")  # ASCII digits; 30: past any 64-bit value
_UINT_TEXT = re.compile(r"\+?0*([0-9]{1,30})\Z")


def _parse_int(s: str) -> int:
    """Decimal text as CEL reads it: an optional sign and ASCII digits, nothing else (Python's
    ``int()`` also takes other scripts' digits, ``_`` and surrounding whitespace)."""
    m = _INT_TEXT.match(s)
    if m is None:
        if re.fullmatch(r"[+-]?[0-9]+", s, re.ASCII):
            raise CelError("int range error", "range")
        raise ValueError(s)
    r = int(m.group(1))
    return -r if s[0] == "-" else r


def to_uint(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is UInt:
        return v
    if t is int:
        if v < 0:
            raise CelError("uint range error", "range")
        return UInt(v)
    if t is float:
        if v != v or not (0.0 <= v < 1.8446744073709552e19):  # a negative double is out of range, even past
            raise CelError("uint range error", "range")  # truncation (cel-go and cel-cpp); -0.0 is 0
        return UInt(int(v))
    if t is str:
        m = _UINT_TEXT.match(v)
        if m is None:
            if re.fullmatch(r"\+?[0-9]+", v, re.ASCII):
                raise CelError("uint range error", "range")
            raise CelError(f"type conversion error from 'string' to 'uint': {v!r}", "invalid_argument")
        r = int(m.group(1))
        if r > UINT64_MAX:
            raise CelError("uint range error", "range")
        return UInt(r)
    raise no_overload("uint", v)


def to_double(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is float:
        return v
    if t is int or t is UInt:
        return float(v)
    if t is str:
        if _DOUBLE_TEXT.match(v) is None:
            raise CelError(f"type conversion error from 'string' to 'double': {v!r}", "invalid_argument")
        return float(v)
    raise no_overload("double", v)


# decimal floating point text in ASCII (Python's float() also takes other scripts' digits,
# ``_`` and surrounding whitespace), or an infinity or NaN as Go's ParseFloat spells them
_DOUBLE_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])\Z"
)


def format_double(d: float) -> str:
    """Format a double as Go's ``%g`` does (what cel-go's ``string(double)`` returns)."""
    if d != d:
        return "NaN"
    if math.isinf(d):
        return "+Inf" if d > 0 else "-Inf"
    if d == 0:
        return "-0" if math.copysign(1.0, d) < 0 else "0"
    r = repr(d)
    mant, _, exp_s = r.partition("e")
    sign = ""
    if mant.startswith("-"):
        sign, mant = "-", mant[1:]
    intpart, _, frac = mant.partition(".")
    if frac == "0":
        frac = ""
    digits = (intpart + frac).lstrip("0")
    lead_zeros = len(intpart + frac) - len((intpart + frac).lstrip("0"))
    # decimal point position relative to the digit string
    dp = len(intpart) + (int(exp_s) if exp_s else 0) - lead_zeros
    digits = digits.rstrip("0") or "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{sign}{digits}{'0' * (dp - len(digits))}"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def to_string(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is str:
        return v
    if t is int or t is UInt:
        return str(int(v))
    if t is bool:
        return "true" if v else "false"
    if t is float:
        return format_double(v)
    if t is bytes:
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise CelError("invalid UTF-8 in bytes", "invalid_argument") from None
    if t is Timestamp:

        return format_timestamp(v)
    if t is Duration:

        return format_duration(v)
    s = getattr(type(v), "cel_string", None)
    if s is not None:
        return s(v)
    raise no_overload("string", v)


def to_bytes(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is bytes:
        return v
    if t is str:
        return utf8(v)
    raise no_overload("bytes", v)


def to_bool(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is bool:
        return v
    if t is str:
        r = _BOOL_STRINGS.get(v)
        if r is None:
            raise CelError(f"Type conversion error from 'string' to 'bool': {v!r}", "invalid_argument")
        return r
    raise no_overload("bool", v)


_BOOL_STRINGS = {
    "1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
    "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False,
}  # fmt: skip


def to_dyn(v):  # type: ignore[no-untyped-def]
    return v


def to_type(v):  # type: ignore[no-untyped-def]
    return type_of(v)
