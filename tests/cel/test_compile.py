"""ap.cel.compile: the public API, errors, declarations, the policy environment, cost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap  # noqa: F401
from aigw_policy import cel, env


def test_spec_example() -> None:
    fn = cel.compile("a + 1 > b", {"a": "int", "b": "int"})
    assert fn({"a": 1, "b": 0}) is True
    assert fn(a=1, b=5) is False


def test_declarations_optional_and_errors_raise() -> None:
    fn = cel.compile("x / y")
    assert fn({"x": 6, "y": 4}) == 1
    with pytest.raises(cel.CelError, match="divide by zero"):
        fn({"x": 1, "y": 0})


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("1/0 != 0 || true", True),
        ("false && 1/0 != 0", False),
        ("1/0 != 0 && false", False),
        ("[1, 2, 3].exists(x, 1/(x-1) > 0)", True),
        ("9223372036854775807 + 0", 9223372036854775807),
        ("'x-team' in {'x-team': 1}", True),
        ("[1, 2].all(i, v, v > i)", True),
        ("cel.bind(x, 2, x * x)", 4),
        ("ip('10.0.0.1').family()", 4),
        ("optional.of(1).orValue(2)", 1),
        ("'%d-%s'.format([1, 'a'])", "1-a"),
    ],
)
def test_semantics(expr: str, want: object) -> None:
    assert cel.compile(expr, {})({}) == want


def test_overflow_is_an_error() -> None:
    with pytest.raises(cel.CelError, match="overflow"):
        cel.compile("x + 1", {"x": "int"})({"x": 9223372036854775807})


def test_type_errors_are_diagnostics_with_spans() -> None:
    with pytest.raises(cel.CelError) as info:
        env.compile_condition("identity.tem == 'x'")
    d = info.value.diagnostics[0]  # type: ignore[attr-defined]
    assert d.code == "AIGW300"
    assert d.help == "did you mean `identity.team`?"
    assert (d.span.start, d.span.end) == (0, 12)
    with pytest.raises(cel.CelError) as info:
        env.compile_condition("ai.max_output_tokens + 'x' > 1")
    assert info.value.diagnostics[0].code == "AIGW302"  # type: ignore[attr-defined]
    with pytest.raises(cel.CelError) as info:
        env.compile_condition("sizee(ai.tools) > 1")
    assert info.value.diagnostics[0].code == "AIGW301"  # type: ignore[attr-defined]


def test_policy_environment() -> None:
    prog = env.compile_condition(
        "req.method == 'POST' && ai.model in ['gpt-4.1'] && hasReqHeader('X-Team')"
        " && getReqHeader('x-team')[0] == 'research' && inCidrRange(conn.client_ip, '10.0.0.0/8')"
    )
    act = {
        "req": {"method": "POST", "headers": {"x-team": ["research"]}},
        "ai": {"model": "gpt-4.1"},
        "conn": {"client_ip": "10.1.2.3"},
    }
    assert prog(act) is True
    # a missing field is an error, absorbed by a false operand of `&&`
    assert prog({"req": {"method": "POST"}, "ai": {}}) is False
    with pytest.raises(cel.CelError, match="no such attribute"):
        env.compile_condition("ai.model == 'x'")({"ai": {}})


def test_generated_code_is_named_and_isolated() -> None:
    prog = cel.compile("a == 1", {"a": "int"}, name="rule-one")
    assert prog.function.__name__ == "rule_one"
    assert prog.function.__globals__ is not cel.compile("a == 2", {"a": "int"}).function.__globals__
    assert "def rule_one(act)" in prog.python_source


def test_cost_is_static_and_bounded() -> None:
    small = env.compile_condition("ai.model == 'x'").cost
    big = env.compile_condition("ai.tools.exists(t, ai.tools.exists(u, u == t))").cost
    assert small < 100 < big


def test_cache_returns_the_same_program() -> None:
    assert cel.compile("1 + 2", {}) is cel.compile("1 + 2", {})


_ALPHABET = st.sampled_from(list("ab01 .,()[]{}'\"+-*/%<>=!&|?:") + ["in", "has(", "a.all(x,", "1u", "2.5", "null", "b'x'"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=25).map("".join))
def test_fuzzed_text_never_crashes(text: str) -> None:
    try:
        prog = cel.compile(text)
    except cel.CelError:
        return
    try:
        prog({"a": [1, 2], "b": {"k": "v"}})
    except cel.CelError:
        pass
