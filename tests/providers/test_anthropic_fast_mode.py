"""Anthropic's fast mode (``speed: "fast"`` in the request; the answer's ``usage.speed: "fast"``,
in the body, a stream's ``message_delta`` and the gateway's rebuilt body of an overflowing
stream) is priced at genai-prices' ``speed: fast`` variant (claude-opus-4-8: $10 / $50 per
million, 2x its standard $5 / $25... per the snapshot). Before (payloads20) the speed was not
read: fast answers at the standard price, under by the variant's factor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import genai_prices
import pytest

from aigw_policy.gateway.captured import usage_body
from aigw_policy.providers import PriceBook, StreamUsage, classify, extract_usage

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
MODEL = "claude-opus-4-8"
USAGE = {"input_tokens": 1200, "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 0,
         "output_tokens": 800, "service_tier": "standard", "speed": "fast"}
REQUEST = {"method": "POST", "url": "https://api.anthropic.com/v1/messages",
           "body": {"model": MODEL, "max_tokens": 2000, "speed": "fast",
                    "messages": [{"role": "user", "content": "Otters, quickly."}]}}


def _sse(usage: dict[str, Any]) -> str:
    events = [{"type": "message_start", "message": {"id": "m", "model": MODEL, "content": [], "usage": {
                  **{k: v for k, v in usage.items() if k != "output_tokens"}, "output_tokens": 1}}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Otters."}},
              {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"output_tokens": usage["output_tokens"], **({"speed": usage["speed"]} if "speed" in usage else {})}},
              {"type": "message_stop"}]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def _want(speed: str | None) -> Any:
    usage = genai_prices.Usage(input_tokens=4200, output_tokens=800, cache_read_tokens=3000)
    return genai_prices.calc_price(usage, MODEL, provider_id="anthropic", genai_request_timestamp=NOW,
                                   price_context={"speed": speed} if speed else None).total_price


ANSWERS = [
    ("json", {"status_code": 200, "headers": {"content-type": "application/json"},
              "body": {"id": "m", "type": "message", "model": MODEL, "content": [{"type": "text", "text": "Otters."}],
                       "usage": USAGE}}, "fast"),
    ("stream", {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": _sse(USAGE)}, "fast"),
    ("standard", {"status_code": 200, "headers": {"content-type": "application/json"},
                  "body": {"id": "m", "type": "message", "model": MODEL, "content": [],
                           "usage": {**USAGE, "speed": "standard"}}}, None),
]


@pytest.mark.parametrize(("answer", "speed"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS])
def test_fast_mode_is_priced_at_its_own_price(answer: dict[str, Any], speed: str | None) -> None:
    ai = classify(REQUEST)
    usage = extract_usage(ai, answer)
    cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW)
    assert cost.usd == _want(speed)
    assert _want("fast") > _want(None)  # the variant is dearer: not the standard price


def test_an_overflowing_fast_stream_keeps_its_speed() -> None:
    acc = StreamUsage("anthropic")
    acc.feed(_sse(USAGE))
    back = extract_usage(classify(REQUEST), {"status_code": 200, "headers": {}, "body": usage_body(acc, "anthropic")})
    assert back.service_tier == "fast"
    assert PriceBook().cost("anthropic", MODEL, back, at=NOW).usd == _want("fast")
