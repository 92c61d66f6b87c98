"""Differential property test: our compiled CEL against Google's C++ runtime (cel-expr-python).

Hypothesis builds well-typed expressions (ints, uints, doubles, strings, bools, lists, maps,
ternaries, ``&&``/``||``/``!`` over subterms that may fail such as ``1 / 0``, comparisons,
arithmetic that may overflow, string functions, ``size``, ``in``, macros) and variable
values; both runtimes must agree on the value, or both must fail.

    CEL_DIFF_EXAMPLES=5000 .venv/bin/python -m pytest tests/cel/test_differential.py
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy import cel

import cel_expr_python.cel as c  # noqa: E402  (a test dependency)

INT64_MAX = 2**63 - 1
DECLS = {"x": "int", "z": "int", "d": "double", "s": "string", "l": "list(int)", "m": "map(string, int)"}
VARS = {"x": "int", "z": "int", "d": "double", "s": "string", "l": "list_int", "m": "map_int"}

_ENV = None


def _env():  # type: ignore[no-untyped-def]
    global _ENV
    if _ENV is None:
        t = c.Type
        _ENV = c.NewEnv(
            variables={
                "x": t.INT, "z": t.INT, "d": t.DOUBLE, "s": t.STRING,
                "l": t.List(t.INT), "m": t.Map(t.STRING, t.INT),
            }  # fmt: skip
        )
    return _ENV


# -- expressions: (text, type) -----------------------------------------------------------
INTS = st.sampled_from([0, 1, 2, 3, -1, 7, 10, 100, -100, INT64_MAX, 2**62, 4611686018427387904, 3037000500])
UINTS = st.sampled_from([0, 1, 2, 3, 10, 2**63, 2**64 - 1, 2**32])
DOUBLES = st.sampled_from(["0.0", "1.5", "-2.25", "1e308", "0.1", "3.0", "-0.0", "1e-300"])
STRINGS = st.sampled_from(["''", "'a'", "'abc'", "'héllo'", "'A b'", "'x'", "'ab'", "'bc'"])
KEYS = st.sampled_from(["'a'", "'b'", "'c'", "'zz'"])


def _p(text: str) -> str:
    return f"({text})"


@st.composite
def expr(draw, t: str, depth: int = 3):  # type: ignore[no-untyped-def]
    leaf = depth <= 0 or draw(st.integers(0, 3)) == 0
    if leaf:
        return draw(_leaf(t))
    sub = depth - 1
    if draw(st.integers(0, 9)) == 0:
        # ternary over any type
        return f"({draw(expr('bool', sub))} ? {draw(expr(t, sub))} : {draw(expr(t, sub))})"
    if t == "int":
        k = draw(st.integers(0, 9))
        if k <= 4:
            op = "+-*/%"[k]
            return _p(f"{draw(expr('int', sub))} {op} {draw(expr('int', sub))}")
        if k == 5:
            return f"-{_p(draw(expr('int', sub)))}"
        if k == 6:
            return f"size({draw(expr(draw(st.sampled_from(['string', 'list_int', 'map_int'])), sub))})"
        if k == 7:
            return f"{_p(draw(expr('list_int', sub)))}[{draw(expr('int', 0))}]"
        if k == 8:
            return f"{_p(draw(expr('map_int', sub)))}[{draw(KEYS)}]"
        src = draw(st.sampled_from(["uint", "double", "string", "num_str"]))
        return "int" + _p(draw(expr(src, sub)))
    if t == "num_str":
        return draw(_leaf("num_str"))
    if t == "uint":
        k = draw(st.integers(0, 5))
        if k <= 4:
            op = "+-*/%"[k]
            return _p(f"{draw(expr('uint', sub))} {op} {draw(expr('uint', sub))}")
        return f"uint({draw(expr(draw(st.sampled_from(['int', 'double'])), sub))})"
    if t == "double":
        k = draw(st.integers(0, 5))
        if k <= 3:
            op = "+-*/"[k]
            return _p(f"{draw(expr('double', sub))} {op} {draw(expr('double', sub))}")
        if k == 4:
            return f"-{_p(draw(expr('double', sub)))}"
        return f"double({draw(expr(draw(st.sampled_from(['int', 'uint', 'num_str', 'string'])), sub))})"
    if t == "string":
        k = draw(st.integers(0, 2))
        if k == 0:
            return _p(f"{draw(expr('string', sub))} + {draw(expr('string', sub))}")
        if k == 1:
            # string(double) only of literals: infinities and NaN print differently in cel-cpp
            src = draw(st.sampled_from(["int", "uint", "bool", "double_lit"]))
            return f"string({draw(expr(src, 0) if src != 'double_lit' else DOUBLES)})"
        return f"{_p(draw(expr('map_str', sub)))}[{draw(KEYS)}]"
    if t == "bool":
        k = draw(st.integers(0, 9))
        if k == 0:
            op = draw(st.sampled_from(["&&", "||"]))
            return _p(f"{draw(expr('bool', sub))} {op} {draw(expr('bool', sub))}")
        if k == 1:
            return f"!{_p(draw(expr('bool', sub)))}"
        if k == 2 and draw(st.booleans()):
            # heterogeneous numeric equality and ordering through dyn
            a, b = draw(st.sampled_from(["int", "uint", "double"])), draw(st.sampled_from(["int", "uint", "double"]))
            op = draw(st.sampled_from(["==", "!=", "<", ">="]))
            return _p(f"dyn({draw(expr(a, sub))}) {op} dyn({draw(expr(b, sub))})")
        if k in (2, 3):
            ct = draw(st.sampled_from(["int", "uint", "double", "string", "bool"]))
            op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
            return _p(f"{draw(expr(ct, sub))} {op} {draw(expr(ct, sub))}")
        if k == 4:
            f = draw(st.sampled_from(["contains", "startsWith", "endsWith"]))
            return f"{_p(draw(expr('string', sub)))}.{f}({draw(expr('string', sub))})"
        if k == 5:
            pat = draw(st.sampled_from(["'^a'", "'b+'", "'(?i)A'", "'^$'", "'h.l'"]))
            return f"{_p(draw(expr('string', sub)))}.matches({pat})"
        if k == 6:
            return _p(f"{draw(expr('int', sub))} in {draw(expr('list_int', sub))}")
        if k == 7:
            return _p(f"{draw(KEYS)} in {draw(expr('map_int', sub))}")
        macro = draw(st.sampled_from(["all", "exists", "exists_one"]))
        body = draw(expr("bool_v", sub))
        return f"{_p(draw(expr('list_int', sub)))}.{macro}(v, {body})"
    if t == "bool_v":  # a predicate over the int `v`
        op = draw(st.sampled_from(["==", "!=", "<", ">"]))
        rhs = draw(st.sampled_from(["0", "1", "x", "10 / v", "v * v", "100 % v"]))
        return _p(f"v {op} {rhs}")
    if t == "list_int":
        k = draw(st.integers(0, 3))
        if k == 0:
            return _p(f"{draw(expr('list_int', sub))} + {draw(expr('list_int', sub))}")
        if k == 1:
            return f"{_p(draw(expr('list_int', sub)))}.map(v, v * 2)"
        if k == 2:
            return f"{_p(draw(expr('list_int', sub)))}.filter(v, v % 2 == 0)"
        items = draw(st.lists(expr("int", sub), max_size=3))
        return "[" + ", ".join(items) + "]"
    if t == "map_int":
        keys = draw(st.lists(KEYS, max_size=3, unique=True))
        return "{" + ", ".join(f"{k}: {draw(expr('int', sub))}" for k in keys) + "}"
    if t == "map_str":
        keys = draw(st.lists(KEYS, max_size=3, unique=True))
        return "{" + ", ".join(f"{k}: {draw(expr('string', sub))}" for k in keys) + "}"
    raise AssertionError(t)


def _leaf(t: str):  # type: ignore[no-untyped-def]
    if t == "int":
        return st.one_of(INTS.map(str), st.sampled_from(["x", "z"]))
    if t == "uint":
        return UINTS.map(lambda v: f"{v}u")
    if t == "double":
        return st.one_of(DOUBLES, st.just("d"))
    if t == "string":
        return st.one_of(STRINGS, st.just("s"), st.sampled_from(["string(b'\\xc3\\xa9')", "'%d'"]))
    if t == "bool":
        return st.sampled_from(["true", "false", "(1 / 0 == 1)", "(x / z > 0)", "('a' in m)"])
    if t == "bool_v":
        return st.sampled_from(["(v > 0)", "(v == x)", "(10 / v > 1)"])
    if t == "list_int":
        return st.sampled_from(["l", "[]", "[1, 2, 3]", "[0]"])
    if t == "map_int":
        return st.sampled_from(["m", "{}", "{'a': 1}"])
    if t == "map_str":
        return st.sampled_from(["{}", "{'a': 'x', 'b': ''}"])
    if t == "num_str":
        return st.sampled_from(["'12'", "'-0'", "'1e3'", "'9223372036854775808'", "'+5'", "'1.5'", "'NaN'", "'-inf'", "'1_0'"])
    raise AssertionError(t)


DATA = st.fixed_dictionaries(
    {
        "x": INTS,
        "z": st.sampled_from([0, 1, -1, 2, INT64_MAX]),
        "d": st.sampled_from([0.0, 1.5, -3.0, 1e308, float("inf")]),
        "s": st.sampled_from(["", "a", "abc", "héllo"]),
        "l": st.lists(st.integers(-3, 3), max_size=4),
        "m": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(-2, 2), max_size=3),
    }
)


# -- comparing ---------------------------------------------------------------------------
def ours(text: str, data: dict) -> tuple[str, object]:
    prog = cel.compile(text, DECLS)
    try:
        return "value", prog(data)
    except cel.CelError as e:
        return "error", str(e)


def theirs(text: str, data: dict) -> tuple[str, object] | None:
    try:
        e = _env().compile(text)
    except Exception:  # noqa: BLE001 - their checker said no: not comparable
        return None
    r = e.eval(data=data)
    if r.type() == c.Type.ERROR:
        return "error", r.plain_value()
    return "value", r.plain_value()


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b and math.copysign(1, a) == math.copysign(1, b) if a == 0 else a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return isinstance(a, float) == isinstance(b, float) and a == b
    return a == b


def known_divergence(got: tuple[str, object], want: tuple[str, object]) -> bool:
    """Where cel-cpp and cel-go differ and we follow cel-go (and the conformance suite).

    * ``uint(-0.5)``: cel-go truncates toward zero first (``0u``), cel-cpp errors on any
      negative double;
    * ``string(double)`` of an infinity or NaN: ``+Inf``/``-Inf``/``NaN`` (Go's
      ``FormatFloat``), cel-cpp writes ``inf``/``-inf``/``nan`` (the generator only
      converts double literals, so this is a guard).
    (Number parsing also differs: cel-cpp's ``int(' 1')``, ``double('0x10')`` accept
    whitespace and hex; cel-go and we do not. The generator leaves those strings out.)
    """
    if got == ("value", 0) and want[0] == "error" and "out of uint64 range" in str(want[1]):
        return True
    if got[0] == want[0] == "value" and isinstance(got[1], str) and isinstance(want[1], str):
        fix = {"+Inf": "inf", "-Inf": "-inf", "NaN": "nan"}
        return fix.get(got[1], got[1]) == want[1].replace("-nan", "nan")
    return False


N = int(os.environ.get("CEL_DIFF_EXAMPLES", "200"))
TYPES = st.sampled_from(["bool", "bool", "bool", "int", "uint", "double", "string", "list_int"])


@settings(max_examples=N, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data(), values=DATA)
def test_ours_agrees_with_cel_cpp(data, values) -> None:  # type: ignore[no-untyped-def]
    text = data.draw(TYPES.flatmap(lambda t: expr(t, 3)), label="expr")
    want = theirs(text, values)
    if want is None:
        return
    got = ours(text, values)
    if known_divergence(got, want):
        return
    assert got[0] == want[0], (text, values, got, want)
    if got[0] == "value":
        assert same(got[1], want[1]), (text, values, got, want)


@pytest.mark.parametrize(
    "text",
    [
        "(1 / 0 == 1) || true", "true || (1 / 0 == 1)", "(1 / 0 == 1) && false",
        "!(1 / 0 == 1) || x == x", "9223372036854775807 + 1 > 0 || true",
        "[1, 2, 3].exists(v, 10 / v == 10 / 0) || [1].all(v, v == 1)",
        "[0, 1].exists(v, 10 / v > 1)", "[0, 1].all(v, 10 / v > 1)",
        "-9223372036854775807 - 1 == -9223372036854775807 - 1", "0u - 1u == 0u",
        "-9223372036854775808 % -1 == 0", "uint(-0.5) == 0u", "uint(-1e-300) == 0u", "uint(-0.0) == 0u", "(x - 9223372036854775807 - 2) % -x == 0", "dyn(-9223372036854775808) % dyn(-1)",
        "int(9223372036854775807.0) > 0", "uint(-1) == 0u", "int('12') + int(2.9) == 14",
        "'héllo'.size() == 5 && size(b'h\\xc3\\xa9') == 3",
        "string(1.5) + string(-0.0) + string(1e21) + string(0.1) + string(123456789.0)", "{'a': 1}['b'] == 1 || true",
    ],  # fmt: skip
)
def test_known_corners_agree(text: str) -> None:
    values = {"x": 1, "z": 0, "d": 0.5, "s": "s", "l": [1], "m": {"a": 1}}
    want = theirs(text, values)
    assert want is not None, text
    got = ours(text, values)
    assert got[0] == want[0], (text, got, want)
    if got[0] == "value":
        assert same(got[1], want[1]), (text, got, want)
