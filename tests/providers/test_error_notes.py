"""An upstream error's note names its kind as the provider does, read the same way for an error
body and a stream's error event (``sse._error_kind``), never its message (which may quote the
request). The error bodies, trimmed, as each provider documents or answers them. Before
(payloads19), three shapes lost their kind: Bedrock's ``__type`` in the body (botocore reads
it when ``X-Amzn-ErrorType`` is absent), Mistral's number ``code`` beside its named ``type``,
and a FastAPI validation error's ``detail`` (Mistral's 422, vLLM's)."""

from __future__ import annotations

from typing import Any

import pytest

from aigw_policy.providers import classify, extract_usage

ROWS: list[tuple[str, str, int, Any, dict[str, str], str]] = [  # (id, url, status, body, headers, the note)
    ("openai", "https://api.openai.com/v1/chat/completions", 400,
     {"error": {"message": "This model's maximum context length is 128000 tokens...", "type": "invalid_request_error",
                "param": "messages", "code": "context_length_exceeded"}}, {}, "upstream error 400: context_length_exceeded"),
    ("anthropic", "https://api.anthropic.com/v1/messages", 529,
     {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_011CS"}, {},
     "upstream error 529: overloaded_error"),
    ("gemini", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent", 429,
     {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED"}}, {}, "upstream error 429: RESOURCE_EXHAUSTED"),
    ("bedrock, kind in the header", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", 429,
     {"message": "Too many requests, please wait before trying again."},
     {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
     "upstream error 429: ThrottlingException"),
    ("bedrock, kind in the body", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", 429,
     {"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Too many requests"}, {},
     "upstream error 429: ThrottlingException"),
    ("mistral, a number code", "https://api.mistral.ai/v1/chat/completions", 400,
     {"object": "error", "message": "Invalid model: mistral-huge", "type": "invalid_model", "param": None,
      "code": "1500"}, {}, "upstream error 400: invalid_model"),
    ("mistral 422, FastAPI's detail", "https://api.mistral.ai/v1/chat/completions", 422,
     {"detail": [{"type": "extra_forbidden", "loc": ["body", "stream_options"], "msg": "Extra inputs are not permitted",
                  "input": {"include_usage": True}}]}, {}, "upstream error 422: extra_forbidden"),
    ("openrouter, a status as the code", "https://openrouter.ai/api/v1/chat/completions", 402,
     {"error": {"code": 402, "message": "Insufficient credits"}}, {}, "upstream error 402"),
    ("ollama, a string", "http://localhost:11434/api/chat", 404,
     {"error": "model \"llama9\" not found, try pulling it first"}, {}, "upstream error 404"),
]


@pytest.mark.parametrize(("url", "status", "body", "headers", "note"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_an_error_s_kind_is_noted(url: str, status: int, body: Any, headers: dict[str, str], note: str) -> None:
    ai = classify({"method": "POST", "url": url, "headers": {"content-type": "application/json"},
                   "body": {"model": "m", "messages": [{"role": "user", "content": "secret plans"}]}})
    usage = extract_usage(ai, {"status_code": status, "headers": headers, "body": body})
    assert usage.source == "estimate" and usage.output_tokens == 0
    assert note in usage.notes and not any(n.startswith(f"upstream error {status}: {status}") for n in usage.notes)
    assert not any("secret" in n or "Insufficient" in n or "not found" in n for n in usage.notes)
