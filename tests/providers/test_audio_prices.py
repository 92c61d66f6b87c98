"""Audio tokens are priced at the vendor's audio price, or unknown, never silently at the text
price (providers/price_gaps.py). genai-prices' snapshot has no audio price for
``gpt-4o-audio-preview`` nor ``gpt-4o-mini-audio-preview``, so their audio tokens, which OpenAI
bills at $40 / $80 and $10 / $20 per million, cost the text price ($2.50 / $10, $0.15 / $0.60):
~16x and ~60x under. The usage payloads are OpenAI's documented chat completion (JSON, and a
stream's final chunk with ``include_usage``); each cost worked by hand from the vendors' pages."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage

URL = "https://api.openai.com/v1/chat/completions"
AUDIO_OUT = {"prompt_tokens": 17, "completion_tokens": 59, "total_tokens": 76,
             "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "text_tokens": 17, "image_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 47, "text_tokens": 12,
                                           "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
AUDIO_IN = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 100, "text_tokens": 20},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "text_tokens": 30}}
GEMINI = {"promptTokenCount": 1000, "candidatesTokenCount": 100, "totalTokenCount": 1100,
          "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 800}, {"modality": "TEXT", "tokenCount": 200}]}

# (id, provider, model, usage, the cost by hand in USD (None: unknown), what the reason says)
ROWS: list[tuple[str, str, str, dict[str, Any], str | None, str]] = [
    # text in 17 x $2.50, text out 12 x $10, audio out 47 x $80 (per million)
    ("gpt-4o-audio-preview", "openai", "gpt-4o-audio-preview", AUDIO_OUT, "0.0039225", ""),
    ("a dated snapshot", "openai", "gpt-4o-audio-preview-2025-06-03", AUDIO_OUT, "0.0039225", ""),
    # the first snapshot: audio out at $200
    ("the 2024-10-01 snapshot", "openai", "gpt-4o-audio-preview-2024-10-01", AUDIO_OUT, "0.0095625", ""),
    # text in 20 x $0.15, audio in 100 x $10, text out 30 x $0.60
    ("gpt-4o-mini-audio-preview", "openai", "gpt-4o-mini-audio-preview", AUDIO_IN, "0.001021", ""),
    ("Azure OpenAI's", "azure_openai", "gpt-4o-mini-audio-preview", AUDIO_IN, "0.001021", ""),
    # genai-prices has these: unchanged (audio out 47 x $64; audio in 100 x $10, text at $0.60 / $2.40)
    ("gpt-audio", "openai", "gpt-audio", AUDIO_OUT, "0.0031705", ""),
    ("gpt-4o-mini-realtime-preview", "openai", "gpt-4o-mini-realtime-preview", AUDIO_IN, "0.001084", ""),
    # audio from a model with no audio price anywhere: unknown, and why
    ("no audio price", "openai", "gpt-4o-search-preview", AUDIO_OUT, None, "bills audio tokens apart"),
    # Google's one price for every input modality (Gemini 2.5 Pro): audio at the input price, as before
    ("Gemini's one price", "gemini", "gemini-2.5-pro", GEMINI, "0.00225", ""),
]


def _usage(provider: str, model: str, usage: dict[str, Any], stream: bool) -> Any:
    if provider == "gemini":
        ai = classify({"method": "POST", "url": f"https://generativelanguage.googleapis.com/v1beta/models/{model}"
                       ":generateContent", "body": {"contents": [{"parts": [{"text": "hi"}]}]}})
        return extract_usage(ai, {"status_code": 200, "headers": {}, "body": {"modelVersion": model,
                                                                            "usageMetadata": usage}})
    url = URL if provider == "openai" else f"https://x.openai.azure.com/openai/deployments/{model}/chat/completions"
    ai = classify({"method": "POST", "url": url, "body": {"model": model, "stream": stream, "messages": [
        {"role": "user", "content": "hi"}], **({"stream_options": {"include_usage": True}} if stream else {})}})
    if not stream:
        return extract_usage(ai, {"status_code": 200, "headers": {}, "body": {"model": model, "usage": usage}})
    chunks = [{"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [
        {"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]},
              {"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": sse})


CASES = [(*r[1:], stream) for r in ROWS for stream in (False, True) if not (stream and r[1] == "gemini")]


@pytest.mark.parametrize(("provider", "model", "usage", "usd", "reason", "stream"), CASES,
                         ids=[f"{r[0]}-{'stream' if stream else 'json'}" for r in ROWS for stream in (False, True)
                              if not (stream and r[1] == "gemini")])
def test_audio_tokens_cost_the_audio_price_or_are_unknown(provider: str, model: str, usage: dict[str, Any],
                                                          usd: str | None, reason: str, stream: bool) -> None:
    u = _usage(provider, model, usage, stream)
    assert u.source == "provider" and u.units, u  # the audio counts were read, to be priced
    cost = PriceBook().cost(provider, model, u)
    if usd is None:
        assert (cost.usd, cost.source) == (None, "unknown") and reason in (cost.reason or "")
    else:
        assert cost.usd == Decimal(usd), cost


OVERRIDE = {"input": 2.5, "output": 10}
# (the override, the usage, USD by hand, the note): audio at the override's audio prices, else its text price, noted
OVERRIDES: list[tuple[dict[str, Any], dict[str, Any], str, str | None]] = [
    ({**OVERRIDE, "input_audio": 40, "output_audio": 80}, AUDIO_OUT, "0.0039225", None),
    ({**OVERRIDE, "input_audio": 40, "output_audio": 80}, AUDIO_IN, "0.00435", None),  # 20 x 2.5 + 100 x 40 + 30 x 10
    (OVERRIDE, AUDIO_OUT, "0.0006325", "output audio tokens priced as text"),  # 17 x 2.5 + 59 x 10
]


@pytest.mark.parametrize(("price", "usage", "usd", "note"), OVERRIDES, ids=["audio out", "audio in", "no audio price"])
def test_an_override_prices_audio_at_its_audio_price_or_says_it_did_not(price: dict[str, Any], usage: dict[str, Any],
                                                                       usd: str, note: str | None) -> None:
    u = _usage("openai", "gpt-4o-audio-preview", usage, False)
    cost = PriceBook.from_mapping({"gpt-4o-audio-preview": price}).cost("openai", "gpt-4o-audio-preview", u)
    assert (cost.usd, cost.source) == (Decimal(usd), "override")
    assert (note in cost.reason) if note else cost.reason is None, cost


def test_a_misspelled_audio_price_is_refused() -> None:
    from aigw_policy.providers import ProviderError

    with pytest.raises(ProviderError, match="unknown key `input_audo`"):
        PriceBook.from_mapping({"gpt-4o-audio-preview": {**OVERRIDE, "input_audo": 40}})
