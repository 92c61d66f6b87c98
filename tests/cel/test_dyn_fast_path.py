"""The guarded fast path for ``dyn`` operands gives exactly what the exact body gives.

Every expression is checked against every runtime value, including the ones where Python
and CEL differ (a bool is an int to Python, ``'a' in 'abc'`` is a substring test, an int
and a float compare exactly in Python but through a double in CEL, ``'abc'[0]`` indexes).
"""

from __future__ import annotations

import itertools

import pytest

from aigw_policy import cel
from aigw_policy.cel.runtime.values import NONE, Optional, UInt

EXPRESSIONS = [
    "x == 'a'", "x != 'a'", "'a' == x", "x == b'a'", "x == null", "x != null",
    "x == true", "x != true", "false == x", "x == 1", "x != 1", "1 == x", "x == 1.0", "x == 9223372036854775807",
    "x < 1", "x <= 1", "x > 1", "x >= 1", "1 < x", "2.5 >= x", "x < 9223372036854775808.0",
    "x > 9223372036854775807", "x < 'b'", "'b' <= x", "x > b'a'",
    "'a' in x", "'k' in x", "x['k'] == 1", "x.k == 1", "x[0] == 'a'", "x[0] == 1",
    "size(x) == 1", "x.size() == 1", "size(x) > 0",
    "m.a == 'a'", "m.a.k == 1", "m['a'] < 3", "m.a[0] == 'a'", "'a' in m.a",
    "l.exists(e, e == 1)", "l.all(e, e != 'a')", "l.exists(e, size(e) == 1)", "x.matches('^a')",
    "m.a.matches('b')",
]
VALUES = [
    True, False, 0, 1, 2, -1, 1.0, 0.5, 2.5, float("nan"), UInt(1), 9223372036854775807,
    9223372036854775808.0, "a", "b", "", "abc", b"a", b"", [], ["a"], [1], [True], ("a",),
    {"k": 1}, {"a": 1}, {1: "a"}, {True: 1}, None, Optional(1, True), NONE,
]
DECLS = {"x": "dyn", "m": "map(string, dyn)", "l": "list(dyn)"}


def outcome(fn, act):  # type: ignore[no-untyped-def]
    try:
        value = fn(act)
    except cel.CelError:
        return "error"
    if isinstance(value, float) and value != value:
        return "nan"
    return (type(value), value)


@pytest.mark.parametrize("src", EXPRESSIONS)
def test_the_fast_body_agrees_with_the_exact_body(src: str) -> None:
    prog = cel.compile(src, DECLS)
    exact = prog.function.__globals__["_exact"]
    for x, y in itertools.product(VALUES, VALUES[::3]):
        act = {"x": x, "m": {"a": x}, "l": [x, y]}
        assert outcome(prog, act) == outcome(exact, act), (src, x, y)


def test_the_dyn_path_is_plain_python_where_it_can_be() -> None:
    prog = cel.compile("'x-team' in req.headers && req.headers['x-team'][0] == 'research' && "
                       "req.method == 'POST' && ai.max_tokens <= 4096 && size(ai.prompt) < 10",
                       {"req": "map(string, dyn)", "ai": "map(string, dyn)"})
    fast = prog.python_source.split("\n")[2]
    for helper in ("_sel(", "_idx(", "_eq(", "_le(", "_in(", "_lt("):
        assert helper not in fast, helper
