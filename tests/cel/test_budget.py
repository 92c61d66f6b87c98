"""The runtime cost budget: comprehension iterations are counted, never timed."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy import cel, env
from aigw_policy.cel.budget import DEFAULT_BUDGET, OverBudget

NESTED = "ai.tools.exists(t, ai.tools.exists(u, ai.tools.exists(v, t + u + v == 'x')))"


class Counting(list):  # type: ignore[type-arg]
    """A list that counts the elements handed out by iteration (shared counter)."""

    def __init__(self, items, counter) -> None:  # type: ignore[no-untyped-def]
        super().__init__(items)
        self.counter = counter

    def __iter__(self):  # type: ignore[no-untyped-def]
        for x in list.__iter__(self):
            self.counter[0] += 1
            yield x


def tools(n: int, counter: list[int]) -> Counting:
    return Counting([f"tool{i}" for i in range(n)], counter)


@pytest.mark.parametrize("budget", [1_000, 50_000, DEFAULT_BUDGET])
def test_nested_exists_over_300_tools_stops_within_the_budget(budget: int) -> None:
    counter = [0]
    prog = env.compile_condition(NESTED, budget=budget)
    with pytest.raises(cel.CelError) as info:
        prog({"ai.tools": tools(300, counter)})
    assert isinstance(info.value, OverBudget) and info.value.code == "resource_exhausted"
    assert "AIGW520" in info.value.message and f"{budget:,}" in info.value.message
    assert 0 < counter[0] <= budget  # 27,000,000 without a budget


def test_under_the_budget_nothing_changes() -> None:
    counter = [0]
    prog = env.compile_condition(NESTED, budget=30 * 30 * 30 + 30 * 30 + 30)
    assert prog({"ai.tools": tools(30, counter)}) is False
    assert counter[0] == 30 * 30 * 30 + 30 * 30 + 30
    unlimited = env.compile_condition(NESTED, budget=None)
    assert "_rng" not in unlimited.python_source and unlimited({"ai.tools": ["a", "b", "x"]}) is False


def test_a_budget_error_is_not_absorbed_by_logic_or_macros() -> None:
    many = [f"tool{i}" for i in range(300)]
    for src in (NESTED + " || true", "true || " + NESTED, "false && " + NESTED,
                NESTED + " && false", "[1, 2].exists(i, " + NESTED + " || i == 1)",
                "[1, 2].all(i, i == 2 || " + NESTED + ")"):
        prog = env.compile_condition(src, budget=5_000)
        if src.startswith(("true ||", "false &&")):
            assert prog({"ai.tools": many}) is (src[0] == "t"), src  # never evaluated: fine
            continue
        with pytest.raises(OverBudget):
            prog({"ai.tools": many})


def test_the_exact_body_counts_too() -> None:
    # dyn values: the exact body runs (the fast body raises on the `int / 0`)
    counter = [0]
    src = "l.exists(x, l.exists(y, l.exists(z, x / (y - y) == z)))"
    prog = cel.compile(src, {"l": "list(int)"}, budget=2_000)
    with pytest.raises(OverBudget):
        prog({"l": Counting(range(100), counter)})
    assert counter[0] <= 2 * 2_000  # the fast attempt and the exact one, each within budget


@pytest.mark.parametrize("src", [
    "l.map(x, l.map(y, y)).size() > 0",
    "l.map(x, x > 0, l.map(y, y)).size() > 0",
    "l.filter(x, l.filter(y, y == x).size() > 0).size() > 0",
    "l.exists_one(x, l.exists_one(y, y == x))",
    "l.all(i, x, l.all(y, y >= 0))",
    "l.transformList(i, x, l.all(y, y >= 0)).size() > 0",
    "l.sortBy(x, l.filter(y, y > x).size()).size() > 0",
])
def test_every_comprehension_is_charged(src: str) -> None:
    prog = cel.compile(src, {"l": "list(int)"}, budget=1_000)
    assert prog({"l": list(range(10))}) is not None  # 110 iterations: fine
    with pytest.raises(OverBudget):
        prog({"l": list(range(100))})


def test_the_budget_must_be_a_positive_int() -> None:
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(ValueError):
            env.compile_condition("true", budget=bad)  # type: ignore[arg-type]


def test_the_engine_budget_ends_the_rule_with_a_coded_error() -> None:
    text = ("policy {\n  on request {\n    rule \"tools\" {\n      when " + NESTED.replace("'", '"')
            + "\n      deny 403\n    }\n  }\n}\n")
    from aigw_policy.analysis import LintOptions

    _, found = ap.read(text)  # by default its static cost is an error: load refuses it
    assert [d.code for d in found if d.is_error] == ["AIGW310"]
    with pytest.raises(ap.PolicyError):
        ap.loads(text)
    policy, _ = ap.read(text, options=LintOptions(max_cost=10**15))
    request = {"request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                           "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                    "tools": [{"type": "function", "function": {"name": f"t{i}"}}
                                              for i in range(300)]}}}
    decision = ap.Engine(policy, cel_budget=10_000).evaluate(request)
    assert decision.verdict == "deny" and decision.status_code == 500
    assert "AIGW520" in decision.reason and decision.rule == "tools"
    few = dict(request, request=dict(request["request"], body=dict(request["request"]["body"], tools=[])))
    assert ap.Engine(policy, cel_budget=10_000).evaluate(few).verdict == "allow"
    default = ap.Engine(policy).evaluate(request)  # the default budget holds too
    assert default.status_code == 500 and "AIGW520" in default.reason
