"""What an action changes, a later rule reads anew: a limit that ran (`limits[name]` is there
after it, not before), a variable set, a model set, a cap clamped. For each, a rule before
the action and one after it read the same text; on a request the engine decides by the rule
after, `prove` must not call that rule shadowed or unreachable, nor its verdict impossible,
nor the policy without it equivalent (a limit's charge changed nothing the encoding knew of,
so the rule after was "shadowed" by the rule before)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.prove.questions import equiv, query, rules

from .helpers import compiled, explain

RL = "{type: rate-limit, config: {name: rl, algorithm: sliding_window, capacity: 100, rate: 1m, bucket_key: [ai.model]}}"
CASES = {
    "a limit ran": ("'rl' in limits", RL),
    "a limit's state": ("has(limits.rl) && limits.rl.remaining >= 0", RL),
    "a variable set": ("has(vars.tier)", "{type: set-vars, config: {vars: [{tier: gold}]}}"),
    "a model set": ("ai.model == 'gpt-4o'", "{type: set-model, config: {model: gpt-4o}}"),
    "a cap clamped": ("ai.max_output_tokens == 100", "{type: max-tokens, config: {output: 100, mode: clamp}}"),
}
REQUEST = {"id": "r1", "now": "2026-01-01T00:00:00Z", "identity": {"key": "k1"},
           "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                       "headers": {"content-type": "application/json"},
                       "body": {"model": "gpt-4.1", "max_tokens": 5000,
                                "messages": [{"role": "user", "content": "hi"}]}}}


def _policy(condition: str, action: str, after: bool = True) -> str:
    text = (f"on_http_request:\n  - name: before\n    expressions: [{json.dumps(condition)}]\n    on_error: skip\n"
            f"    actions: [{{type: deny, config: {{status_code: 451}}}}]\n"
            f"  - name: change\n    actions: [{action}]\n")
    if after:
        text += (f"  - name: after\n    expressions: [{json.dumps(condition)}]\n"
                 f"    actions: [{{type: deny, config: {{status_code: 403}}}}]\n")
    return text


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_rule_after_a_change_reads_it_anew(case: str) -> None:
    condition, action = CASES[case]
    cp = compiled(_policy(condition, action))
    got: Any = explain(cp, REQUEST)
    assert got[:3] == ("deny", 403, "after"), got  # the engine's own word
    answers = {a.rule: a for a in rules(cp)}
    assert answers["after"].result not in ("shadowed", "unreachable"), answers["after"].reason
    assert query(cp, "true", "deny").result != "impossible"
    assert equiv(cp, compiled(_policy(condition, action, after=False))).result != "equivalent"
