"""The CEL standard library and extensions as dynamic (type-dispatching) Python functions.

``FUNCTIONS`` maps a call key to its implementation: ``"name"`` for a global call
``name(args)`` and ``".name"`` for a receiver call ``target.name(args)`` (the target is
passed first). Each implementation checks its argument types and raises ``no such overload``
as cel-go does; generated code calls them when it cannot emit something cheaper.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

from . import ops, timefmt
from .checks import no_overload, type_name
from .mathext import FUNCTIONS as MATH_FUNCTIONS
from .network import NETWORK_FUNCTIONS, IPAddr, CIDR
from .regexes import RE_ENGINE, regex
from .regexext import FUNCTIONS as REGEX_FUNCTIONS
from .registry import registrar
from .values import (
    utf8,
    INT64_MAX,
    NONE,
    CelError,
    Duration,
    Optional,
    Timestamp,
    TypeValue,
    UInt,
)

FUNCTIONS: dict[str, Callable[..., object]] = {}
fn = registrar(FUNCTIONS)


# -- strings ---------------------------------------------------------------------------------


def _str_args(name: str, *args: object) -> None:
    for a in args:
        if type(a) is not str:
            raise no_overload(name, *args)


_ABSENT: Any = object()
"""An optional argument not given: CEL's ``null`` is ``None``, which a function given it must
refuse (``'abc'.indexOf('b', null)`` has no overload), never read as the argument's absence."""


def _given(*args: object) -> tuple[object, ...]:
    """The arguments a call was given (for its error message)."""
    return tuple(a for a in args if a is not _ABSENT)


# unchecked, `contains(s, t)` runs too: cel-cpp files the three string tests under both call
# styles and cel-go dispatches by name; the checker still declares them as receivers only
@fn(".contains", "contains")
def contains(s, sub):  # type: ignore[no-untyped-def]
    _str_args("contains", s, sub)
    return sub in s


@fn(".startsWith", "startsWith")
def starts_with(s, p):  # type: ignore[no-untyped-def]
    _str_args("startsWith", s, p)
    return s.startswith(p)


@fn(".endsWith", "endsWith")
def ends_with(s, p):  # type: ignore[no-untyped-def]
    _str_args("endsWith", s, p)
    return s.endswith(p)


def regex_matcher(pattern: str):  # type: ignore[no-untyped-def]
    """A ``str -> bool`` search function for a constant pattern (compiled once)."""
    r = regex(pattern)
    raw = getattr(r, "_regexp", None)
    if RE_ENGINE == "re2" and raw is not None and hasattr(raw, "Match"):
        try:
            anchor = type(raw).Anchor.UNANCHORED  # type: ignore[attr-defined]
            match = raw.Match

            def m(s: str) -> bool:
                b = s.encode("utf-8")  # a lone surrogate raises: the exact path then says why
                return match(anchor, b, 0, len(b))[0][0] >= 0

            m("")
            return m
        except Exception:  # noqa: BLE001
            pass
    search = r.search  # type: ignore[attr-defined]
    return lambda s: search(s) is not None


@fn(".matches", "matches")
def matches(s, p):  # type: ignore[no-untyped-def]
    _str_args("matches", s, p)
    r = regex(p)
    if RE_ENGINE == "re2":
        utf8(s)  # RE2 matches UTF-8: text with a lone surrogate has none
    return r.search(s) is not None


@fn("size", ".size")
def size(x):  # type: ignore[no-untyped-def]
    return ops.size(x)


def _check_index(i: int, n: int) -> None:
    if i < 0 or i > n:
        raise CelError(f"index out of range: {i}", "invalid_argument")


@fn(".charAt")
def char_at(s, i):  # type: ignore[no-untyped-def]
    if type(s) is not str or type(i) is not int:
        raise no_overload("charAt", s, i)
    _check_index(i, len(s))
    return s[i : i + 1]


@fn(".indexOf")
def index_of(s, sub, start=_ABSENT):  # type: ignore[no-untyped-def]
    """The first code point index of ``sub`` at or after ``start`` (0 ..= size), else -1."""
    if type(s) is not str or type(sub) is not str or (start is not _ABSENT and type(start) is not int):
        raise no_overload("indexOf", s, sub, *(() if start is _ABSENT else (start,)))
    start = 0 if start is _ABSENT else start
    _check_index(start, len(s))
    return s.find(sub, start)


