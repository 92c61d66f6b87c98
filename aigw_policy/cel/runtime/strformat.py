"""``string.format(list)`` of the CEL strings extension (see cel-spec ``doc/strings.md``).

Clauses are ``%[.precision]verb``; each verb takes the types its row of the extension's
table lists, and ``%s`` formats a list or map element by element as ``%s`` would (strings
unquoted, map entries sorted by their formatted keys).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from .checks import type_name
from .values import CelError, Duration, Optional, Timestamp, TypeValue, UInt, go_text, utf8

MAX_PRECISION = 9999


def _fmt_error(msg: str) -> CelError:
    return CelError(f"error during formatting: {msg}", "invalid_argument")


def _parse_error(msg: str) -> CelError:
    return CelError(f"could not parse formatting clause: {msg}", "invalid_argument")


def _special(x: float) -> str | None:
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return None


def _plain_double(x: float) -> str:
    """The shortest decimal that reads back as ``x``, without an exponent or insignificant
    zeros (``1e21`` -> ``1000000000000000000000``, ``2.50`` -> ``2.5``, ``-0.0`` -> ``-0``)."""
    s = _special(x)
    if s is not None:
        return s
    text = format(Decimal(repr(x)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_INVALID_RUN = re.compile("[\udc80-\udcff]+")


def _bytes_text(b: bytes) -> str:
    """``string(b)`` with each run of invalid UTF-8 replaced by one U+FFFD."""
    return _INVALID_RUN.sub("\ufffd", b.decode("utf-8", "surrogateescape"))


def as_string(v: object) -> str:
    """What ``%s`` makes of ``v``."""
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int or t is UInt:
        return str(int(v))  # type: ignore[call-overload]
    if t is float:
        return _plain_double(v)  # type: ignore[arg-type]
    if t is bytes:
        return _bytes_text(v)  # type: ignore[arg-type]
    if t is Timestamp or t is Duration:  # RFC 3339 in UTC; a duration's seconds as a double (doc/strings.md)
        return go_text(v)  # type: ignore[arg-type]
    if t is TypeValue:
        return v.name  # type: ignore[attr-defined]
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(as_string(x) for x in v) + "]"
    if isinstance(v, dict):
        entries = sorted(((as_string(k), as_string(x)) for k, x in v.items()), key=lambda e: e[0])
        return "{" + ", ".join(f"{k}: {x}" for k, x in entries) + "}"
    text = getattr(t, "cel_string", None)  # this environment's own types (net.IP, net.CIDR)
    if text is not None and t is not Optional:
        return text(v)  # type: ignore[no-any-return]
    raise _fmt_error(
        "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, "
        f"types, durations, and timestamps, was given {type_name(v)}"
    )


def format_string(fmt: str, args: list) -> str:
    out: list[str] = []
    i = 0
    n = len(fmt)
    argi = 0
    while i < n:
        ch = fmt[i]
        if ch != "%":
            j = fmt.find("%", i)
            j = n if j == -1 else j
            out.append(fmt[i:j])
            i = j
            continue
        i += 1
        if i >= n:
            raise _parse_error("unexpected end of string")
        if fmt[i] == "%":
            out.append("%")
            i += 1
            continue
        precision: int | None = None
        if fmt[i] == ".":
            j = i + 1
            while j < n and "0" <= fmt[j] <= "9":
                j += 1
            if j >= n:
                raise _parse_error("could not find end of precision specifier")
            if j == i + 1:
                raise _parse_error("a precision needs digits after the '.'")
            if j - i - 1 > len(str(MAX_PRECISION)) or int(fmt[i + 1 : j]) > MAX_PRECISION:
                raise _parse_error(f"precision exceeds the maximum of {MAX_PRECISION}")
            precision = int(fmt[i + 1 : j])
            i = j
        verb = fmt[i]
        i += 1
        if verb not in "sdfeboxX":
            raise _parse_error(f'unrecognized formatting clause "{verb}"')
        if argi >= len(args):
            raise CelError(f"index {argi} out of range", "invalid_argument")
        out.append(_clause(verb, precision, args[argi]))
        argi += 1
    return "".join(out)


def _clause(verb: str, precision: int | None, v: object) -> str:
    t = type(v)
    tn = type_name(v)
    if verb == "s":
        return as_string(v)
    if verb == "d":
        if t is int or t is UInt:
            return str(int(v))  # type: ignore[call-overload]
        if t is float:
            return _plain_double(v)  # type: ignore[arg-type]
        raise _fmt_error(f"decimal clause can only be used on integers, was given {tn}")
    if verb in "fe":
        # int, uint and double only: a string such as 'NaN' is not a number (cel-cpp accepts it)
        if t is int or t is UInt:
            v = float(v)  # type: ignore[arg-type]
        elif t is not float:
            what = "fixed-point" if verb == "f" else "scientific"
            raise _fmt_error(f"{what} clause can only be used on doubles, was given {tn}")
        sp = _special(v)  # type: ignore[arg-type]
        if sp:
            return sp
        p = 6 if precision is None else precision
        return f"{v:.{p}{verb}}"
    if verb == "b":
        if t is bool:
            return "1" if v else "0"
        if t is int or t is UInt:
            return format(int(v), "b")  # type: ignore[call-overload]
        raise _fmt_error(f"only integers and bools can be formatted as binary, was given {tn}")
    if verb == "o":
        if t is int or t is UInt:
            return format(int(v), "o")  # type: ignore[call-overload]
        raise _fmt_error(f"octal clause can only be used on integers, was given {tn}")
    # x / X
    if t is int or t is UInt:
        s = format(int(v), "x")  # type: ignore[call-overload]
    elif t is str:
        s = utf8(v).hex()  # type: ignore[arg-type]
    elif t is bytes:
        s = v.hex()  # type: ignore[union-attr]
    else:
        raise _fmt_error(
            f"only integers, byte buffers, and strings can be formatted as hex, was given {tn}"
        )
    return s.upper() if verb == "X" else s
