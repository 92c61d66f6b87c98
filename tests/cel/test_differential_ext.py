"""Differential test of the extensions and map keys against Google's C++ runtime.

Hypothesis draws calls of the math extension on awkward doubles (-0.0, 0.49999999999999994,
odd doubles past 2^52, NaN, infinities), string index functions on empty and non-ASCII
strings, ``%s`` formatting of lists and maps, and map literals mixing bool, int and uint
keys; ours and cel-cpp (``cel-expr-python`` with its extensions) must agree on the value,
or both fail. Documented divergences are skipped in ``known_divergence``.

    CEL_DIFF_EXAMPLES=5000 .venv/bin/python -m pytest tests/cel/test_differential_ext.py
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy import cel

c = pytest.importorskip("cel_expr_python.cel")
from cel_expr_python.ext import ext_math, ext_strings  # noqa: E402

from test_differential import same  # noqa: E402

_ENV = None


def _env():  # type: ignore[no-untyped-def]
    global _ENV
    if _ENV is None:
        _ENV = c.NewEnv(variables={}, extensions=[ext_math.ExtMath(), ext_strings.ExtStrings()])
    return _ENV


DOUBLES = st.sampled_from([
    "0.49999999999999994", "-0.49999999999999994", "4503599627370497.0", "-4503599627370497.0",
    "4503599627370495.5", "2.5", "-2.5", "0.5", "-0.5", "1.5", "-0.3", "-0.0", "0.0", "1e300",
    "-1e-300", "double('NaN')", "double('Infinity')", "double('-Infinity')", "-7.9",
])  # fmt: skip
MATH = st.sampled_from(["ceil", "floor", "round", "trunc", "abs", "sign", "sqrt", "isNaN", "isInf", "isFinite"])
STRINGS = st.sampled_from(["''", "'a'", "'abc'", "'a😀b'", "'héllo'", "'aaa'", "'😀'"])
POS = st.integers(-1, 5).map(str)
KEYS = st.sampled_from(["true", "false", "0", "1", "2", "1u", "0u", "'a'"])
SCALARS = st.sampled_from(["'abc'", "''", "1", "-2", "3u", "true", "null", "2.5", "b'xy'", "[1, 'a']", "{'k': 'v'}"])


@st.composite
def expr(draw) -> str:  # type: ignore[no-untyped-def]
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return f"math.{draw(MATH)}({draw(DOUBLES)})"
    if kind == 1:
        s, t, i, j = draw(STRINGS), draw(STRINGS), draw(POS), draw(POS)
        return draw(st.sampled_from([
            f"{s}.indexOf({t})", f"{s}.indexOf({t}, {i})", f"{s}.lastIndexOf({t})",
            f"{s}.lastIndexOf({t}, {i})", f"{s}.charAt({i})", f"{s}.substring({i})",
            f"{s}.substring({i}, {j})",
        ]))  # fmt: skip
    if kind == 2:
        items = draw(st.lists(SCALARS, max_size=3))
        if draw(st.booleans()):
            return f"'%s'.format([[{', '.join(items)}]])"
        keys = draw(st.lists(st.sampled_from(["'b'", "'a'", "'c'", "1", "2", "true"]), max_size=3, unique=True))
        return "'%s'.format([{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items)) + "}])"
    keys = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
    m = "{" + ", ".join(f"{k}: {n}" for n, k in enumerate(keys)) + "}"
    k = draw(KEYS)
    return draw(st.sampled_from([f"size({m})", f"dyn({m})[{k}]", f"{k} in dyn({m})"]))


def ours(text: str) -> tuple[str, object]:
    try:
        return "value", cel.compile(text)({})
    except cel.CelError as e:
        return "error", str(e)


def theirs(text: str) -> tuple[str, object] | None:
    try:
        r = _env().compile(text, disable_check=True).eval(data={})
        if r.type() == c.Type.ERROR:
            return "error", r.plain_value()
        return "value", r.plain_value()
    except Exception:  # noqa: BLE001 - cel-cpp cannot build or convert it: not comparable
        return None


def known_divergence(text: str, got: tuple[str, object], want: tuple[str, object]) -> bool:
    """Where we follow the conformance suite or the extension docs, not cel-cpp.

    * ``{1: a, 1u: b}``: int and uint keys of one value are one key, a repeated key error
      (cel-spec's fields.textproto); cel-cpp keeps both;
    * ``s.substring(i, size(s))``: cel-cpp refuses an end equal to the size, which the
      strings doc and the conformance suite (``'ta©o©αT'.substring(7, 7)``) allow.
    """
    if got[0] == "error" and "repeated key" in str(got[1]) and want[0] == "value":
        return True
    return ".substring(" in text and got[0] == "value" and "greater than <string>.size()" in str(want[1])


N = int(os.environ.get("CEL_DIFF_EXAMPLES", "300"))


@settings(max_examples=N, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=expr())
def test_extensions_agree_with_cel_cpp(text: str) -> None:
    want = theirs(text)
    if want is None:
        return
    got = ours(text)
    if known_divergence(text, got, want):
        return
    assert got[0] == want[0], (text, got, want)
    if got[0] == "value":
        assert same(got[1], want[1]), (text, got, want)


@pytest.mark.parametrize("text", [
    r"strings.quote('a\x00b')", r"strings.quote('\x7f\x1b')", r"strings.quote('no\u00a0break')",
    r"strings.quote('line\u2028sep')", r"strings.quote('zero\u200bwidth')", r"strings.quote('\a\b\f\n\r\t\v')",
    r"strings.quote('q\"\\')", r"strings.quote('é😀')", r"strings.quote('')",
])  # fmt: skip
def test_quote_agrees_with_cel_cpp(text: str) -> None:
    """Only the extension's escapes are written as escapes; every other character, control or
    not, as it is (cel-go writes them raw too)."""
    want = theirs(text)
    assert want is not None, text
    assert ours(text) == want, text


@pytest.mark.parametrize("text", [
    "'abc'.indexOf('b', null)", "'abc'.lastIndexOf('b', null)", "'abc'.replace('a', 'b', null)",
    "'a,b'.split(',', null)", "'abc'.substring(1, null)", "timestamp('2024-01-01T00:00:00Z').getHours(null)",
    "timestamp('2024-01-01T00:00:00Z').getFullYear(null)", "duration('1h').getMinutes(null)",
    "'abc'.indexOf('b', dyn(null))", "timestamp('2024-01-01T00:00:00Z').getDayOfWeek(dyn(null))",
])  # fmt: skip
def test_null_is_never_an_optional_argument_left_out(text: str) -> None:
    """A function with an optional argument given `null` has no overload, as in cel-cpp: the
    null is not read as the argument's absence (we answered as if it were)."""
    got = ours(text)
    assert got[0] == "error" and "no such overload" in str(got[1]), (text, got)
    want = theirs(text)
    assert want is None or want[0] == "error", (text, want)