@fn(".lastIndexOf")
def last_index_of(s, sub, end=_ABSENT):  # type: ignore[no-untyped-def]
    """The last code point index of ``sub`` that starts at or before ``end`` (0 ..= size),
    else -1."""
    if type(s) is not str or type(sub) is not str or (end is not _ABSENT and type(end) is not int):
        raise no_overload("lastIndexOf", s, sub, *(() if end is _ABSENT else (end,)))
    if end is _ABSENT:
        return s.rfind(sub)
    _check_index(end, len(s))
    return s.rfind(sub, 0, end + len(sub))


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@fn(".lowerAscii")
def lower_ascii(s):  # type: ignore[no-untyped-def]
    _str_args("lowerAscii", s)
    # ASCII text (a prompt, mostly): str.lower changes only A-Z there, and far faster
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


@fn(".upperAscii")
def upper_ascii(s):  # type: ignore[no-untyped-def]
    _str_args("upperAscii", s)
    return s.upper() if s.isascii() else s.translate(_ASCII_UPPER)


@fn(".replace")
def replace(s, old, new, n=_ABSENT):  # type: ignore[no-untyped-def]
    if (
        type(s) is not str
        or type(old) is not str
        or type(new) is not str
        or (n is not _ABSENT and type(n) is not int)
    ):
        raise no_overload("replace", *_given(s, old, new, n))
    if len(new) > len(old):
        count = s.count(old) if old else len(s) + 1
        if n is not _ABSENT and n >= 0:
            count = min(count, n)
        if len(s) + count * (len(new) - len(old)) > ops.MAX_GROWTH:
            raise CelError(f"replace would build a string over {ops.MAX_GROWTH} characters", "resource_exhausted")
    if n is _ABSENT or n < 0:
        return s.replace(old, new)
    return s.replace(old, new, n)


@fn(".split")
def split(s, sep, n=_ABSENT):  # type: ignore[no-untyped-def]
    if type(s) is not str or type(sep) is not str or (n is not _ABSENT and type(n) is not int):
        raise no_overload("split", *_given(s, sep, n))
    if n == 0:
        return []
    if n == 1:
        return [s]  # the strings extension: "When the limit is 1, the result is the target string" ('' too)
    if sep == "":
        chars = list(s)
        if n is not _ABSENT and n > 0 and len(chars) > n:
            return chars[: n - 1] + ["".join(chars[n - 1 :])]
        return chars
    if n is _ABSENT or n < 0:
        return s.split(sep)
    return s.split(sep, n - 1)


@fn(".substring")
def substring(s, start, end=_ABSENT):  # type: ignore[no-untyped-def]
    if type(s) is not str or type(start) is not int or (end is not _ABSENT and type(end) is not int):
        raise no_overload("substring", *_given(s, start, end))
    n = len(s)
    _check_index(start, n)
    if end is _ABSENT:
        return s[start:]
    _check_index(end, n)
    if end < start:
        raise CelError(f"invalid substring range. start: {start}, end: {end}", "invalid_argument")
    return s[start:end]


_WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


@fn(".trim")
def trim(s):  # type: ignore[no-untyped-def]
    _str_args("trim", s)
    return s.strip(_WHITESPACE)


@fn(".join")
def join(lst, sep=""):  # type: ignore[no-untyped-def]
    if not isinstance(lst, (list, tuple)) or type(sep) is not str:
        raise no_overload("join", lst, sep)
    for x in lst:
        if type(x) is not str:
            raise no_overload("join", lst, sep)
    return sep.join(lst)


@fn("strings.quote")
def quote(s):  # type: ignore[no-untyped-def]
    _str_args("strings.quote", s)
    # the escapes of the strings extension; every other character as it is (cel-go and
    # cel-cpp write controls and other unprintables raw too), a lone surrogate, which is not
    # text, as U+FFFD (the extension's replacement for invalid UTF-8)
    out = ['"']
    for ch in s:
        esc = _QUOTE_ESC.get(ch)
        if esc is not None:
            out.append(esc)
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_QUOTE_ESC = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\v": "\\v", "\\": "\\\\", '"': '\\"',
}  # fmt: skip


