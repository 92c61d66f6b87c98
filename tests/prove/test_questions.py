"""Known answers: each case is a policy and what `prove` must say about it, with CEL's error
semantics, regexes, globs, limits and what is not modelled."""

from __future__ import annotations

import pytest

from aigw_policy.prove.questions import equiv, query, rules

from .helpers import compiled, explain

HEAD = "on_http_request:\n"


def rule(name: str, when: list[str] | None, action: str, on_error: str | None = None, mode: str | None = None) -> str:
    out = f"  - name: {name}\n" + (f"    mode: {mode}\n" if mode else "")
    if when is not None:
        out += "    expressions: [" + ", ".join(repr(w) if '"' in w else f'"{w}"' for w in when) + "]\n"
    if on_error:
        out += f"    on_error: {on_error}\n"
    return out + f"    actions: [{action}]\n"


DENY = "{type: deny}"
ALLOW = "{type: allow}"
LOG = "{type: log}"

RULE_CASES = [
    # (id, policy text, {rule: expected result})
    ("contradiction", HEAD + rule("r", ["ai.max_output_tokens > 10 && ai.max_output_tokens < 5"], LOG),
     {"r": "unreachable"}),
    ("int-range", HEAD + rule("r", ["ai.input_tokens > 100", "ai.input_tokens < 90"], LOG), {"r": "unreachable"}),
    ("shadowed-by-prefix", HEAD + rule("a", ["identity.team == 'support' && ai.model.startsWith('claude-opus')"], DENY)
     + rule("b", ["identity.team == 'support' && ai.model == 'claude-opus-4'"], ALLOW), {"a": "reachable", "b": "shadowed"}),
    ("not-shadowed-other-team", HEAD + rule("a", ["identity.team == 'support'"], DENY)
     + rule("b", ["identity.team != 'support'"], LOG), {"a": "reachable", "b": "reachable"}),
    # a missing field is an error: with on_error deny the first rule stops requests without a team
    ("missing-team-denies", HEAD + rule("a", ["identity.team == 'x'"], LOG)
     + rule("b", ["!has(identity.team)"], LOG), {"a": "reachable", "b": "shadowed"}),
    # ... with on_error skip, it does not
    ("missing-team-skip", HEAD + rule("a", ["identity.team == 'x'"], LOG, "skip")
     + rule("b", ["!has(identity.team)"], LOG), {"a": "reachable", "b": "reachable"}),
    # false && error is false: no error, the next rule sees teamless requests
    ("and-absorbs", HEAD + rule("a", ["ai.stream && identity.team == 'x'"], LOG)
     + rule("b", ["!has(identity.team) && !ai.stream"], LOG), {"a": "reachable", "b": "reachable"}),
    # true || error is true
    ("or-absorbs", HEAD + rule("a", ["identity.team == 'x' || true"], DENY) + rule("b", None, LOG),
     {"a": "reachable", "b": "shadowed"}),
    ("in-list", HEAD + rule("a", ["ai.model in ['a', 'b']", "ai.model != 'a'", "ai.model != 'b'"], LOG),
     {"a": "unreachable"}),
    ("regex", HEAD + rule("a", ["ai.model.matches('^gpt-4([.]1)?$')", "!ai.model.startsWith('gpt-4')"], LOG),
     {"a": "unreachable"}),
    ("regex-reachable", HEAD + rule("a", ["ai.model.matches('^gpt-[0-9]+o$')"], LOG), {"a": "reachable"}),
    ("labels", HEAD + rule("a", ["'env' in identity.labels && identity.labels['env'] == 'prod'"], LOG),
     {"a": "reachable"}),
    ("tools", HEAD + rule("a", ["'web' in ai.tools && size(ai.tools) == 0"], LOG), {"a": "unreachable"}),
    ("header-index", HEAD + rule("a", ["req.headers['x-team'][0] == 'blue'"], LOG), {"a": "reachable"}),
    ("size-prompt", HEAD + rule("a", ["size(ai.prompt) > 3 && ai.prompt.contains('secret word')"], LOG),
     {"a": "reachable"}),
    ("model-access-then", HEAD + rule("a", None, "{type: model-access, config: {allow: ['gpt-*']}}")
     + rule("b", ["ai.model.startsWith('claude')"], LOG), {"a": "reachable", "b": "shadowed"}),
    ("max-tokens-then", HEAD + rule("a", None, "{type: max-tokens, config: {output: 100}}")
     + rule("b", ["ai.max_output_tokens > 100"], LOG), {"a": "reachable", "b": "shadowed"}),
    # a request that sets no output cap is refused too, where its operation could set one (session 26)
    ("max-tokens-then-uncapped", HEAD + rule("a", None, "{type: max-tokens, config: {output: 100}}")
     + rule("b", ["ai.max_output_tokens == 0 && ai.operation in ['chat', 'completion', 'responses', 'messages']"], LOG)
     + rule("c", ["ai.max_output_tokens == 0 && ai.operation == 'embeddings'"], LOG),
     {"a": "reachable", "b": "shadowed", "c": "reachable"}),
    ("clamp-then-embeddings", HEAD + rule("a", None, "{type: max-tokens, config: {output: 100, mode: clamp}}")
     + rule("b", ["ai.operation == 'embeddings' && ai.max_output_tokens == 0"], LOG), {"a": "reachable", "b": "reachable"}),
    ("clamp-then", HEAD + rule("a", None, "{type: max-tokens, config: {output: 100, mode: clamp}}")
     + rule("b", ["ai.operation == 'chat' && (ai.max_output_tokens == 0 || ai.max_output_tokens > 100)"], LOG),
     {"a": "reachable", "b": "unreachable"}),
    ("set-model-then", HEAD + rule("a", None, "{type: set-model, config: {model: mini}}")
     + rule("b", ["ai.model != 'mini'"], LOG), {"a": "reachable", "b": "unreachable"}),
    # an earlier rule that always ends the phase, with conditions among this one's (read after a set-model)
    ("ends-first-same-conditions", HEAD + rule("a", ["identity.team == 'x'"], DENY)
     + rule("m", ["ai.stream"], "{type: set-model, config: {model: mini}}")
     + rule("b", ["identity.team == 'x'", "ai.max_output_tokens > 5"], LOG)
     + rule("c", ["identity.team == 'x'", "ai.max_output_tokens < 0"], LOG),
     {"a": "reachable", "m": "reachable", "b": "shadowed", "c": "unreachable"}),
    # ... but a deny whose message may fail to render, under on_error skip, does not always end it
    ("ends-not-with-skip", HEAD + rule("a", ["identity.team == 'x'"],
                                       "{type: deny, config: {message: 'for ${identity.user}'}}", "skip")
     + rule("b", ["identity.team == 'x'"], LOG), {"a": "reachable", "b": "reachable"}),
    ("response-rules-unknown", "on_http_response:\n" + rule("r", ["res.status_code >= 500"], LOG), {"r": "unknown"}),
    # an action the encoding does not know (ai-gateway) makes what follows unknown, never proved
    # a denial not enforced (`mode: shadow`, `enforce: false`) ends only its rule: the next one runs
    ("shadow-deny", HEAD + rule("a", None, DENY, mode="shadow") + rule("b", None, LOG), {"a": "reachable", "b": "reachable"}),
    ("enforce-false-deny", HEAD + rule("a", None, "{type: deny, config: {enforce: false}}") + rule("b", None, LOG),
     {"a": "reachable", "b": "reachable"}),
    ("shadow-model-access", HEAD + rule("a", None, "{type: model-access, config: {allow: ['gpt-*']}}", mode="shadow")
     + rule("b", ["ai.model.startsWith('claude')"], LOG), {"a": "reachable", "b": "reachable"}),
    ("enforce-false-max-tokens", HEAD + rule("a", None, "{type: max-tokens, config: {output: 100, enforce: false}}")
     + rule("b", ["ai.max_output_tokens > 100"], LOG), {"a": "reachable", "b": "reachable"}),
    ("shadow-on-error", HEAD + rule("a", ["identity.team == 'x'"], LOG, mode="shadow")
     + rule("b", ["!has(identity.team)"], LOG), {"a": "reachable", "b": "reachable"}),
    ("ai-gateway-opaque", HEAD + rule("a", None, "{type: ai-gateway, config: {}}")
     + rule("b", ["ai.stream && !ai.stream"], LOG), {"b": "unknown"}),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_rules(text: str, expected: dict[str, str]) -> None:
    cp = compiled(text)
    answers = {a.rule: a for a in rules(cp)}
    for name, result in expected.items():
        assert answers[name].result == result, answers[name].reason
    for a in answers.values():
        if a.result == "reachable":  # the witness does what it says, checked by the engine itself
            assert a.witness is not None and a.rule in explain(cp, a.witness)[3]
        if a.result == "shadowed":  # names an earlier rule that ends the phase
            assert a.by and all(answers[b].position < a.position for b in a.by), a


SUPPORT = HEAD + rule("no-opus", ["identity.team == 'support'", "ai.model.matches('^claude-opus')"],
                      "{type: deny, config: {status_code: 451}}")

QUERY_CASES = [
    ("support-opus-allow", SUPPORT, "identity.team == 'support' && ai.model == 'claude-opus-4'", "allow", "impossible"),
    ("support-opus-deny", SUPPORT, "identity.team == 'support' && ai.model == 'claude-opus-4'", "deny", "possible"),
    ("support-sonnet-allow", SUPPORT, "identity.team == 'support' && ai.model == 'claude-sonnet-4'", "allow", "possible"),
    ("default-deny", "default: deny\n" + HEAD + rule("ok", ["identity.tier == 'pro'"], ALLOW),
     "identity.tier == 'free'", "allow", "impossible"),
    ("shadow-deny-allows", HEAD + rule("a", None, DENY, mode="shadow"), "true", "allow", "possible"),
    ("shadow-restrict-ips", HEAD + rule("a", None, "{type: restrict-ips, config: {deny: ['10.0.0.0/8']}}",
                                               mode="shadow"), "true", "allow", "possible"),
    ("limit-free", HEAD + rule("tpm", None, "{type: rate-limit, config: {name: rpm, capacity: 10, rate: 60s}}"),
     "true", "deny", "unknown"),  # a limit may be over: possible, but no witness seeds state
]


@pytest.mark.parametrize("text, where, verdict, result", [c[1:] for c in QUERY_CASES], ids=[c[0] for c in QUERY_CASES])
def test_query(text: str, where: str, verdict: str, result: str) -> None:
    cp = compiled(text)
    answer = query(cp, where, verdict)
    assert answer.result == result, answer.details
    if answer.witness is not None:
        got = explain(cp, answer.witness)
        assert got[0] == verdict
        assert answer.details[0] == {"verdict": got[0], "status_code": got[1], "rule": got[2]}


def test_limits_ok_makes_a_limit_deny_impossible() -> None:
    cp = compiled(HEAD + rule("rpm", None, "{type: rate-limit, config: {name: rpm, capacity: 10, rate: 60s}}"))
    assert query(cp, "true", "deny", limits_ok=True).result == "impossible"


EQUIV_CASES = [
    ("split-conditions", HEAD + rule("a", ["identity.team == 'support' && ai.model == 'x'"], DENY),
     HEAD + rule("a", ["identity.team == 'support'", "ai.model == 'x'"], DENY), "equivalent"),
    # `&&` with the operands swapped: the same under CEL's commutative errors
    ("commuted", HEAD + rule("a", ["identity.team == 'support' && ai.stream"], DENY),
     HEAD + rule("b", ["ai.stream && identity.team == 'support'"], DENY), "equivalent"),
    ("status-differs", HEAD + rule("a", ["ai.stream"], DENY),
     HEAD + rule("a", ["ai.stream"], "{type: deny, config: {status_code: 429}}"), "counterexample"),
    ("guard-added", HEAD + rule("a", ["identity.team == 'x'"], DENY),
     HEAD + rule("a", ["has(identity.team) && identity.team == 'x'"], DENY), "counterexample"),
    ("shadow-vs-enforced", HEAD + rule("a", None, DENY, mode="shadow"), HEAD + rule("a", None, DENY), "counterexample"),
    ("enforce-false-vs-nothing", HEAD + rule("a", ["ai.stream"], "{type: deny, config: {enforce: false}}"),
     HEAD + rule("a", ["ai.stream"], LOG), "equivalent"),
    ("same-limit", HEAD + rule("l", None, "{type: rate-limit, config: {name: rpm, capacity: 10, rate: 60s}}"),
     HEAD + rule("l2", None, "{type: rate-limit, config: {name: rpm, capacity: 10, rate: 60s}}"), "equivalent"),
]


@pytest.mark.parametrize("old, new, result", [c[1:] for c in EQUIV_CASES], ids=[c[0] for c in EQUIV_CASES])
def test_equiv(old: str, new: str, result: str) -> None:
    a, b = compiled(old), compiled(new)
    answer = equiv(a, b)
    assert answer.result == result, answer.details
    if answer.witness is not None:
        ga, gb = explain(a, answer.witness), explain(b, answer.witness)
        assert ga[:2] != gb[:2]


def test_checks_are_recorded_and_bounded() -> None:
    import z3

    from aigw_policy.prove.solving import Budget, check

    x = z3.Int("x")
    budget = Budget(per_check=5.0, topic="t")
    assert check(budget, [x > 3], x < 5, question="q")[0] == "sat"
    assert check(budget, [x > 3], x < 4, question="q")[0] == "unsat"
    spent = Budget(per_check=5.0, total=0.0)
    assert check(spent, [x > 3], question="q") == ("unknown", None)  # no time left: no attempt
    assert [(a.topic, a.result) for a in budget.asked] == [("t", "sat"), ("t", "unsat")]
    assert spent.asked[0].attempts == 0


@pytest.mark.parametrize("condition, result", [
    ("ai.model.matches('^g')", "unknown"),  # a model with a lone surrogate: RE2's error, deny 500 (no witness has one)
    ("'abc'.matches('^a')", "equivalent"),  # a plain literal has none
    ("(ai.stream ? 'abc' : 'xyz').matches('^[a-z]')", "equivalent"),  # nor either choice of a `? :`
])
def test_lone_surrogates_are_re2_errors(condition: str, result: str) -> None:
    from aigw_policy.cel.runtime.stdlib import RE_ENGINE

    if RE_ENGINE != "re2":
        pytest.skip("Python's re matches any text")
    with_rule = compiled(HEAD + rule("a", [condition], LOG))
    assert equiv(with_rule, compiled(HEAD + rule("b", None, LOG))).result == result
