"""Every CEL builtin is total: on any arguments it returns a CEL value or raises a CelError.

A Python exception escaping a builtin (IndexError, ValueError, OverflowError,
UnicodeEncodeError...) would reach policy authors as a CEL error that names Python
internals, or worse, as a crash. Hypothesis calls each builtin (the standard library and
its extensions, the operators, ngrok's macros) with arbitrary CEL values, including the
awkward ones: extreme numbers, -0.0 and NaN, lone surrogates, timestamps at years 1 and
9999, int64-min durations, maps with bool and int keys side by side.

    CEL_TOTAL_EXAMPLES=2000 .venv/bin/python -m pytest tests/cel/test_builtins_total.py
"""

from __future__ import annotations

import inspect
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.cel.runtime import checks, ops, stdlib
from aigw_policy.env import ngrok
from aigw_policy.cel.runtime.network import parse_cidr, parse_ip
from aigw_policy.cel.runtime.values import (
    DUR_MAX, DUR_MIN, INT64_MAX, INT64_MIN, TS_MAX, TS_MIN, UINT64_MAX, CelError, Duration,
    Optional, Timestamp, UInt,
)  # fmt: skip

OPERATORS = {
    "_==_": ops.eq, "_!=_": ops.ne, "_<_": ops.lt, "_<=_": ops.le, "_>_": ops.gt,
    "_>=_": ops.ge, "_+_": ops.add, "_-_": ops.sub, "_*_": ops.mul, "_/_": ops.div,
    "_%_": ops.mod, "-_": ops.neg, "!_": ops.not_, "_[_]": ops.index, "@in": ops.in_,
    "_[?_]": stdlib.opt_index,
}  # fmt: skip
FIELD_OPERATORS = {"_.f_": ops.select, "has": ops.has, "_.?f": stdlib.opt_select}  # names are literals
PURE = {**stdlib.FUNCTIONS, **ngrok.FUNCTIONS, **OPERATORS}
for _random in ("rand.int", "rand.double"):
    PURE.pop(_random)


def _arity(f) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    params = inspect.signature(f).parameters.values()
    lo = sum(1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return lo, lo + 3
    return lo, sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)


AWKWARD_TEXT = [
    "", "\ud800", "a\udfffb", "٣", "１", " 1", "1_0", "+24:00", "-00:30", "99:99", "UTC", "utc",
    "America/New_York", "../../etc/passwd", "%s", "%.f", "%d %x %e", "%.9999999f", "%", "1h",
    "-9223372036854775808ns", "9" * 5000, "::ffff:c0a8:1", "::ffff:1.2.3.4", "10.0.0.0/8",
    "fe80::1%en0", "1.2.3.4/0033", '{"a": 1e999}', '[1, 2', "NaN", "-Infinity", "0x10",
    "2020-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
    "http://[::1", "a=%zz&b", "%ff", "===", "hex", "base64",
]  # fmt: skip

AWKWARD = [
    *AWKWARD_TEXT, None, True, False, 0, 1, -1, 63, 64, INT64_MIN, INT64_MAX, UInt(0), UInt(1),
    UInt(UINT64_MAX), -0.0, 0.5, -0.5, 1e300, 5e-324, 2.0**63, float("nan"), float("-inf"),
    b"", b"\xff\xfe", Timestamp(TS_MIN), Timestamp(TS_MAX), Timestamp(0), Duration(DUR_MIN),
    Duration(DUR_MAX), Duration(0), *checks.TYPES.values(), parse_ip("::ffff:a00:1"),
    parse_ip("::1"), parse_cidr("10.0.0.0/8"), parse_cidr("2001:db8::/32"),
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(AWKWARD),
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(0, UINT64_MAX).map(UInt),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.integers(TS_MIN, TS_MAX).map(Timestamp),
    st.integers(DUR_MIN, DUR_MAX).map(Duration),
)
KEYS = st.one_of(st.text(max_size=4), st.integers(-2, 2), st.booleans(), st.integers(0, 2).map(UInt))


