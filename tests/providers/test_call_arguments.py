"""The tool calls a request sends back as history (their arguments, Gemini's function results)
are input tokens: they count in ``ai.input_tokens``, so a token limit or an input cap sees
them, while ``ai.prompt`` stays the messages' text."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.providers import classify
from aigw_policy.providers.tokens import DEFAULT_COUNTER

BIG = "lorem ipsum dolor sit amet " * 400
ARGS = json.dumps({"path": "/srv/report.txt", "data": BIG})

OPENAI = "https://api.openai.com/v1/chat/completions"
CONVERSE = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0/converse"
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ("openai tool_calls", OPENAI, {"model": "gpt-4o", "messages": [{"role": "user", "content": "read it"}]},
     {"role": "assistant", "content": None,
      "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read", "arguments": ARGS}}]}, ARGS),
    ("openai function_call", OPENAI, {"model": "gpt-4o", "messages": [{"role": "user", "content": "read it"}]},
     {"role": "assistant", "content": None, "function_call": {"name": "read", "arguments": ARGS}}, ARGS),
    ("responses function_call", "https://api.openai.com/v1/responses",
     {"model": "gpt-4o", "input": [{"role": "user", "content": "read it"}]},
     {"type": "function_call", "call_id": "c1", "name": "read", "arguments": ARGS}, ARGS),
    ("anthropic tool_use", "https://api.anthropic.com/v1/messages",
     {"model": "claude-sonnet-4", "max_tokens": 100, "messages": [{"role": "user", "content": "read it"}]},
     {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read",
                                        "input": {"path": "/srv/report.txt", "data": BIG}}]}, ARGS),
    ("gemini functionCall", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent",
     {"contents": [{"role": "user", "parts": [{"text": "read it"}]}]},
     {"role": "model", "parts": [{"functionCall": {"name": "read", "args": {"path": "/srv/report.txt", "data": BIG}}}]},
     ARGS),
    ("gemini functionResponse", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent",
     {"contents": [{"role": "user", "parts": [{"text": "read it"}]}]},
     {"role": "user", "parts": [{"functionResponse": {"name": "read", "response": {"path": "/srv/report.txt",
                                                                                   "data": BIG}}}]}, ARGS),
    # Bedrock Converse: the call (`toolUse.input`) and a result's JSON block (`toolResult`), sent back
    ("converse toolUse", CONVERSE, {"messages": [{"role": "user", "content": [{"text": "read it"}]}]},
     {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "read",
                                                    "input": {"path": "/srv/report.txt", "data": BIG}}}]}, ARGS),
    ("converse toolResult json", CONVERSE, {"messages": [{"role": "user", "content": [{"text": "read it"}]}]},
     {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [
         {"json": {"path": "/srv/report.txt", "data": BIG}}]}}]}, ARGS),
]


def _ai(url: str, body: dict[str, Any]) -> Any:
    headers = {"anthropic-version": "2023-06-01"} if "anthropic" in url else {}
    return classify({"method": "POST", "url": url, "headers": headers, "body": body})


@pytest.mark.parametrize(("name", "url", "body", "call", "args"), CASES, ids=[c[0] for c in CASES])
def test_a_calls_arguments_are_input_tokens_not_prompt(name: str, url: str, body: dict[str, Any],
                                                        call: dict[str, Any], args: str) -> None:
    key = "contents" if "contents" in body else "input" if "input" in body else "messages"
    before = _ai(url, body)
    after = _ai(url, {**body, key: [*body[key], call]})
    assert after.prompt == before.prompt  # what policies read as the prompt is the messages' text
    overhead = after.input_tokens - before.input_tokens - DEFAULT_COUNTER.count(args)
    assert 0 <= overhead <= 8, (before.input_tokens, after.input_tokens)  # the new message's own overhead


def test_an_input_cap_sees_the_arguments() -> None:
    """A `max-tokens` input cap cannot be passed by moving text into a call's arguments."""
    engine = ap.Engine(ap.loads('policy { on request { rule "cap" { max-tokens { input: 1000, mode: "reject" } } } }'))
    small = {"model": "gpt-4o", "messages": [{"role": "user", "content": "read it"}]}
    big = {**small, "messages": [*small["messages"], CASES[0][3]]}
    request = {"method": "POST", "url": OPENAI, "headers": {}}
    assert engine.evaluate({"request": {**request, "body": small}}, expect_response=False).verdict == "allow"
    assert engine.evaluate({"request": {**request, "body": big}}, expect_response=False).status_code == 413


def test_a_history_nested_too_deeply_is_a_note_not_a_crash() -> None:
    value: Any = "x"
    for _ in range(5000):
        value = [value]
    ai = _ai(OPENAI, {"model": "gpt-4o", "messages": [{"role": "user", "content": value, "tool_calls": []}]})
    assert ai.notes and "nested too deeply" in ai.notes[-1]


def test_converse_s_tools_and_tool_results_are_read() -> None:
    """Converse names its tools in `toolConfig.tools[].toolSpec` (a `cachePoint` is none) and
    sends a tool's text result in `toolResult.content`: `ai.tools` lists them, the estimate
    counts their definitions and the result's text is part of the prompt (both were missed)."""
    spec = {"toolSpec": {"name": "read", "description": BIG, "inputSchema": {"json": {"type": "object"}}}}
    body = {"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "t1",
                                                                      "content": [{"text": "the file says hi"}]}}]}],
            "toolConfig": {"tools": [spec, {"cachePoint": {"type": "default"}}]}}
    ai = _ai(CONVERSE, body)
    assert ai.tools == ("read",)
    assert ai.prompt == "the file says hi"
    assert ai.input_tokens >= DEFAULT_COUNTER.count(json.dumps(body["toolConfig"]["tools"], separators=(",", ":")))
