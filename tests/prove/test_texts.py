"""Texts cross into z3 and back character for character (prove/values.py): a literal that
looks like one of z3's escapes (``\\u{41}``) is those six characters, not ``A``; a character
that is not printable ASCII comes back out of a model as itself, not as its escape. And a
model whose status or rule z3 leaves as a term (strings compared with ``<``) is evaluated,
not a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.prove.questions import equiv, query, rules

from .helpers import compiled, explain

TEXTS = ["\\u{41}", "\\u0041", "\\x41", "a\\b", "\\", "\\\\u{41}", "\U0001F600", "\x00", "tab\there", "é", "\\u{1f600}"]


def _cel(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a CEL string literal of exactly ``text``


def _policy(condition: str, *more: dict[str, Any]) -> str:
    rule = {"name": "r", "expressions": [condition], "actions": [{"type": "deny", "config": {"status_code": 403}}]}
    return json.dumps({"on_http_request": [rule, *more]}, ensure_ascii=False)


def _prompt(request: dict[str, Any]) -> str:
    return request["request"]["body"]["messages"][0]["content"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("text", TEXTS)
def test_a_literal_is_its_own_characters(text: str) -> None:
    cp = compiled(_policy(f"ai.prompt.contains({_cel(text)})"))
    got = query(cp, f"ai.prompt == {_cel(text)}", "deny")
    assert got.result == "possible", got.details
    assert got.witness is not None and _prompt(got.witness) == text
    # what z3 would have read the literal as is no stand-in for it: no wrong "impossible"
    request = {"request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                           "headers": {"content-type": "application/json"},
                           "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" + text}]}}}
    assert explain(cp, request)[:2] == ("deny", 403)
    for other in ("A", "\\", "x"):
        if other not in text:
            assert query(cp, f"!ai.prompt.contains({_cel(other)})", "deny").result == "possible", (text, other)


@pytest.mark.parametrize("text", TEXTS)
def test_a_witness_carries_the_model_text(text: str) -> None:
    cp = compiled(_policy(f"identity.team == {_cel(text)}"))
    (answer,) = rules(cp)
    assert answer.result == "reachable", answer.reason
    assert answer.witness is not None and answer.witness["identity"]["team"] == text


@pytest.mark.parametrize("condition", [
    "ai.prompt < 'b'", "ai.model >= 'gpt'", "(ai.prompt < 'b') || (ai.model + 'x' == 'gpt-4ox')",
    "identity.team > 'm' && identity.team < 'n'",
])
def test_strings_compared_by_order_are_answered(condition: str) -> None:
    limit = {"name": "l", "actions": [{"type": "rate-limit", "config": {
        "name": "rl", "algorithm": "sliding_window", "capacity": 1, "rate": "1m", "bucket_key": ["identity.team"]}}]}
    cp = compiled(_policy(condition, limit))
    answers = rules(cp)
    assert [a.result for a in answers] == ["reachable", "reachable"], [a.reason for a in answers]
    for a in answers:
        assert a.witness is not None and a.decision == dict(zip(("verdict", "status_code", "rule"), explain(cp, a.witness)[:3]))
    assert equiv(cp, compiled(_policy(f"!({condition})", limit))).result == "counterexample"
