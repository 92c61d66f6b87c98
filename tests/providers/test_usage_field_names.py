"""Usage counts the providers name in places of their own (payloads18): Anthropic's
``output_tokens_details.thinking_tokens`` (the reasoning part of ``output_tokens``; JSON, stream,
Bedrock InvokeModel, Vertex AI) and Mistral's cache reads (``num_cached_tokens``,
``prompt_token_details.cached_tokens``, priced at its cache-read price). Each row is a minimal
payload of the shape the provider's SDK types and recorded answers show; unread, the reasoning
was 0 and Mistral's cached prompt was priced as fresh input."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage
from aigw_policy.providers.usage import Usage

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
MSG = [{"role": "user", "content": "hi"}]
ANTHROPIC = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": MSG}
URLS = {
    "anthropic": "https://api.anthropic.com/v1/messages",
    "bedrock": "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
    "vertex": "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/"
              "anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
    "mistral": "https://api.mistral.ai/v1/chat/completions",
}
USAGE_FIELDS = {f.name for f in fields(Usage)}


@dataclass(frozen=True)
class Row:
    id: str
    url: str
    request: dict[str, Any]
    response: dict[str, Any]
    want: dict[str, Any]  # Usage fields (a misspelt name fails the row)
    usd: str | None = None  # the cost by hand, from the price list
    notes: tuple[str, ...] = field(default=())


def _sse(*events: dict[str, Any]) -> dict[str, Any]:
    text = "".join(f"event: {e.get('type', 'x')}\ndata: {json.dumps(e)}\n\n" for e in events)
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


def _json(body: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body}


def _chunk(usage: dict[str, Any] | None = None, finish: str | None = None) -> str:
    chunk: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "model": "mistral-medium-2508",
                             "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": finish}]}
    if usage is not None:
        chunk["usage"] = usage
    return f"data: {json.dumps(chunk)}\n\n"


THINKING = {"input_tokens": 10, "output_tokens": 100, "output_tokens_details": {"thinking_tokens": 80}}
START = {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 10,
                                                                                     "output_tokens": 1}}}
DELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 100, "output_tokens_details": {"thinking_tokens": 80}}}
MISTRAL = {"model": "mistral-medium-2508", "messages": MSG}
MISTRAL_BODY = {"id": "x", "object": "chat.completion", "model": "mistral-medium-2508",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]}

ROWS = [
    Row("anthropic-thinking-json", URLS["anthropic"], ANTHROPIC, _json({"model": "claude-sonnet-4-5", "usage": THINKING}),
        {"input_tokens": 10, "output_tokens": 100, "reasoning_tokens": 80, "source": "provider"}),
    Row("anthropic-thinking-stream", URLS["anthropic"], {**ANTHROPIC, "stream": True},
        _sse(START, DELTA, DELTA, {"type": "message_stop"}),
        {"input_tokens": 10, "output_tokens": 100, "reasoning_tokens": 80, "source": "provider"}),
    Row("anthropic-thinking-bedrock-invoke", URLS["bedrock"],
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": MSG},
        _json({"type": "message", "usage": THINKING}),
        {"input_tokens": 10, "output_tokens": 100, "reasoning_tokens": 80, "source": "provider"}),
    Row("anthropic-thinking-vertex", URLS["vertex"],
        {"anthropic_version": "vertex-2023-10-16", "max_tokens": 100, "messages": MSG},
        _json({"type": "message", "usage": THINKING}),
        {"input_tokens": 10, "output_tokens": 100, "reasoning_tokens": 80, "source": "provider"}),
    Row("anthropic-thinking-above-output", URLS["anthropic"], ANTHROPIC,
        _json({"usage": {"input_tokens": 10, "output_tokens": 50, "output_tokens_details": {"thinking_tokens": 80}}}),
        {"output_tokens": 50, "reasoning_tokens": 50, "source": "provider"}, notes=("thinking_tokens above its total: clamped",)),
    Row("anthropic-thinking-bad-count", URLS["anthropic"], ANTHROPIC,
        _json({"usage": {"input_tokens": 10, "output_tokens": 50, "output_tokens_details": {"thinking_tokens": "many"}}}),
        {"reasoning_tokens": 0, "source": "estimate"}),
    Row("anthropic-thinking-details-not-an-object", URLS["anthropic"], ANTHROPIC,
        _json({"usage": {"input_tokens": 10, "output_tokens": 50, "output_tokens_details": 7}}),
        {"source": "estimate"}),
    # Mistral: 1,000 prompt tokens, 768 of them read from the cache (mistral-medium-2508:
    # $0.4 input, $0.04 cache read, $2 output per MTok): 232 * 0.4 + 768 * 0.04 + 30 * 2 = 183.52 / 1e6
    Row("mistral-num-cached-tokens", URLS["mistral"], MISTRAL,
        _json({**MISTRAL_BODY, "usage": {"prompt_tokens": 1000, "completion_tokens": 30, "total_tokens": 1030,
                                          "num_cached_tokens": 768}}),
        {"input_tokens": 1000, "cached_input_tokens": 768, "source": "provider"}, usd="0.00018352"),
    Row("mistral-prompt-token-details", URLS["mistral"], MISTRAL,
        _json({**MISTRAL_BODY, "usage": {"prompt_tokens": 1000, "completion_tokens": 30, "total_tokens": 1030,
                                          "prompt_token_details": {"cached_tokens": 768}}}),
        {"input_tokens": 1000, "cached_input_tokens": 768, "source": "provider"}, usd="0.00018352"),
    Row("mistral-num-cached-tokens-stream", URLS["mistral"], {**MISTRAL, "stream": True},
        {"status_code": 200, "headers": {"content-type": "text/event-stream"},
         "sse": _chunk() + _chunk({"prompt_tokens": 1000, "completion_tokens": 30, "total_tokens": 1030,
                                   "num_cached_tokens": 768, "prompt_audio_seconds": None}, "stop") + "data: [DONE]\n\n"},
        {"input_tokens": 1000, "cached_input_tokens": 768, "source": "provider"}, usd="0.00018352"),
    Row("mistral-cached-above-prompt", URLS["mistral"], MISTRAL,
        _json({**MISTRAL_BODY, "usage": {"prompt_tokens": 100, "completion_tokens": 30, "num_cached_tokens": 768}}),
        {"input_tokens": 100, "cached_input_tokens": 100}, notes=("cached_tokens above its total: clamped",)),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_usage_fields_in_their_own_places(row: Row) -> None:
    assert set(row.want) <= USAGE_FIELDS, set(row.want) - USAGE_FIELDS
    ai = classify({"method": "POST", "url": row.url, "headers": {"content-type": "application/json"},
                   "body": row.request})
    usage = extract_usage(ai, row.response)
    assert {name: getattr(usage, name) for name in row.want} == row.want
    assert set(row.notes) <= set(usage.notes)
    if row.usd is not None:
        cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW)
        assert cost.usd == Decimal(row.usd), cost.reason
