"""Differential property test against cel-python 0.5, on the part of CEL it gets right.

cel-python passes about 60% of the conformance suite: it is wrong on overflow, heterogeneous
numbers, some errors-as-values and much of the standard library. This test keeps to what it
does correctly (int arithmetic well inside int64 without division, strings and their common
functions, same-type comparisons, `in`, `size`, boolean logic without failing subterms,
ternaries, list macros) and asks that both runtimes give the same value.

cel-python has bugs of its own even there (``('' + '').contains('')`` raises inside it: the
sum is a plain ``str`` without CEL's methods). When the oracle fails, it cannot say what the
answer is: that example is not a comparison (``reject()``, so hypothesis draws another, and
its ``filter_too_much`` health check fails the test if the oracle can say too little), and
ours must still end in a value or a CEL error, never a crash. Examples are derandomized
(tests/conftest.py), so a run is reproducible.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

import celpy  # noqa: E402  (a test dependency)
from aigw_policy import cel
from celpy import celtypes

DECLS = {"x": "int", "y": "int", "s": "string", "t": "string", "l": "list(int)"}
SMALL = st.integers(-50, 50).map(str)
WORDS = st.sampled_from(["''", "'a'", "'ab'", "'abc'", "'b'", "'héllo'"])


@st.composite
def expr(draw, kind: str, depth: int = 3):  # type: ignore[no-untyped-def]
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(_leaf(kind))
    d = depth - 1
    if kind == "int":
        k = draw(st.integers(0, 4))
        if k <= 2:
            return f"({draw(expr('int', d))} {'+-*'[k]} {draw(expr('int', d))})"
        if k == 3:
            return f"size({draw(expr(draw(st.sampled_from(['string', 'list'])), d))})"
        return f"({draw(expr('bool', d))} ? {draw(expr('int', d))} : {draw(expr('int', d))})"
    if kind == "string":
        if draw(st.booleans()):
            return f"({draw(expr('string', d))} + {draw(expr('string', d))})"
        return f"({draw(expr('bool', d))} ? {draw(expr('string', d))} : {draw(expr('string', d))})"
    if kind == "list":
        k = draw(st.integers(0, 2))
        if k == 0:
            return f"({draw(expr('list', d))} + {draw(expr('list', d))})"
        if k == 1:
            return f"{draw(expr('list', d))}.map(v, v * 2)"
        return f"{draw(expr('list', d))}.filter(v, v > 0)"
    # bool
    k = draw(st.integers(0, 6))
    if k == 0:
        return f"({draw(expr('bool', d))} {draw(st.sampled_from(['&&', '||']))} {draw(expr('bool', d))})"
    if k == 1:
        return f"!{draw(expr('bool', d))}"
    if k == 2:
        t = draw(st.sampled_from(["int", "string"]))
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"({draw(expr(t, d))} {op} {draw(expr(t, d))})"
    if k == 3:
        f = draw(st.sampled_from(["contains", "startsWith", "endsWith"]))
        return f"{draw(expr('string', d))}.{f}({draw(expr('string', d))})"
    if k == 4:
        return f"({draw(expr('int', d))} in {draw(expr('list', d))})"
    macro = draw(st.sampled_from(["all", "exists"]))
    return f"{draw(expr('list', d))}.{macro}(v, v {draw(st.sampled_from(['>', '<', '==']))} x)"


def _leaf(kind: str):  # type: ignore[no-untyped-def]
    return {
        "int": st.one_of(SMALL, st.sampled_from(["x", "y"])),
        "string": st.one_of(WORDS, st.sampled_from(["s", "t"])),
        "list": st.sampled_from(["l", "[]", "[1, 2, 3]", "[x, y]"]),
        "bool": st.sampled_from(["true", "false", "(x > y)", "s.contains('a')"]),
    }[kind]


DATA = st.fixed_dictionaries({
    "x": st.integers(-20, 20), "y": st.integers(-20, 20),
    "s": st.sampled_from(["", "a", "abc", "héllo"]), "t": st.sampled_from(["b", "ab"]),
    "l": st.lists(st.integers(-3, 3), max_size=4),
})


class OracleCannotSay(Exception):
    """cel-python failed on an expression of the subset, where CEL has a value: its own bug."""


def _celpy(text: str, data: dict) -> object:
    limit = sys.getrecursionlimit()  # cel-python raises the process's limit: put it back
    try:
        return _celpy_eval(text, data)
    except Exception as error:  # any failure of the oracle is the oracle's
        raise OracleCannotSay(f"cel-python on {text!r}: {type(error).__name__}: {error}") from error
    finally:
        sys.setrecursionlimit(limit)


def _celpy_eval(text: str, data: dict) -> object:
    env = celpy.Environment()
    activation = {
        "x": celtypes.IntType(data["x"]), "y": celtypes.IntType(data["y"]),
        "s": celtypes.StringType(data["s"]), "t": celtypes.StringType(data["t"]),
        "l": celpy.json_to_cel(data["l"]),
    }
    return env.program(env.compile(text)).evaluate(activation)


def _plain(value: object) -> object:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # celtypes.BoolType is an int too: bool checked first
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["int", "string", "bool", "list"]), data=st.data(), values=DATA)
def test_agrees_with_cel_python(kind: str, data: st.DataObject, values: dict) -> None:
    text = data.draw(expr(kind))
    try:
        theirs = _celpy(text, values)
    except OracleCannotSay:
        _ours_or_cel_error(text, values)
        event("cel-python cannot say")
        reject()
    ours = cel.compile(text, DECLS)(values)
    if isinstance(theirs, celtypes.BoolType):
        theirs = bool(theirs)
    assert _plain(ours) == _plain(theirs), text


def _ours_or_cel_error(text: str, values: dict) -> None:
    try:
        cel.compile(text, DECLS)(values)
    except cel.CelError:
        pass


def test_an_oracle_crash_is_not_a_disagreement() -> None:
    """The expression hypothesis found: cel-python fails inside, ours answers as CEL says."""
    text = "('' + '').contains('')"
    values = {"x": 0, "y": 0, "s": "", "t": "b", "l": []}
    with pytest.raises(OracleCannotSay):
        _celpy(text, values)
    assert cel.compile(text, DECLS)(values) is True
