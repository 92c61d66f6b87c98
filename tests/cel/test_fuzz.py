"""Fuzzed CEL text never crashes or hangs the parser, checker, compiler or runtime.

Random text, CEL-shaped token soup and hostile shapes (deep nesting, long chains, huge
literals, big comprehensions) go through parse -> check -> compile -> evaluate; the only
exceptions allowed are ``CelSyntaxError`` (parse) and ``CelError`` (everything after), and
every stage ends within a bounded amount of work (counted, not timed).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy import cel, env
from aigw_policy.cel.parser import CelSyntaxError, parse
from work import OverBudget, calls

ACT = {
    "a": [1, 2], "b": {"k": "v"}, "req.url": "https://x/a", "req.url.path": "/a",
    "req.headers": {"x": ["1"]}, "ai.model": "m", "ai.tools": ["t"], "vars": {"n": 1},
}  # fmt: skip
DECLS = {"a": "list(int)", "b": "map(string, string)"}
BUDGET_CALLS = 10_000_000
"""Work allowed for all stages on one input, in calls (tests/work.py): the largest hostile
shape below (a million-element comprehension) takes about 6M; a runaway (an unbounded
comprehension, a parse that backtracks) spends it and is stopped, whatever the machine's load."""


def run_all(text: str) -> None:
    """Every stage on ``text``; only CEL's own errors may escape, and nothing may run away."""
    try:
        calls(lambda: _stages(text), budget=BUDGET_CALLS)
    except OverBudget:
        pytest.fail(f"more than {BUDGET_CALLS:,} calls on {text[:200]!r}")


def _stages(text: str) -> None:
    try:
        node = parse(text)
    except CelSyntaxError as e:
        assert e.diagnostics, text
        node = None
    if node is not None:
        diags = env.check_condition(node)
        assert isinstance(diags, list)
        for d in diags:
            assert d.code.startswith("AIGW3"), (text, d)
    for compile_ in (
        lambda: cel.compile(text),
        lambda: cel.compile(text, DECLS),
        lambda: env.compile_condition(text, {"a": "list(int)", "b": "map(string, string)"}),
    ):
        try:
            prog = compile_()
        except cel.CelError:
            continue
        try:
            prog(ACT)
        except cel.CelError:
            pass


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@_SETTINGS
@given(st.text(max_size=80))
def test_random_text(text: str) -> None:
    run_all(text)


TOKENS = st.sampled_from(
    list("ab01 .,()[]{}'\"+-*/%<>=!&|?:\\") + [
        "in", "has(", "a.all(x,", "a.map(x,", "a.filter(x,", "a.exists_one(x,", "1u", "2.5",
        "null", "b'x'", "'''", '"""', "r'\\d'", "0x7f", "9223372036854775808", "-9223372036854775808",
        "1e400", "true", "dyn(", "int(", "uint(", "double(", "string(", "timestamp('", "duration('",
        "size(", ".matches('", "(?i)", "req.url", ".path", "conn.client_ip", ".categories",
        "getReqHeader('", "inCidrRange(", "?.", "[?", "{?", "optional.of(", ".orValue(",
        "cel.bind(v,", "lists.range(", "math.greatest(", "'%s'.format([", "\\u00e9", "\\x",
        "&&", "||", "==", "!=", ">=", "<=", "vars.", "limits['x']", "ai.model", "json.decode('",
    ]  # fmt: skip
)


@_SETTINGS
@given(st.lists(TOKENS, max_size=30).map("".join))
def test_cel_shaped_text(text: str) -> None:
    run_all(text)


@settings(_SETTINGS, max_examples=60)
@given(
    st.sampled_from(["(", "[", "{'k':", "!", "-", "a.map(x, ", "dyn(", "[[0]][0]", "x ? 1 : "]),
    st.integers(1, 400),
)
def test_hostile_repetition(prefix: str, n: int) -> None:
    run_all(prefix * n + "1")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "[" * 3000 + "]" * 3000,
        "!" * 10000 + "true",
        "-" * 10000 + "1",
        ".".join(["a"] * 5000),
        "1" + " + 1" * 5000,
        "true" + " && true" * 3000,
        "'" + "x" * 1_000_000 + "'",
        "9" * 10000,
        "9" * 10000 + "u",
        "0x" + "f" * 10000,
        "1." + "5" * 10000,
        "lists.range(1000).map(x, lists.range(1000).map(y, x * y)).size() > 0",
        "lists.range(100000000).size() > 0",
        "'ab' * 3",
        "('a' + 'b').replace('', '" + "x" * 100 + "').replace('', '" + "y" * 100000 + "').size() > 0",
        "'%.99999999999f'.format([1.5])",
        "'%.9999f'.format([1.5]).size() > 0",
        "'a'.matches('(a*)*b')",
        "'" + "a" * 100000 + "'.matches('(a|a)*$')",
        "[1, 2, 3].all(x, [1, 2, 3].all(y, [1, 2, 3].all(z, x + y + z > 0)))",
        "{" + ", ".join(f"'{i}': {i}" for i in range(3000)) + "}.size() > 0",
    ],
    ids=lambda t: t[:40],
)
def test_hostile_shapes(text: str) -> None:
    run_all(text)
