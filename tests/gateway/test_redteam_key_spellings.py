"""serve18: a field the policy reads is spelt as the policy reads it, or the body is refused.

Go's ``encoding/json`` (Ollama, LocalAI and other Go servers of OpenAI's format) matches a
field name case-insensitively under Unicode's simple case folding: ``MODEL``, ``Max_Tokens``
and ``ſtream`` (U+017F, a long s) are ``model``, ``max_tokens`` and ``stream`` to it. The
gateway refused a body naming one field twice so (``{"model": "a", "Model": "b"}``), but not
a body naming it once in another spelling: ``{"MODEL": "o1"}`` passed a ``deny: [o1]`` with
no model seen, ``{"MAX_TOKENS": 100000}`` a reject cap of 4096, ``{"Messages": [...]}`` an
input cap (the estimate saw no input), ``{"ſtream": true}`` a rule on ``ai.stream``; and
``ſ`` beside ``s`` was no duplicate (``str.lower`` keeps ``ſ``; ``casefold`` does not). Such a
key is now 400 ``misspelt_json_key``; the spellings the APIs define (Gemini's
``max_output_tokens`` and ``maxOutputTokens``) pass.

Each row: a body, and the code it is refused with (None: it parses).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from aigw_policy.gateway.request_body import BadBody, parse_body

from .conftest import policy_gateway

MSGS = [{"role": "user", "content": "hi"}]
MISSPELT = "misspelt_json_key"
ROWS: list[tuple[str, dict[str, Any], str | None]] = [
    ("MODEL alone", {"MODEL": "o1", "messages": MSGS}, MISSPELT),
    ("Model alone", {"Model": "o1"}, MISSPELT),
    ("MAX_TOKENS beside model", {"model": "gpt-4o", "messages": MSGS, "MAX_TOKENS": 100_000}, MISSPELT),
    ("Max_Completion_Tokens", {"model": "gpt-4o", "messages": MSGS, "Max_Completion_Tokens": 100_000}, MISSPELT),
    ("Messages", {"model": "gpt-4o", "Messages": MSGS}, MISSPELT),
    ("long s in stream", {"model": "gpt-4o", "messages": MSGS, "\u017ftream": True}, MISSPELT),
    ("long s beside s", {"model": "gpt-4o", "messages": MSGS, "stream": False, "\u017ftream": True},
     "duplicate_json_key"),
    ("Kelvin sign in max_tokens", {"model": "gpt-4o", "messages": MSGS, "max_to\u212aens": 100_000}, MISSPELT),
    ("N", {"model": "gpt-4o", "messages": MSGS, "N": 8}, MISSPELT),
    ("Ollama's options.NUM_PREDICT", {"model": "llama3", "messages": MSGS, "options": {"NUM_PREDICT": 100_000}},
     MISSPELT),
    ("Gemini's generationConfig.MaxOutputTokens",
     {"contents": [], "generationConfig": {"MaxOutputTokens": 100_000}}, MISSPELT),
    ("Bedrock's inferenceConfig.MaxTokens", {"messages": [], "inferenceConfig": {"MaxTokens": 100_000}}, MISSPELT),
    # what the APIs define passes
    ("plain", {"model": "gpt-4o", "messages": MSGS, "max_tokens": 5, "stream": False, "n": 1}, None),
    ("gemini camel", {"contents": [], "generationConfig": {"maxOutputTokens": 5, "candidateCount": 1}}, None),
    ("gemini snake", {"contents": [], "generation_config": {"max_output_tokens": 5, "candidate_count": 1}}, None),
    ("fields the policy does not read", {"model": "gpt-4o", "messages": MSGS, "Metadata": {"A": 1}, "TopK": 3}, None),
    ("a user's map deeper down", {"model": "gpt-4o", "messages": MSGS,
                                  "tools": [{"type": "function", "function": {"name": "f", "parameters": {
                                      "properties": {"MODEL": {}, "Model": {}}}}}]}, None),
]


@pytest.mark.parametrize(("body", "code"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_field_the_policy_reads_has_one_spelling(body: dict[str, Any], code: str | None) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    if code is None:
        assert parse_body(raw, "application/json") == body
        return
    with pytest.raises(BadBody) as refused:
        parse_body(raw, "application/json")
    assert refused.value.code == code and refused.value.status == 400


DENY = """\
on_http_request:
  - name: no-o1
    actions:
      - type: model-access
        config: {deny: [o1]}
"""


def test_a_deny_is_not_passed_by_spelling_model_otherwise(stub: Any) -> None:
    before = len(stub.app.seen)
    with policy_gateway(DENY, "sk-gw-spelt", upstream=stub.url) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions", json={"MODEL": "o1", "messages": MSGS},
                       headers={"authorization": "Bearer sk-gw-spelt"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == MISSPELT, r.text
    assert len(stub.app.seen) == before