@fn(".reverse")
def reverse(x):  # type: ignore[no-untyped-def]
    if type(x) is str:
        return x[::-1]
    if isinstance(x, (list, tuple)):
        return list(reversed(x))
    raise no_overload("reverse", x)


@fn(".format")
def format_(fmt_s, args):  # type: ignore[no-untyped-def]
    from .strformat import format_string

    if type(fmt_s) is not str or not isinstance(args, (list, tuple)):
        raise no_overload("format", fmt_s, args)
    return format_string(fmt_s, list(args))


# -- conversions -----------------------------------------------------------------------------

FUNCTIONS["int"] = ops.to_int
FUNCTIONS["uint"] = ops.to_uint
FUNCTIONS["double"] = ops.to_double
FUNCTIONS["string"] = ops.to_string
FUNCTIONS["bytes"] = ops.to_bytes
FUNCTIONS["bool"] = ops.to_bool
FUNCTIONS["dyn"] = ops.to_dyn
FUNCTIONS["type"] = ops.to_type


@fn("timestamp")
def to_timestamp(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is Timestamp:
        return v
    if t is str:
        return timefmt.parse_timestamp(v)
    if t is int:
        return timefmt.timestamp_from_seconds(v)
    raise no_overload("timestamp", v)


@fn("duration")
def to_duration(v):  # type: ignore[no-untyped-def]
    t = type(v)
    if t is Duration:
        return v
    if t is str:
        return timefmt.parse_duration(v)
    raise no_overload("duration", v)  # duration(int) is not a CEL overload


def _time_accessor(name: str, ts_fn, dur_fn=None):  # type: ignore[no-untyped-def]
    def accessor(x, tz=_ABSENT):  # type: ignore[no-untyped-def]
        t = type(x)
        if t is Timestamp and (tz is _ABSENT or type(tz) is str):
            return ts_fn(x, None if tz is _ABSENT else tz)
        if t is Duration and tz is _ABSENT and dur_fn is not None:
            return dur_fn(x)
        raise no_overload(name, *_given(x, tz))

    FUNCTIONS["." + name] = accessor
    return accessor


_time_accessor("getFullYear", timefmt.ts_full_year)
_time_accessor("getMonth", timefmt.ts_month)
_time_accessor("getDate", timefmt.ts_date)
_time_accessor("getDayOfMonth", timefmt.ts_day_of_month)
_time_accessor("getDayOfWeek", timefmt.ts_day_of_week)
_time_accessor("getDayOfYear", timefmt.ts_day_of_year)
_time_accessor("getHours", timefmt.ts_hours, timefmt.dur_hours)
_time_accessor("getMinutes", timefmt.ts_minutes, timefmt.dur_minutes)
_time_accessor("getSeconds", timefmt.ts_seconds, timefmt.dur_seconds)
_time_accessor("getMilliseconds", timefmt.ts_milliseconds, timefmt.dur_milliseconds)


# -- optionals -------------------------------------------------------------------------------


@fn("optional.of")
def opt_of(v):  # type: ignore[no-untyped-def]
    return Optional(v, True)


@fn("optional.none")
def opt_none():  # type: ignore[no-untyped-def]
    return NONE


def is_zero(v: object) -> bool:
    t = type(v)
    if v is None:
        return True
    if t is bool:
        return v is False
    if t in (int, UInt, float, str, bytes, list, tuple, dict):
        return not v
    if t is Timestamp or t is Duration:
        return v.ns == 0  # type: ignore[union-attr]
    return False  # an optional, even empty, is not a zero value (cel-go, cel-cpp)


@fn("optional.ofNonZeroValue")
def opt_of_non_zero(v):  # type: ignore[no-untyped-def]
    return NONE if is_zero(v) else Optional(v, True)


def _opt(name: str, o: object) -> Optional:
    if type(o) is not Optional:
        raise no_overload(name, o)
    return o  # type: ignore[return-value]


@fn(".hasValue")
def opt_has_value(o):  # type: ignore[no-untyped-def]
    return _opt("hasValue", o).present


@fn(".value")
def opt_value(o):  # type: ignore[no-untyped-def]
    o = _opt("value", o)
    if not o.present:
        raise CelError("optional.none() dereference", "invalid_argument")
    return o.value


@fn(".or")
def opt_or(o, other):  # type: ignore[no-untyped-def]
    o = _opt("or", o)
    if o.present:
        return o
    return _opt("or", other)


@fn(".orValue")
def opt_or_value(o, other):  # type: ignore[no-untyped-def]
    o = _opt("orValue", o)
    return o.value if o.present else other


def opt_select(c, name):  # type: ignore[no-untyped-def]
    """``c.?name``."""
    if type(c) is Optional:
        if not c.present:
            return NONE
        c = c.value
    if isinstance(c, dict):
        if name in c:
            return Optional(c[name], True)
        return NONE
    h = getattr(type(c), "cel_has", None)
    if h is not None:
        return Optional(ops.select(c, name), True) if h(c, name) else NONE
    raise CelError(f"type '{type_name(c)}' does not support field selection", "no_such_field")


def opt_index(c, k):  # type: ignore[no-untyped-def]
    """``c[?k]``."""
    if type(c) is Optional:
        if not c.present:
            return NONE
        c = c.value
    if isinstance(c, dict):
        found, v = ops.map_lookup(c, k)
        return Optional(v, True) if found else NONE
    if isinstance(c, (list, tuple)):
        tk = type(k)
        if tk is int or tk is UInt:
            i = int(k)
        elif tk is float and k == k and not math.isinf(k) and k == int(k):
            i = int(k)
        else:
            raise no_overload("_[?_]", c, k)
        return Optional(c[i], True) if 0 <= i < len(c) else NONE
    raise no_overload("_[?_]", c, k)


def opt_chain_select(c, name):  # type: ignore[no-untyped-def]
    """``o.name`` where ``o`` is an optional: select inside, keep it optional."""
    if type(c) is Optional:
        return opt_select(c, name)
    return ops.select(c, name)


def opt_chain_index(c, k):  # type: ignore[no-untyped-def]
    if type(c) is Optional:
        return opt_index(c, k)
    return ops.index(c, k)


# -- math (the extension lives in mathext; registered here, in this order) ----------------------

FUNCTIONS.update(MATH_FUNCTIONS)


# -- encoders --------------------------------------------------------------------------------


@fn("base64.encode")
def b64encode(b):  # type: ignore[no-untyped-def]
    if type(b) is not bytes:
        raise no_overload("base64.encode", b)
    return base64.b64encode(b).decode("ascii")


_B64_SPACE = dict.fromkeys(map(ord, " \t\n\v\f\r"))


@fn("base64.decode")
def b64decode(s):  # type: ignore[no-untyped-def]
    """Padded base64, else the same without padding (cel-go: Go's ``StdEncoding``, then
    ``RawStdEncoding``). ASCII white space is skipped anywhere, and a padding character is
    ``=`` or ``.``, as cel-cpp (absl's ``Base64Unescape``) reads them (Go skips only CR and LF
    and pads with ``=``). A partial padding (``'YQ='``) is neither form: an error, as in both."""
    if type(s) is not str:
        raise no_overload("base64.decode", s)
    text = s.translate(_B64_SPACE)
    data = text.rstrip("=.")
    text = data + "=" * (len(text) - len(data))
    try:
        if len(text) % 4 == 0:
            return base64.b64decode(text, validate=True)
        if "=" not in text and len(text) % 4 != 1:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except Exception:  # noqa: BLE001
        pass
    raise CelError("base64 decode error", "invalid_argument") from None


# -- lists and sets --------------------------------------------------------------------------


def _list(name: str, x, *rest):  # type: ignore[no-untyped-def]
    if not isinstance(x, (list, tuple)):
        raise no_overload(name, x, *rest)
    return x


@fn(".distinct")
def distinct(lst):  # type: ignore[no-untyped-def]
    out: list = []
    for x in _list("distinct", lst):
        if not any(ops.eq(x, y) for y in out):
            out.append(x)
    return out


@fn(".flatten")
def flatten(lst, depth=1):  # type: ignore[no-untyped-def]
    _list("flatten", lst)
    if type(depth) is not int:
        raise no_overload("flatten", lst, depth)
    if depth < 0:
        raise CelError("level must be non-negative", "invalid_argument")

    def go(xs, d):  # type: ignore[no-untyped-def]
        out = []
        for x in xs:
            if isinstance(x, (list, tuple)) and d > 0:
                out.extend(go(x, d - 1))
            else:
                out.append(x)
        return out

    return go(lst, depth)


@fn("lists.range")
def list_range(n):  # type: ignore[no-untyped-def]
    if type(n) is not int:
        raise no_overload("lists.range", n)
    from ..cost import MAX_ITERATIONS

    if n > MAX_ITERATIONS:
        raise CelError(f"lists.range({n}) is over the limit of {MAX_ITERATIONS} elements", "resource_exhausted")
    return list(range(max(0, n)))


@fn(".slice")
def list_slice(lst, start, end):  # type: ignore[no-untyped-def]
    _list("slice", lst, start, end)
    if type(start) is not int or type(end) is not int:
        raise no_overload("slice", lst, start, end)
    if start < 0 or end < 0:
        raise CelError(f"cannot slice({start}, {end}), negative indexes not supported", "invalid_argument")
    if start > end:
        raise CelError(f"cannot slice({start}, {end}), start index must be less than or equal to end index", "invalid_argument")
    if end > len(lst):
        raise CelError(f"cannot slice({start}, {end}), list is length {len(lst)}", "invalid_argument")
    return list(lst[start:end])


_SORTABLE = (int, UInt, float, str, bytes, bool, Timestamp, Duration)


def sort_key_check(name: str, xs) -> None:  # type: ignore[no-untyped-def]
    """The keys of ``sort``/``sortBy``: one comparable type, numbers not mixed (``[1, 1.0]``
    is an error, as cel-go's ``sortListByAssociatedKeys`` and cel-cpp)."""
    if not xs:
        return
    t0 = type(xs[0])
    for x in xs:
        t = type(x)
        if t not in _SORTABLE:
            raise no_overload(name, x)
        if t is not t0:
            raise CelError(f"list elements must have the same type: {type_name(x)}", "invalid_argument")


@fn(".sort")
def list_sort(lst):  # type: ignore[no-untyped-def]
    _list("sort", lst)
    sort_key_check("sort", lst)
    return sorted(lst)


def sort_by(lst, keys):  # type: ignore[no-untyped-def]
    sort_key_check("sortBy", keys)
    order = sorted(range(len(lst)), key=lambda i: keys[i])
    return [lst[i] for i in order]


@fn(".last")
def list_last(lst):  # type: ignore[no-untyped-def]
    _list("last", lst)
    return Optional(lst[-1], True) if lst else NONE


@fn(".first")
def list_first(lst):  # type: ignore[no-untyped-def]
    _list("first", lst)
    return Optional(lst[0], True) if lst else NONE


def _unwrapped(name: str, lst):  # type: ignore[no-untyped-def]
    """The values of a list's present optionals, in order (cel-go's optional library, version 2;
    cel-cpp): ``optional.unwrap([optional.of(1), optional.none()])`` is ``[1]``."""
    _list(name, lst)
    for o in lst:
        if type(o) is not Optional:
            raise CelError(f"{name}: {type_name(o)} is not an optional", "invalid_argument")
    return [o.value for o in lst if o.present]


@fn("optional.unwrap")
def opt_unwrap(lst):  # type: ignore[no-untyped-def]
    return _unwrapped("optional.unwrap", lst)


@fn(".unwrapOpt")
def opt_unwrap_member(lst):  # type: ignore[no-untyped-def]
    return _unwrapped("unwrapOpt", lst)


@fn("sets.contains")
def sets_contains(a, b):  # type: ignore[no-untyped-def]
    _list("sets.contains", a, b)
    _list("sets.contains", b, a)
    return all(any(ops.eq(x, y) for y in a) for x in b)


@fn("sets.equivalent")
def sets_equivalent(a, b):  # type: ignore[no-untyped-def]
    return sets_contains(a, b) and sets_contains(b, a)


@fn("sets.intersects")
def sets_intersects(a, b):  # type: ignore[no-untyped-def]
    _list("sets.intersects", a, b)
    _list("sets.intersects", b, a)
    return any(any(ops.eq(x, y) for y in a) for x in b)


# -- network and ngrok helpers -----------------------------------------------------------------

FUNCTIONS.update(NETWORK_FUNCTIONS)

# -- the regex extension (regexext) -------------------------------------------------------------

FUNCTIONS.update(REGEX_FUNCTIONS)

__all__ = ["FUNCTIONS", "IPAddr", "CIDR", "regex", "RE_ENGINE", "TypeValue", "INT64_MAX"]
