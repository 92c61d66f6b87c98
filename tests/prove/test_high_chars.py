"""Characters above z3's alphabet (U+30000..U+10FFFF): z3's strings hold code points up to
U+2FFFF only, so a request text holding a higher one has no z3 counterpart. Every claim
for every request (`unreachable`, `impossible`, `equivalent`) is checked here against a
request the engine decides otherwise: a text with such a character, in a field the policy
reads (identity, model, prompt) or set by the policy itself (set-model's model)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.prove.questions import equiv, query, rules
from aigw_policy.prove.witness import where_holds

from .helpers import compiled, explain

HIGH = "\U00030000"  # CJK Extension G: a real, assigned character above U+2FFFF
TOP = "\U0002FFFF"   # z3's highest character


def _request(model: str = "gpt-4o", prompt: str = "hi", team: str | None = None) -> dict[str, Any]:
    return {"identity": {} if team is None else {"team": team},
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": model, "messages": [{"role": "user", "content": prompt}]}}}


def _policy(condition: str, *before: dict[str, Any]) -> str:
    rule = {"name": "r", "expressions": [condition], "actions": [{"type": "deny"}]}
    return json.dumps({"on_http_request": [*before, rule]}, ensure_ascii=False)


def _cel(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


SET_HIGH = {"name": "s", "actions": [{"type": "set-model", "config": {"model": HIGH}}]}

# (policy condition, rules that come before it, a request on which the engine matches it)
MATCHED = [
    (f"size(ai.model) == 1 && ai.model > {_cel(TOP)}", (), _request(model=HIGH)),
    (f"size(identity.team) == 1 && identity.team > {_cel(TOP)}", (), _request(team=HIGH)),
    (f"ai.prompt > {_cel(TOP)} && !ai.prompt.startsWith({_cel(TOP)})", (), _request(prompt=HIGH)),
    ("size(ai.prompt) == 1 && !ai.prompt.matches('[\\\\x00-\\\\x{2FFFF}]')", (), _request(prompt=HIGH)),
    ("size(ai.prompt) == 1 && ai.prompt.matches('[^\\\\x00-\\\\x{2FFFE}]') && ai.prompt != "
     + _cel(TOP), (), _request(prompt=HIGH)),
    ("ai.model != '\\\\u{30000}'", (SET_HIGH,), _request()),  # the model set is one character
    ("size(ai.model) == 1", (SET_HIGH,), _request()),
]


@pytest.mark.parametrize(("condition", "before", "request_"), MATCHED)
def test_no_wrong_proof_over_high_characters(condition: str, before: tuple[dict[str, Any], ...],
                                             request_: dict[str, Any]) -> None:
    cp = compiled(_policy(condition, *before))
    assert "r" in explain(cp, request_)[3]  # the engine matches the rule on this request
    got = {a.rule: a.result for a in rules(cp)}
    assert got["r"] not in ("unreachable", "shadowed"), got
    if not before:
        assert where_holds(condition, request_)
        assert query(compiled('{"on_http_request": []}'), condition, "allow").result != "impossible"
    plain = compiled(json.dumps({"on_http_request": list(before)}, ensure_ascii=False))
    assert explain(cp, request_)[:2] != explain(plain, request_)[:2]
    assert equiv(cp, plain).result != "equivalent"
