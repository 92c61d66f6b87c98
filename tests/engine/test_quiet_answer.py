"""The response phase of the gateway's own answer is skipped when no response rule can run
for its status (engine/quiet_answer.py): only for rules whose first condition reads the status
alone, learned once per status, and never when a condition fails or is not ``false``."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.engine import phases

REQUEST = {"now": "2026-11-26T12:00:00Z", "identity": {"key": "k", "team": "growth"},
           "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                       "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}}}


def _policy(response: str, status: int = 403) -> ap.Engine:
    text = (f'policy {{ on request {{ rule "d" {{ when ai.model == "gpt-4.1"\n deny {status} "no" }} }}\n'
            f'  on response {{ {response} }} }}')
    return ap.Engine(ap.loads(text), store=ap.stores.MemoryStore())


@pytest.mark.parametrize(("response", "applies"), [
    ('rule "a" { when res.status_code >= 500\n log { metadata: { "s": "x" } } }', True),
    ('rule "a" { when res.status_code >= 500\n when identity.team == "x"\n log { metadata: { "s": "x" } } }', True),
    ('rule "a" { when res.status_code >= 500 || identity.team == "x"\n log { metadata: { "s": "x" } } }', False),
    ('rule "a" { log { metadata: { "s": "x" } } }', False),  # no condition: it always runs
    ('rule "a" { when hasResHeader("x-y")\n log { metadata: { "s": "x" } } }', False),
    ('rule "a" { when res.headers.size() > 0\n log { metadata: { "s": "x" } } }', False),
    ('rule "a" { when res.status_code >= 500\n log { metadata: { "s": "x" } } }\n'
     ' rule "b" { when res.status_code > size(identity.team)\n log { metadata: { "s": "x" } } }', False),
])
def test_it_applies_only_to_conditions_on_the_status_alone(response: str, applies: bool) -> None:
    assert (_policy(response).compiled.quiet_answers is not None) == applies


@pytest.mark.parametrize(("condition", "status", "quiet"), [
    ("res.status_code >= 500", 403, True),
    ("res.status_code >= 400", 403, False),
    ("res.status_code == 429", 403, True),
    ("res.status_code == 429", 429, False),
    ("1 / (res.status_code - 403) > 0", 403, False),  # an error runs the phase, which reports it
    ("1 / (res.status_code - 403) > 0", 402, True),
])
def test_the_phase_is_skipped_only_when_nothing_runs(monkeypatch: pytest.MonkeyPatch, condition: str, status: int,
                                                     quiet: bool) -> None:
    engine = _policy(f'rule "a" {{ when {condition}\n add-headers {{ headers: {{ "x-a": "1" }} }} }}', status)
    ran: list[Any] = []
    end = phases._response_end
    monkeypatch.setattr(phases, "_response_end", lambda flow, read: (ran.append(1), end(flow, read)))
    decisions = [engine.evaluate(REQUEST, request_id=f"r{i}").to_dict() for i in range(3)]
    assert len(ran) == (0 if quiet else 3)
    monkeypatch.setattr(phases, "QUIET_ANSWERS", False)
    assert [engine.evaluate(REQUEST, request_id=f"r{i}").to_dict() for i in range(3)] == decisions
    assert decisions[0]["status_code"] == status


def test_what_it_learns_is_bounded_and_per_status() -> None:
    quiet = _policy('rule "a" { when res.status_code == 451\n log { metadata: { "s": "x" } } }').compiled.quiet_answers
    assert [quiet(s) for s in (403, 451, 403, 451)] == [True, False, True, False]
    for s in range(5000):
        quiet(s)
    assert len(quiet._known) <= 1024


def test_a_traced_decision_shows_the_response_rules() -> None:
    engine = _policy('rule "a" { when res.status_code >= 500\n log { metadata: { "s": "x" } } }')
    trace = engine.evaluate(REQUEST, trace=True).to_dict()["trace"]
    assert [t["rule"] for t in trace if t["phase"] == "on_http_response"] == ["a"]
