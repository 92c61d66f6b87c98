"""The CEL math extension (``math.greatest``, ``math.ceil``, ``math.bitOr``, ...), exact on
every double and int (cel-go's ext/math)."""

from __future__ import annotations

import math
from collections.abc import Callable

from .checks import no_overload, overflow
from .ops import gt, lt
from .registry import registrar
from .values import INT64_MIN, CelError, UInt

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Callable[..., object]] = {}
fn = registrar(FUNCTIONS)


def _num(name: str, *xs: object) -> None:
    for x in xs:
        t = type(x)
        if t is not int and t is not UInt and t is not float:
            raise no_overload(name, *xs)


def _extreme(name: str, args: tuple, pick_greater: bool):  # type: ignore[no-untyped-def]
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
        if not args:
            raise CelError(f"{name}(list) argument must not be empty", "invalid_argument")
    _num(name, *args)
    # ordered as `<` orders them (int/uint against double as doubles), the first of equals
    # kept: cel-cpp's answer (Python's exact comparison picked 2.0**63 over 2**63 - 2);
    # two of one kind Python orders as CEL does
    better = gt if pick_greater else lt
    best = args[0]
    for x in args[1:]:
        if type(x) is not type(best):
            if better(x, best):
                best = x
        elif (x > best) if pick_greater else (x < best):
            best = x
    return best


@fn("math.greatest")
def greatest(*args):  # type: ignore[no-untyped-def]
    if not args:
        raise no_overload("math.greatest")
    return _extreme("math.greatest", args, True)


@fn("math.least")
def least(*args):  # type: ignore[no-untyped-def]
    if not args:
        raise no_overload("math.least")
    return _extreme("math.least", args, False)


def _double_fn(name: str, f):  # type: ignore[no-untyped-def]
    def impl(x):  # type: ignore[no-untyped-def]
        if type(x) is not float:
            raise no_overload(name, x)
        return f(x)

    FUNCTIONS[name] = impl


def _integral(f):  # type: ignore[no-untyped-def]
    """A double -> double rounding function from an int-valued one: NaN and the infinities
    pass through, and a zero result keeps the argument's sign (``ceil(-0.5)`` is ``-0.0``,
    as in IEEE 754 and every reference runtime)."""

    def g(x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return x
        r = float(f(x))
        return math.copysign(r, x) if r == 0 else r

    return g


def _half_away(x: float) -> int:
    """Round half away from zero, exactly: ``x - trunc(x)`` is exact for any double (the
    ``floor(|x| + 0.5)`` shortcut rounds 0.49999999999999994 up and odd doubles past 2^52
    to the next even one)."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += 1 if x > 0 else -1
    return t


_double_fn("math.ceil", _integral(math.ceil))
_double_fn("math.floor", _integral(math.floor))
_double_fn("math.round", _integral(_half_away))
_double_fn("math.trunc", _integral(math.trunc))
_double_fn("math.isNaN", lambda x: x != x)
_double_fn("math.isInf", math.isinf)
_double_fn("math.isFinite", math.isfinite)


@fn("math.sqrt")
def sqrt(x):  # type: ignore[no-untyped-def]
    _num("math.sqrt", x)
    x = float(x)
    if x < 0:
        return math.nan
    return math.sqrt(x)


@fn("math.abs")
def abs_(x):  # type: ignore[no-untyped-def]
    _num("math.abs", x)
    if type(x) is int and x == INT64_MIN:
        raise overflow("math.abs")
    return type(x)(abs(x)) if type(x) is UInt else abs(x)


@fn("math.sign")
def sign(x):  # type: ignore[no-untyped-def]
    _num("math.sign", x)
    t = type(x)
    if t is float:
        if x != x:
            return x
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    if t is UInt:
        return UInt(1 if x > 0 else 0)
    return 1 if x > 0 else (-1 if x < 0 else 0)


def _bits(name: str, a, b):  # type: ignore[no-untyped-def]
    t = type(a)
    if (t is not int and t is not UInt) or type(b) is not t:
        raise no_overload(name, a, b)
    return t


@fn("math.bitOr")
def bit_or(a, b):  # type: ignore[no-untyped-def]
    t = _bits("math.bitOr", a, b)
    return t(a | b)


@fn("math.bitAnd")
def bit_and(a, b):  # type: ignore[no-untyped-def]
    t = _bits("math.bitAnd", a, b)
    return t(a & b)


@fn("math.bitXor")
def bit_xor(a, b):  # type: ignore[no-untyped-def]
    t = _bits("math.bitXor", a, b)
    return t(a ^ b)


@fn("math.bitNot")
def bit_not(a):  # type: ignore[no-untyped-def]
    t = type(a)
    if t is int:
        return ~a
    if t is UInt:
        return UInt(a ^ ((1 << 64) - 1))
    raise no_overload("math.bitNot", a)


def _to_signed(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


@fn("math.bitShiftLeft")
def shift_left(a, n):  # type: ignore[no-untyped-def]
    t = type(a)
    if (t is not int and t is not UInt) or type(n) is not int:
        raise no_overload("math.bitShiftLeft", a, n)
    if n < 0:
        raise CelError(f"math.bitShiftLeft() negative offset: {n}", "invalid_argument")
    if n >= 64:
        return t(0)
    if t is UInt:
        return UInt((a << n) & ((1 << 64) - 1))
    return _to_signed(a << n)


@fn("math.bitShiftRight")
def shift_right(a, n):  # type: ignore[no-untyped-def]
    t = type(a)
    if (t is not int and t is not UInt) or type(n) is not int:
        raise no_overload("math.bitShiftRight", a, n)
    if n < 0:
        raise CelError(f"math.bitShiftRight() negative offset: {n}", "invalid_argument")
    if n >= 64:
        return t(0)
    if t is UInt:
        return UInt(a >> n)
    return _to_signed((a & ((1 << 64) - 1)) >> n)
