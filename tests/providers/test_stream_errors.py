"""An error a stream reports is noted by its kind, as each provider names it, whatever else the
chunk holds (never its message, which may quote the request); the usage is then estimated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.providers import classify, extract_usage

CHAT = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}


def _sse(*events: dict[str, Any]) -> str:
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events)


DELTA = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}


@pytest.mark.parametrize(("url", "stream", "kind"), [
    # OpenRouter: a mid-stream error keeps `choices` (finish_reason: error), its code an HTTP status
    ("https://openrouter.ai/api/v1/chat/completions",
     _sse(DELTA, {"id": "c", "object": "chat.completion.chunk", "error": {"code": 502, "message": "secret prompt"},
                  "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}) + "data: [DONE]\n\n",
     "502"),
    ("https://openrouter.ai/api/v1/chat/completions",
     _sse(DELTA, {"error": {"code": "server_error", "message": "secret prompt"}}), "server_error"),
    ("https://api.groq.com/openai/v1/chat/completions",
     _sse(DELTA, {"error": {"message": "secret prompt", "type": "internal_server_error"}}), "internal_server_error"),
    ("https://api.openai.com/v1/chat/completions",
     _sse(DELTA, {"object": "error", "message": "secret prompt", "type": "BadRequestError", "code": 400}),
     "BadRequestError"),
    ("https://api.openai.com/v1/responses",
     _sse({"type": "error", "code": "rate_limit_exceeded", "message": "secret prompt", "sequence_number": 1}),
     "rate_limit_exceeded"),
])
def test_a_stream_s_error_is_noted_by_its_kind(url: str, stream: str, kind: str) -> None:
    ai = classify({"url": url, "body": CHAT})
    u = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": stream})
    assert u.source == "estimate"
    assert f"stream reported an error: {kind}" in u.notes, u.notes
    assert "secret" not in repr(u)
