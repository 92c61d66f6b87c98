"""A request the gateway answers itself (denied) under a policy without response rules skips
the response phase's machinery (issue #15): its decision, trace included, equals the one
made by running the whole response phase (the plain path), as under policies with response
rules, which always run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine import runner
from aigw_policy.engine.phases import response_steps

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DENIALS = {
    "deny": 'when identity.team != "research" deny 403 "team ${identity.team}"',
    "custom": 'when ai.model == "gpt-4.1" custom-response { status_code: 418, body: "no", headers: { "x-why": "${ai.model}" } }',
    "ips": 'restrict-ips { allow: ["203.0.113.0/24"] }',
    "limit": 'rate-limit { name: "rl", capacity: 1, rate: 60s, bucket_key: [identity.team] }',
    "shadow": 'mode shadow\n when identity.team == "ops" deny 403 "shadow"',
    "error": 'when int(identity.team) > 1 deny 403 "bad"',
}
RESPONSE = 'on response { rule "r" { when res.status_code >= 400 log { metadata: { "s": "${res.status_code}" } } } }'


def _plain_answer(flow: Any, stop: Any) -> None:
    """The plain path: the whole response phase (it needs no store on a denied request)."""
    steps = response_steps(flow, None)
    with pytest.raises(StopIteration):
        next(steps)


def _decide(text: str, reqs: list[dict[str, Any]], plain: bool) -> list[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as m:
        if plain:
            m.setattr(runner, "gateway_answer", _plain_answer)
        engine = ap.Engine(ap.loads(text), trace=True)
        return [engine.evaluate(r, expect_response=False).to_dict() for r in reqs]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    return {"id": f"r{draw(st.integers(0, 99))}", "now": "2026-11-26T12:00:00Z",
            "identity": {"team": draw(st.sampled_from(["research", "ops", "7"]))},
            "conn": {"client_ip": draw(st.sampled_from(["203.0.113.9", "198.51.100.1"]))},
            "request": {"url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": draw(st.sampled_from(["gpt-4o", "gpt-4.1"])),
                                 "messages": [{"role": "user", "content": "hi"}]}}}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(DENIALS)), st.booleans(), st.lists(requests(), min_size=1, max_size=4))
def test_a_gateway_answer_decides_as_the_whole_response_phase(kind: str, response_rules: bool,
                                                             reqs: list[dict[str, Any]]) -> None:
    text = f'policy {{ on request {{ rule "d" {{ {DENIALS[kind]} }} }} {RESPONSE if response_rules else ""} }}'
    assert _decide(text, reqs, plain=False) == _decide(text, reqs, plain=True)


def test_the_example_without_response_rules_decides_as_the_plain_path() -> None:
    text = (EXAMPLES / "team-model-access.aigw").read_text()
    reqs = [{"id": f"r{i}", "now": "2026-11-26T12:00:00Z", "identity": {"team": team, "tier": tier, "labels": {"env": "prod"}},
             "request": {"url": "https://api.openai.com/v1/chat/completions",
                         "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}}
            for i, (team, tier, model) in enumerate([("ops", "pro", "gpt-4.1"), ("research", "trial", "gpt-4.1"),
                                                      ("ops", "pro", "gpt-4o-preview"), ("ops", "pro", "gpt-4o")])]
    assert _decide(text, reqs, plain=False) == _decide(text, reqs, plain=True)
