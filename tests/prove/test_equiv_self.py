"""`prove equiv` of a policy with itself is `equivalent`, and of two policies that differ in
what the encoding leaves unknown (a limit's cost expression, its period, a bucket key, the
networks of `restrict-ips`, a variable set) never is: unknowns are named by what they are and
by the changes made before them (prove/symbolic.py ``SymEnv.version``), never by where they
sit, so the same expression after the same changes is the same unknown in both policies,
and different ones stay apart."""

from __future__ import annotations

import pytest

from aigw_policy.prove.questions import equiv

from .helpers import compiled

RULES = {
    "token cost": "[{type: token-limit, config: {name: t, capacity: 1000, rate: 1h, bucket_key: [identity.key], "
                  "cost: 'ai.input_tokens + ai.max_output_tokens'}}]",
    "usd cap": "[{type: usage-cap, config: {name: u, limit: 5, unit: usd, period: month, bucket_key: [identity.team], "
               "on_unknown_price: deny}}]",
    "token cap": "[{type: usage-cap, config: {name: c, limit: 5000, unit: tokens, period: day, timezone: UTC, "
                 "bucket_key: [identity.org], cost: 'ai.input_tokens * 2'}}]",
    "daily tokens": "[{type: usage-cap, config: {name: d, limit: 5000, unit: tokens, period: day, timezone: UTC, "
                    "bucket_key: [identity.org]}}]",
    "int bucket": "[{type: rate-limit, config: {name: r, capacity: 5, rate: 1m, bucket_key: ['string(ai.messages)']}}]",
    "vars": "[{type: set-vars, config: {vars: [{tier: '${identity.tier}'}]}}]",
    "restrict-ips": "[{type: restrict-ips, config: {allow: ['10.0.0.0/8']}}]",
    "template": "[{type: deny, config: {status_code: 451, message: 'no ${ai.max_output_tokens / 2}'}}]",
}
THEN = "  - expressions: [\"has(vars.tier) && vars.tier == 'gold'\"]\n    actions: [{type: deny, config: {status_code: 402}}]\n"


def _policy(actions: str, expression: str = "identity.team != 'ops'") -> str:
    then = THEN if "set-vars" in actions else ""  # a later rule reads what it set
    return f"on_http_request:\n  - expressions: [\"{expression}\"]\n    actions: {actions}\n{then}"


@pytest.mark.parametrize("name", sorted(RULES))
def test_a_policy_is_equivalent_to_itself(name: str) -> None:
    text = _policy(RULES[name])
    got = equiv(compiled(text), compiled(text))
    assert got.result == "equivalent", got.details


CHANGED = [
    ("token cost", "ai.input_tokens + ai.max_output_tokens", "ai.input_tokens * 3"),
    ("token cap", "period: day", "period: month"),
    ("token cap", "timezone: UTC", "timezone: Asia/Tokyo"),
    ("usd cap", "[identity.team]", "[identity.org]"),
    ("daily tokens", "period: day", "period: month"),  # the same name, another counter: was `equivalent`
    ("daily tokens", "timezone: UTC", "timezone: Asia/Tokyo"),
    ("int bucket", "string(ai.messages)", "string(ai.input_tokens)"),
    ("vars", "${identity.tier}", "${identity.org}"),
    ("restrict-ips", "10.0.0.0/8", "10.0.0.0/9"),
    ("template", "/ 2", "/ 0"),
]


@pytest.mark.parametrize("name, old, new", CHANGED)
def test_policies_that_differ_in_what_is_unknown_are_not_proved_equivalent(name: str, old: str, new: str) -> None:
    text = _policy(RULES[name])
    assert old in text
    got = equiv(compiled(text), compiled(text.replace(old, new)))
    assert got.result != "equivalent", (name, old, new)
