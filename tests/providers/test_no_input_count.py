"""A usage object that names an output count but no input count is never 0 input trusted as the
provider's: the request's estimate stands in, marked ``estimate`` (Gemini's total, when given,
still says the input). Before, an Anthropic-compatible server whose only usage was a
``message_delta``'s ``output_tokens`` (or an answer with ``usage: {output_tokens}``) was 0
input, ``provider``; a Gemini answer without ``promptTokenCount`` had its prompt counted as
output (its total's rest)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.providers import classify, extract_usage

ANTHROPIC = {"url": "https://api.anthropic.com/v1/messages",
             "body": {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True,
                      "messages": [{"role": "user", "content": "hello there friend, how are you today?"}]}}
GEMINI = {"url": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
          "body": {"contents": [{"parts": [{"text": "hello there friend, how are you today?"}]}]}}


def _sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


DELTA_ONLY = _sse({"type": "message_start", "message": {"model": "claude-sonnet-4-5", "content": []}},
                  {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
                  {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 50}},
                  {"type": "message_stop"})


OPENAI = {"url": "https://api.openai.com/v1/chat/completions",
          "body": {"model": "m", "messages": [{"role": "user", "content": "hello there friend, how are you today?"}]}}


@pytest.mark.parametrize(("request_", "response", "want"), [
    # OpenAI-shaped: an output count alone (was: no usage at all, the output counted from the text)
    (OPENAI, {"status_code": 200, "body": {"model": "m", "usage": {"completion_tokens": 40}}}, ("estimated", 40)),
    (OPENAI, {"status_code": 200, "sse": 'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
              'data: {"choices":[],"usage":{"completion_tokens":40}}\n\ndata: [DONE]\n\n'}, ("estimated", 40)),
    (ANTHROPIC, {"status_code": 200, "sse": DELTA_ONLY}, ("estimated", 50)),
    (ANTHROPIC, {"status_code": 200, "body": {"model": "claude-sonnet-4-5", "usage": {"output_tokens": 50}}},
     ("estimated", 50)),
    (GEMINI, {"status_code": 200, "body": {"usageMetadata": {"candidatesTokenCount": 5}}}, ("estimated", 5)),
    (GEMINI, {"status_code": 200, "body": {"usageMetadata": {"candidatesTokenCount": 5, "totalTokenCount": 15}}},
     (10, 5)),
    (GEMINI, {"status_code": 200, "body": {"usageMetadata": {"candidatesTokenCount": 5, "thoughtsTokenCount": 3,
                                                             "totalTokenCount": 20}}}, (12, 8)),
])
def test_an_absent_input_count_is_never_zero(request_: dict[str, Any], response: dict[str, Any],
                                             want: tuple[Any, int]) -> None:
    ai = classify(request_)
    u = extract_usage(ai, response)
    inp, out = want
    if inp == "estimated":
        assert (u.input_tokens, u.output_tokens, u.source) == (ai.input_tokens, out, "estimate")
        assert ai.input_tokens > 0
    else:
        assert (u.input_tokens, u.output_tokens, u.source) == (inp, out, "provider")
