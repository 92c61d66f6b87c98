"""The response phase sets the ``res.*`` entries read from the response's headers only when
some response-phase text reads one (``CompiledPolicy.response_headers``; issue #15: a policy
whose response rules read only ``res.status_code`` does not lower and split the headers of
every answer). Every declared ``res.*`` variable, read in a condition or in a template of a
response rule, or in a limit's ``cost``, still sees its value."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.env.declarations import POLICY_VARIABLES

SUPPLIED = sorted(n for n in POLICY_VARIABLES if n.startswith("res.") and n not in ("res.status_code", "res.trailers"))
REQUEST = {"identity": {"key": "k", "team": "t"},
           "request": {"url": "https://api.openai.com/v1/chat/completions",
                       "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
ANSWER = {"status_code": 200, "body": {"usage": {"prompt_tokens": 3, "completion_tokens": 4}},
          "headers": {"content-type": "application/json; charset=utf-8", "content-length": "42",
                      "content-encoding": "gzip", "location": "/x", "set-cookie": "a=1; Path=/"}}


def _seen(text: str) -> bool:
    engine = ap.Engine(ap.loads(text))
    engine.evaluate({**REQUEST, "id": "r1"})
    d = engine.complete("r1", ANSWER)
    assert not d.errors, d.errors
    return (d.effects.get("response_headers") or {}).get("add", {}).get("x-seen") == "yes"


def test_the_variables_are_the_declared_ones() -> None:
    assert "res.headers" in SUPPLIED and "res.content_type" in SUPPLIED and len(SUPPLIED) >= 8


@pytest.mark.parametrize("name", SUPPLIED)
def test_a_condition_reading_a_header_variable_sees_it(name: str) -> None:
    text = f'policy {{ on response {{ rule "r" {{ when {name} == {name}\n add-headers {{ headers: {{ "x-seen": "yes" }} }} }} }} }}'
    assert ap.Engine(ap.loads(text)).compiled.response_headers
    assert _seen(text)


@pytest.mark.parametrize("name", SUPPLIED)
def test_a_template_reading_a_header_variable_sees_it(name: str) -> None:
    text = (f'policy {{ on response {{ rule "r" {{ add-headers {{ headers: {{ "x-seen": "${{{name} == {name} ? '
            f"'yes' : 'no'}}\" }} }} }} }} }}")
    assert _seen(text)


def test_a_policy_reading_only_the_status_sets_only_the_status() -> None:
    text = 'policy { on response { rule "r" { when res.status_code == 200\n add-headers { headers: { "x-seen": "yes" } } } } }'
    engine = ap.Engine(ap.loads(text))
    assert not engine.compiled.response_headers
    assert _seen(text)
    engine.evaluate({**REQUEST, "id": "r2"})
    flow: Any = engine.complete("r2", ANSWER)._flow
    act = flow.act if hasattr(flow, "act") else {}
    assert not any(k.startswith("res.") and k != "res.status_code" for k in act)


def test_a_limit_cost_reading_the_headers_sees_them() -> None:
    text = ('policy { on request { rule "l" { usage-cap { name: "c", limit: 100, unit: "tokens", period: "day", '
            'cost: size(res.headers) > 0 ? 7 : 1 } } } }')
    engine = ap.Engine(ap.loads(text))
    assert engine.compiled.response_headers  # (the cost is settled in the response phase)
