"""``string.format(list)`` of the CEL strings extension (cel-go's clauses)."""

from __future__ import annotations

import math

from .ops import format_double, type_name
from .values import CelError, Duration, Timestamp, UInt


def _fmt_error(msg: str) -> CelError:
    return CelError(f"error during formatting: {msg}", "invalid_argument")


def _special(x: float) -> str | None:
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return None


def to_display(v: object, nested: bool = False) -> str:
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is str:
        return f'"{v}"' if nested else v  # type: ignore[return-value]
    if t is bytes:
        s = v.decode("utf-8", errors="replace")  # type: ignore[union-attr]
        return f'b"{s}"' if nested else s
    if t is float:
        return _special(v) or format_double(v)  # type: ignore[arg-type]
    if t is int or t is UInt:
        return str(int(v))  # type: ignore[call-overload]
    if t is Timestamp or t is Duration:
        from .ops import to_string

        return to_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(to_display(x, True) for x in v) + "]"
    if isinstance(v, dict):
        items = sorted(((to_display(k, True), to_display(x, True)) for k, x in v.items()))
        return "{" + ", ".join(f"{k}: {x}" for k, x in items) + "}"
    from .ops import to_string, type_of

    if t.__name__ == "TypeValue":
        return v.name  # type: ignore[attr-defined]
    try:
        return to_string(v)
    except CelError:
        return str(type_of(v))


def format_string(fmt: str, args: list) -> str:
    out: list[str] = []
    i = 0
    n = len(fmt)
    argi = 0
    while i < n:
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= n:
            raise CelError("could not parse formatting clause: unexpected end of string", "invalid_argument")
        if fmt[i] == "%":
            out.append("%")
            i += 1
            continue
        precision: int | None = None
        if fmt[i] == ".":
            j = i + 1
            while j < n and fmt[j].isdigit():
                j += 1
            if j - i > 5:
                raise CelError("formatting precision over 9999 is not supported", "invalid_argument")
            precision = int(fmt[i + 1 : j] or "0")
            i = j
            if i >= n:
                raise CelError("could not parse formatting clause: unexpected end of string", "invalid_argument")
        verb = fmt[i]
        i += 1
        if verb not in "sdfeboxX":
            raise CelError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"', "invalid_argument")
        if argi >= len(args):
            raise CelError(f"index {argi} out of range", "invalid_argument")
        arg = args[argi]
        argi += 1
        out.append(_clause(verb, precision, arg))
    return "".join(out)


def _clause(verb: str, precision: int | None, v: object) -> str:
    t = type(v)
    tn = type_name(v)
    if verb == "s":
        return to_display(v)
    if verb == "d":
        if t is int or t is UInt:
            return str(int(v))  # type: ignore[call-overload]
        if t is float and _special(v):  # type: ignore[arg-type]
            return _special(v)  # type: ignore[arg-type,return-value]
        raise _fmt_error(f"decimal clause can only be used on integers, was given {tn}")
    if verb in "fe":
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
        s = v.encode("utf-8").hex()  # type: ignore[union-attr]
    elif t is bytes:
        s = v.hex()  # type: ignore[union-attr]
    else:
        raise _fmt_error(
            f"only integers, byte buffers, and strings can be formatted as hex, was given {tn}"
        )
    return s.upper() if verb == "X" else s
