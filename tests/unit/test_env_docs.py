"""The docs of the SPEC §5 names document declared names only, so they cannot drift from
the declarations the checker uses."""

from __future__ import annotations

from aigw_policy.cel.codegen import MACROS
from aigw_policy.cel.decls import standard
from aigw_policy.env import POLICY, POLICY_VARIABLES
from aigw_policy.env.docs import FUNCTION_DOCS, NAMESPACE_DOCS, VARIABLE_DOCS, variable_doc


def test_documented_variables_are_declared() -> None:
    assert sorted(set(VARIABLE_DOCS) - set(POLICY_VARIABLES)) == []


def test_documented_namespaces_hold_declared_names() -> None:
    assert sorted(n for n in NAMESPACE_DOCS if not any(v.startswith(n + ".") for v in POLICY_VARIABLES)) == []


def test_documented_functions_exist() -> None:
    known = set(standard()) | set(POLICY.overloads) | {name for name, _, _ in MACROS}
    assert sorted(set(FUNCTION_DOCS) - known) == []


def test_every_variable_of_the_spec_has_a_doc() -> None:
    spec = [v for v in POLICY_VARIABLES if v.split(".")[0] in ("ai", "identity", "vars", "limits")]
    assert sorted(v for v in spec if not variable_doc(v)) == []
    assert variable_doc("conn.tls.client.subject.country").startswith("Part of `conn.tls.client`")


def test_the_limit_fields_are_what_later_rules_read() -> None:
    import aigw_policy as ap
    from aigw_policy.env.docs import LIMIT_FIELDS

    present = " && ".join(f"has(limits['t'].{f})" for f in LIMIT_FIELDS)
    policy = ap.loads('policy { on request {\n'
                      '  rule "a" { token-limit { name: "t", capacity: 10_000_000, rate: 60s } }\n'
                      f'  rule "b" {{ when {present} && size(limits["t"]) == {len(LIMIT_FIELDS)}\n'
                      '    deny 418 "all there" }\n} }')
    request = {"id": "r1", "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                       "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
    decision = ap.Engine(policy).evaluate(request)
    assert (decision.status_code, decision.rule) == (418, "b")
