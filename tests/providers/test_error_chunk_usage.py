"""OpenRouter ends a stream that failed mid-way with one chunk that carries both the error and
the request's final usage (``{error: {code, message}, choices: [...], usage: {...}}``): the
usage is read, and the error noted. Before (payloads19), an error chunk ended the chunk's
reading: the usage it carried was lost and the whole request estimated (its input estimate and
the text seen), though OpenRouter billed the counts it named.

Provenance: pydantic-ai's recorded cassette
``tests/models/cassettes/test_openrouter/test_openrouter_stream_error.yaml`` (minimax-m2:free,
"Token limit reached"; trimmed: its keep-alive comments and ids)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage

MODEL = "minimax/minimax-m2:free"
USAGE = {"prompt_tokens": 43, "completion_tokens": 10, "total_tokens": 53, "cost": 0, "is_byok": False,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "cost_details": {"upstream_inference_cost": None, "upstream_inference_prompt_cost": 0,
                          "upstream_inference_completions_cost": 0},
         "completion_tokens_details": {"reasoning_tokens": 11, "image_tokens": 0}}


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "gen-1762179802", "provider": "Minimax", "model": MODEL, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", **delta}, "finish_reason": finish}],
            **extra}


def _stream(*chunks: dict[str, Any]) -> dict[str, Any]:
    text = ": OPENROUTER PROCESSING\n\n" + "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


THINKING = [_chunk({"reasoning": "We need"}), _chunk({"reasoning": " to respond to a greeting. The user"}, "length")]
ERROR = {"code": 400, "message": "Token limit reached"}

ROWS = [  # (id, answer, (input, output, reasoning, source), the cost, the note)
    ("error chunk with the usage (as recorded)", _stream(*THINKING, _chunk({}, error=ERROR, usage=USAGE)),
     (43, 10, 10, "provider"), Decimal(0), "stream reported an error: 400"),
    ("the same, a paid model's cost", _stream(*THINKING, _chunk({}, error=ERROR, usage={**USAGE, "cost": 0.0000215})),
     (43, 10, 10, "provider"), Decimal("0.0000215"), "stream reported an error: 400"),
    ("error chunk without usage: estimated", _stream(*THINKING, _chunk({}, error=ERROR)),
     (None, None, 0, "estimate"), None, "stream reported an error: 400"),
]


@pytest.mark.parametrize(("answer", "want", "usd", "note"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_an_error_chunk_s_usage_is_read(answer: dict[str, Any], want: tuple[Any, ...], usd: Decimal | None,
                                        note: str) -> None:
    ai = classify({"method": "POST", "url": "https://openrouter.ai/api/v1/chat/completions", "headers": {},
                   "body": {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Hello"}]}})
    usage = extract_usage(ai, answer)
    got = (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.source)
    assert tuple(w if w is not None else g for w, g in zip(want, got)) == got
    assert note in usage.notes
    if usd is not None:
        assert PriceBook().cost(ai.provider, usage.model or ai.model, usage).usd == usd
