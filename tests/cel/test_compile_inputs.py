"""Policy text that used to reach the compiler as a raw Python exception gets a coded
diagnostic (or simply works), and compile work per expression and per policy is capped."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy import cel, env
from aigw_policy.analysis import LintOptions
from aigw_policy.cel import ast
from aigw_policy.cel.cost import MAX_NODES, MAX_POLICY_NODES
from aigw_policy.source import Source

AT = Source("").span(0, 0)

GET = {"request": {"method": "GET", "url": "https://api.openai.com/v1/models"}}


def codes(text: str) -> list[str]:
    _, found = ap.read(text)
    return [d.code for d in found]


@pytest.mark.parametrize("text", [
    'policy { on request { rule "r" { when req.method == "\ud800" deny 403 } } }',
    'policy { on request { rule "\udfff" { deny 403 } } }',
    'policy "\ud83d" { on request { rule "r" { deny { message: "hi" } } } }',
    'policy { on request { rule "r" { deny { message: "a \ud800 b" } } } }',
])
def test_a_lone_surrogate_in_a_dsl_document_is_aigw007(text: str) -> None:
    assert codes(text) == ["AIGW007"]


@pytest.mark.parametrize("src", ["'\ud800' == 'a'", "a.`\ud800`", "'x' + '\udc00'"])
def test_a_lone_surrogate_in_an_expression_is_a_syntax_error(src: str) -> None:
    for compile_ in (cel.compile, env.compile_condition):
        with pytest.raises(cel.CelError) as info:
            compile_(src)
        assert info.value.code == "syntax_error" and "AIGW007" in str(info.value)


def test_a_hand_built_literal_with_a_surrogate_compiles() -> None:
    node = ast.Call("_==_", (ast.Literal("\ud800", "string", span=AT), ast.Literal("\ud800", "string", span=AT)),
                    span=AT)
    assert cel.compile_ast(node, {}, source="\ud800")({}) is True


@pytest.mark.parametrize("policy_name,rule_name", [
    (None, "\ufb01"),          # ﬁ: NFKC 'fi'
    ("\uff50", "r"),           # ｐ: NFKC 'p'
    ("\u2168", "\u00b2"),      # Ⅸ, ²
    ("\u212b", "K\u0301"),      # Å (angstrom), combining mark
])
def test_names_that_unicode_normalisation_changes_compile(policy_name, rule_name) -> None:  # type: ignore[no-untyped-def]
    head = f'policy "{policy_name}"' if policy_name else "policy"
    doc = ap.loads(f'{head} {{ on request {{ rule "{rule_name}" {{ when req.method == "GET" deny 403 }} }} }}')
    decision = ap.Engine(ap.compile_policy(doc)).evaluate(GET)
    assert (decision.verdict, decision.rule) == ("deny", rule_name)


def test_a_backquoted_field_with_a_dot_is_one_key_not_a_path() -> None:
    prog = env.compile_condition("req.headers.`x.y` == ['a']")
    assert prog({"req.headers": {"x.y": ["a"]}}) is True
    assert cel.compile("a.`x.y`", {"a": "map(string, dyn)"})({"a": {"x.y": 1, "x": {"y": 2}}}) == 1
    assert cel.compile("a.`x.y`")({"a": {"x.y": 1, "x": {"y": 2}}}) == 1
    assert cel.compile("has(a.`x.y`)", {"a": "map(string, int)"})({"a": {"x": 1}}) is False
    assert cel.compile("a.`x-y`.z", {"a": "map(string, map(string, int))"})({"a": {"x-y": {"z": 3}}}) == 3
    # a declared dotted variable is not reached through a quoted field either
    with pytest.raises(cel.CelError):
        cel.compile("a.`b.c`", {"a.b.c": "int"})


def _chain(n: int, var: str = "req.method") -> str:
    return " || ".join(f'{var} == "M{i}"' for i in range(n))


def test_an_expression_over_the_compile_budget_is_refused() -> None:
    big = _chain(MAX_NODES // 4)  # ~5 nodes a term
    with pytest.raises(cel.CelError) as info:
        env.compile_condition(big)
    assert info.value.code == "compile_budget"
    node = big_node = ast.Literal(True, "bool", span=AT)
    for _ in range(MAX_NODES):  # hand-built too (and no recursion to count it)
        big_node = ast.Call("_||_", (big_node, node), span=AT)
    with pytest.raises(cel.CelError):
        cel.compile_ast(big_node, {}, check=False)
    doc = f'policy {{ on request {{ rule "r" {{ when {big} deny 403 }} }} }}'
    assert codes(doc) == ["AIGW305"]
    small = _chain(MAX_NODES // 10)
    assert env.compile_condition(small)({"req.method": "M3"}) is True


def test_a_policy_over_the_compile_budget_is_refused() -> None:
    from aigw_policy.cel.parser import MAX_LENGTH

    per_rule = min(MAX_NODES, MAX_LENGTH // 2) - 50  # a node an element, two characters: dense enough to pass
    items = ",".join("1" * per_rule)  # the policy budget inside the document size limit
    rules = "".join(f'rule "r{j}" {{ when ai.messages in [{items}] || req.path == "{j}" deny 403 }} '
                    for j in range(MAX_POLICY_NODES // per_rule + 2))
    text = f"policy {{ on request {{ {rules} }} }}"
    assert "AIGW305" in codes(text)
    policy, _ = ap.read(text, options=LintOptions(max_cost=10**12))
    with pytest.raises(ap.PolicyError) as info:
        ap.compile_policy(policy)
    assert [d.code for d in info.value.diagnostics] == ["AIGW305"]


@pytest.mark.parametrize("name", ["\ud800", "\x00", "a\nb", "", "1abc", "\ufb01", "\u00e9" * 300])
def test_any_program_name_compiles(name: str) -> None:
    for compile_ in (cel.compile, env.compile_condition):
        prog = compile_("1 == 1", name=name)
        assert prog({}) is True and prog.filename.isprintable()
    doc = ap.loads('policy { on request { rule "a\\u0000b" { when req.method == "GET" deny 403 } } }')
    assert ap.Engine(doc).evaluate(GET).rule == "a\x00b"


def test_the_policy_budget_admits_ten_thousand_rules() -> None:
    """SPEC §9: a policy of 10,000 rules keyed on identity and model loads; the per-policy
    compile budget must not refuse it (the rule of benchmarks/engine_bench.py, counted)."""
    from aigw_policy.cel.ast import count_nodes
    from aigw_policy.cel.cost import MAX_POLICY_NODES
    from aigw_policy.cel.parser import parse

    rule = 'identity.team == "team9999" && ai.model in ["gemini-2.5-pro", "gpt-4o"]'
    assert 10_000 * count_nodes(parse(rule), MAX_POLICY_NODES) <= MAX_POLICY_NODES // 2