def _map(pairs: list) -> dict:
    return ops.make_map(pairs)


def _containers(inner):  # type: ignore[no-untyped-def]
    unique = lambda kv: (type(kv[0]) is bool, type(kv[0]) is str, kv[0])  # noqa: E731 - 1 and 1u are one key
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(KEYS, inner), max_size=4, unique_by=unique).map(_map),
        st.builds(Optional, inner, st.booleans()),
    )


VALUES = st.one_of(st.sampled_from(AWKWARD), st.recursive(scalars, _containers, max_leaves=6))
N = int(os.environ.get("CEL_TOTAL_EXAMPLES", "60"))


@pytest.mark.parametrize("name", sorted(PURE))
@settings(max_examples=N, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_builtin_raises_only_cel_errors(name: str, data) -> None:  # type: ignore[no-untyped-def]
    f = PURE[name]
    lo, hi = _arity(f)
    args = [data.draw(VALUES, label=f"arg{i}") for i in range(data.draw(st.integers(lo, hi)))]
    try:
        f(*args)
    except CelError:
        pass


# every builtin on every awkward value, and on every pair of a smaller set (a random draw
# rarely pairs a boundary timestamp with an odd time zone, or a format with its argument)
PAIRS = [
    "", "\ud800", "٣", "+24:00", "-99:99", "UTC", "Pacific/Kiritimati", "%s", "%.2f", "%x",
    "::ffff:c0a8:1", "10.0.0.0/8", "1h", 0, -1, 64, INT64_MIN, UInt(UINT64_MAX), -0.0,
    float("nan"), 1e300, b"\xff", Timestamp(TS_MIN), Timestamp(TS_MAX), Duration(DUR_MIN),
    Duration(DUR_MAX), None, True, [], ["\ud800"], [float("nan")], ops.make_map([(True, 1), (1, 2)]),
    Optional(1, True),
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(PURE))
def test_builtin_on_awkward_values_raises_only_cel_errors(name: str) -> None:
    f = PURE[name]
    lo, hi = _arity(f)
    calls = [()] if lo == 0 else []
    if lo <= 1 <= hi:
        calls += [(a,) for a in AWKWARD + PAIRS]
    if lo <= 2 <= hi:
        calls += [(a, b) for a in PAIRS for b in PAIRS]
    for args in calls:
        try:
            f(*args)
        except CelError:
            pass
        except Exception as e:  # noqa: BLE001 - the point of the test
            raise AssertionError(f"{name}{args!r:.200} raised {type(e).__name__}: {e}") from e


@pytest.mark.parametrize("name", sorted(FIELD_OPERATORS))
@settings(max_examples=N, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(value=VALUES, field=st.one_of(st.text(max_size=4), st.sampled_from(AWKWARD_TEXT)))
def test_field_selection_raises_only_cel_errors(name: str, value: object, field: str) -> None:
    try:
        FIELD_OPERATORS[name](value, field)
    except CelError:
        pass


ACTIVATIONS = st.fixed_dictionaries(
    {
        "req": st.fixed_dictionaries({"headers": VALUES, "cookies": VALUES, "url": VALUES}),
        "res": st.fixed_dictionaries({"headers": VALUES, "cookies": VALUES}),
        "secrets": VALUES,
    }
)


@pytest.mark.parametrize("name", sorted(ngrok.ACTIVATION_FUNCTIONS))
@settings(max_examples=N, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_request_reading_builtin_raises_only_cel_errors(name: str, data) -> None:  # type: ignore[no-untyped-def]
    f = ngrok.ACTIVATION_FUNCTIONS[name]
    lo, hi = _arity(f)
    act = data.draw(ACTIVATIONS)
    args = [data.draw(VALUES, label=f"arg{i}") for i in range(data.draw(st.integers(lo - 1, hi - 1)))]
    try:
        f(act, *args)
    except CelError:
        pass
