"""The JSON schema a request gives its answer (structured outputs) is read by the model as its
tool definitions are, so it counts in ``ai.input_tokens`` as they do. It counted nothing before:
a 9 KB schema (~2,200 tokens) was free for a token limit and a `max-tokens` input cap, in every
wire format's spelling of it."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.providers import classify
from aigw_policy.providers.history import json_text
from aigw_policy.providers.tokens import DEFAULT_COUNTER

SCHEMA = {"type": "object", "additionalProperties": False, "required": [f"field_{i}" for i in range(60)],
          "properties": {f"field_{i}": {"type": "string", "description": "what the answer says of it " * 3}
                         for i in range(60)}}
OPENAI = "https://api.openai.com/v1/chat/completions"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
ANTHROPIC = "https://api.anthropic.com/v1/messages"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Extract the fields"}]}
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Extract"}]}
GEN = {"contents": [{"role": "user", "parts": [{"text": "Extract"}]}]}
JSON_SCHEMA = {"name": "fields", "strict": True, "schema": SCHEMA}
# (name, url, body without, the fields that add the schema, what of them is counted)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], object]] = [
    ("chat response_format json_schema", OPENAI, CHAT,
     {"response_format": {"type": "json_schema", "json_schema": JSON_SCHEMA}},
     {"type": "json_schema", "json_schema": JSON_SCHEMA}),
    ("mistral response_format", "https://api.mistral.ai/v1/chat/completions", {**CHAT, "model": "mistral-large-latest"},
     {"response_format": {"type": "json_schema", "json_schema": JSON_SCHEMA}},
     {"type": "json_schema", "json_schema": JSON_SCHEMA}),
    ("responses text.format", "https://api.openai.com/v1/responses", {"model": "gpt-4.1", "input": "Extract"},
     {"text": {"format": {"type": "json_schema", **JSON_SCHEMA}}}, {"type": "json_schema", **JSON_SCHEMA}),
    ("cohere v2 response_format", "https://api.cohere.com/v2/chat",
     {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "Extract"}]},
     {"response_format": {"type": "json_object", "json_schema": SCHEMA}}, {"type": "json_object", "json_schema": SCHEMA}),
    ("anthropic output_format", ANTHROPIC, MESSAGES,
     {"output_format": {"type": "json_schema", "schema": SCHEMA}}, {"type": "json_schema", "schema": SCHEMA}),
    ("anthropic output_config.format", ANTHROPIC, MESSAGES,
     {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}, {"type": "json_schema", "schema": SCHEMA}),
    ("gemini responseSchema", GEMINI, GEN,
     {"generationConfig": {"responseMimeType": "application/json", "responseSchema": SCHEMA}}, SCHEMA),
    ("gemini response_json_schema", GEMINI, GEN,
     {"generation_config": {"response_mime_type": "application/json", "response_json_schema": SCHEMA}}, SCHEMA),
    ("ollama format", "http://localhost:11434/api/chat",
     {"model": "llama3.1", "stream": False, "messages": [{"role": "user", "content": "Extract"}]}, {"format": SCHEMA}, SCHEMA),
]


def _ai(url: str, body: dict[str, Any]) -> Any:
    headers = {"anthropic-version": "2023-06-01"} if "anthropic" in url else {}
    return classify({"method": "POST", "url": url, "headers": headers, "body": body})


@pytest.mark.parametrize(("name", "url", "body", "fields", "counted"), CASES, ids=[c[0] for c in CASES])
def test_an_answers_schema_counts_in_the_input_estimate(name: str, url: str, body: dict[str, Any],
                                                         fields: dict[str, Any], counted: object) -> None:
    before, after = _ai(url, body), _ai(url, {**body, **fields})
    assert after.input_tokens - before.input_tokens == DEFAULT_COUNTER.count(json_text(counted) or ""), name
    assert after.prompt == before.prompt


@pytest.mark.parametrize("fields", [{"response_format": {"type": "json_object"}}, {"response_format": {"type": "text"}},
                                    {"response_format": "auto"}, {"text": {"format": {"type": "text"}}}])
def test_a_format_without_a_schema_adds_nothing(fields: dict[str, Any]) -> None:
    assert _ai(OPENAI, {**CHAT, **fields}).input_tokens == _ai(OPENAI, CHAT).input_tokens


def test_an_input_cap_sees_the_schema() -> None:
    engine = ap.Engine(ap.loads('policy { on request { rule "cap" { max-tokens { input: 1000, mode: "reject" } } } }'))
    request = {"method": "POST", "url": OPENAI, "headers": {}}
    assert engine.evaluate({"request": {**request, "body": CHAT}}, expect_response=False).verdict == "allow"
    big = {**CHAT, **CASES[0][3]}
    assert engine.evaluate({"request": {**request, "body": big}}, expect_response=False).status_code == 413
