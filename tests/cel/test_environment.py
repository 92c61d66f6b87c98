"""The CEL core is generic over an environment passed in (Jinja's ``Environment``): what an
expression may name, its functions and the cache of compiled programs live on the object."""

from __future__ import annotations

import pytest

from aigw_policy import cel, env
from aigw_policy.cel.parser import parse


def test_a_custom_environment_declares_and_implements_its_functions() -> None:
    mine = cel.Environment({"x": "int"}, ["twice (int) -> int"], {"twice": lambda n: 2 * n})
    assert mine.compile("twice(x) > 3", {})({"x": 2}) is True
    assert mine.check(parse("twice('a') > 3"))  # a type error: declared (int) -> int
    with pytest.raises(cel.CelError) as info:
        cel.compile("twice(x) > 3", {"x": "int"})  # not in the default environment
    assert info.value.code == "check_error" and info.value.diagnostics


def test_each_environment_keeps_its_own_programs() -> None:
    a, b = cel.Environment(name="a"), cel.Environment(name="b")
    prog = a.compile("1 + 1 == 2")
    assert a.compile("1 + 1 == 2") is prog
    assert b.compile("1 + 1 == 2") is not prog
    a.clear_cache()
    assert a.compile("1 + 1 == 2") is not prog
    assert a.key("x", None) != b.key("x", None)


def test_policy_world_is_the_env_package() -> None:
    assert env.POLICY.dotted_variables and env.POLICY.always_check
    assert "getReqHeader" in env.POLICY.activation_functions
    assert env.compile_condition("getReqHeader('x') == ['1']")({"req.headers": {"x": ["1"]}}) is True
    with pytest.raises(cel.CelError):  # the policy world is not the default one
        cel.compile("getReqHeader('x') == ['1']", {})


def test_errors_declare_their_fields() -> None:
    """``diagnostics`` and ``span`` are attributes of every CelError, never patched on."""
    e = cel.CelError("boom")
    assert e.diagnostics == () and e.span is None
    with pytest.raises(cel.CelError) as info:
        cel.compile("a / b", {"a": "int", "b": "int"})({"a": 1, "b": 0})
    assert info.value.span == (0, 5)


def test_the_variables_host_types_are_worked_out_once_per_environment(monkeypatch):
    """What the code generator is told of each declared variable's host value is the same for
    every compile that declares nothing of its own: worked out once, not per compile (with
    ~200 declarations it was ~40% of a cold compile of a 10,000-rule policy)."""
    from aigw_policy.cel import environment

    calls: list[int] = []
    real = environment.host_types
    monkeypatch.setattr(environment, "host_types", lambda decls, text=False: calls.append(len(decls)) or real(decls, text))
    env = cel.Environment({"x": "int", "m": "map(string, dyn)", "l": "list(timestamp)"})
    for i in range(20):
        assert env.compile(f"x + {i} > 0 && size(m) >= 0 && size(l) >= 0")({"x": 1, "m": {}, "l": []}) is True
    assert len(calls) == 1  # the environment's own, at construction
    assert env.compile("y > x", {"y": "int"})({"x": 1, "y": 2}) is True
    assert calls == [3, 4]  # a compile with declarations of its own: its variables and those
