"""Cohere reports the prompt tokens that hit its inference cache as ``cached_tokens``, beside
``billed_units`` and ``tokens`` (cohere-python ``src/cohere/types/usage.py``, ``Usage.cached_tokens``,
of the v2 chat answer and of its stream's ``message-end`` delta; ``api_meta.py``,
``ApiMeta.cached_tokens``, of v1's ``meta``): the cached part of the input. Before (payloads19),
it was not read: ``cached_input_tokens`` was 0 whatever the cache served. No Cohere model has a
cache-read price in genai-prices, so the cost is the same either way (as genai-prices' own
Cohere extractor notes); ``ai.usage.cached_input_tokens`` and the ledger's column were wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.providers import classify, extract_usage

V2 = {"method": "POST", "url": "https://api.cohere.com/v2/chat", "headers": {"content-type": "application/json"},
      "body": {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "Tell me about otters"}]}}
V1 = {**V2, "url": "https://api.cohere.com/v1/chat", "body": {"model": "command-r-08-2024", "message": "otters"}}
BILLED = {"input_tokens": 1000, "output_tokens": 100}
TOKENS = {"input_tokens": 1496, "output_tokens": 102}  # Cohere's own prompt template included: not billed


def _v2(usage: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {}, "body": {
        "id": "c14c80c3", "finish_reason": "COMPLETE", "usage": usage,
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Otters are..."}]}}}


def _v2_stream(usage: dict[str, Any]) -> dict[str, Any]:
    events = [{"type": "message-start", "id": "c14c80c3", "delta": {"message": {"role": "assistant"}}},
              {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Otters are..."}}}},
              {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}}]
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


def _v1(meta: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {}, "body": {"text": "Otters are...", "generation_id": "g1",
                                                        "finish_reason": "COMPLETE", "meta": meta}}


ROWS = [  # (id, request, stream, answer, (input, output, cached), a note that must be there)
    ("v2 chat", V2, False, _v2({"billed_units": BILLED, "tokens": TOKENS, "cached_tokens": 800}), (1000, 100, 800), None),
    ("v2 chat, a float as the SDK types it", V2, False,
     _v2({"billed_units": BILLED, "tokens": TOKENS, "cached_tokens": 800.0}), (1000, 100, 800), None),
    ("v2 stream's message-end", V2, True, _v2_stream({"billed_units": BILLED, "tokens": TOKENS, "cached_tokens": 640}),
     (1000, 100, 640), None),
    ("v1 meta", V1, False, _v1({"api_version": {"version": "1"}, "billed_units": BILLED, "tokens": TOKENS,
                                "cached_tokens": 512}), (1000, 100, 512), None),
    ("above the billed input: clamped", V2, False, _v2({"billed_units": BILLED, "tokens": TOKENS, "cached_tokens": 1200}),
     (1000, 100, 1000), "cached_tokens above its total: clamped"),
    ("not a count: left out, said", V2, False, _v2({"billed_units": BILLED, "cached_tokens": "many"}),
     (1000, 100, 0), "cached_tokens is not a count: left out"),
]


@pytest.mark.parametrize(("request_", "stream", "answer", "want", "note"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_cohere_s_cached_tokens_are_the_cached_input(request_: dict[str, Any], stream: bool, answer: dict[str, Any],
                                                     want: tuple[int, int, int], note: str | None) -> None:
    ai = classify({**request_, "body": {**request_["body"], "stream": stream}})
    usage = extract_usage(ai, answer)
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.source) == (*want, "provider")
    if note is not None:
        assert note in usage.notes
