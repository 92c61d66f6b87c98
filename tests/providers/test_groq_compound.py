"""Groq's compound systems (``groq/compound``, ``groq/compound-mini``) run other models and name
each with its counts in ``usage_breakdown: {models: [{model, usage}]}`` (a stream's last chunk:
``x_groq.usage_breakdown``; groq-python ``types/chat/chat_completion.py`` and
``chat_completion_chunk.py``); ``usage`` is their sum. The system has no price of its own
(genai-prices has none; Groq bills the models that ran): it is priced by its parts, each at its
Groq price, and charged once whatever the chunking or a repeated last chunk. Before (payloads22)
``usage_breakdown`` was not read: every compound answer cost "unknown", which stops a usd budget.

The bodies are shaped as groq-python's types say (no recorded compound answer was found: the
counts are made up); the prices are genai-prices' (``calc_price`` of each model, summed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import genai_prices
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import PriceBook, classify, extract_usage, stream_usage

NOW = datetime(2026, 11, 1, tzinfo=UTC)
REQUEST = {"method": "POST", "url": "https://api.groq.com/openai/v1/chat/completions",
           "headers": {"content-type": "application/json"},
           "body": {"model": "groq/compound", "messages": [{"role": "user", "content": "What happened in AI today?"}]}}
PARTS = [("openai/gpt-oss-120b", 3_912, 640), ("meta-llama/llama-4-scout-17b-16e-instruct", 1_208, 97)]
"""(model, prompt_tokens, completion_tokens) of each model the system ran."""


def _usage(inp: int, out: int) -> dict[str, Any]:
    return {"queue_time": 0.05, "prompt_tokens": inp, "prompt_time": 0.01, "completion_tokens": out,
            "completion_time": 0.4, "total_tokens": inp + out, "total_time": 0.41}


BREAKDOWN = {"models": [{"model": m, "usage": _usage(i, o)} for m, i, o in PARTS]}
TOTAL = (sum(i for _, i, _ in PARTS), sum(o for _, _, o in PARTS))


def _body(breakdown: object = BREAKDOWN) -> dict[str, Any]:
    return {"id": "chatcmpl-5a2e", "object": "chat.completion", "created": 1777646404, "model": "groq/compound",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Three things happened.",
                                     "executed_tools": [{"index": 0, "type": "search", "arguments": "{}"}]}}],
            "service_tier": "on_demand", "system_fingerprint": None, "usage": _usage(*TOTAL),
            "usage_breakdown": breakdown, "x_groq": {"id": "req_01k8"}}


def _stream(repeat_last: bool = False) -> bytes:
    base = {"id": "chatcmpl-5a2e", "object": "chat.completion.chunk", "created": 1777646404,
            "model": "groq/compound", "service_tier": "on_demand"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
               "x_groq": {"id": "req_01k8"}},
              {**base, "choices": [{"index": 0, "delta": {"content": "Three things happened."}}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "x_groq": {"id": "req_01k8", "usage": _usage(*TOTAL), "usage_breakdown": BREAKDOWN}}]
    if repeat_last:  # a proxy that repeats the last chunk, without Groq's extension
        chunks.append({**base, "choices": [], "usage": _usage(*TOTAL)})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _parts_price() -> Any:
    return sum(genai_prices.calc_price(genai_prices.Usage(input_tokens=i, output_tokens=o), m, provider_id="groq",
                                       genai_request_timestamp=NOW).total_price for m, i, o in PARTS)


def test_a_compound_answer_is_priced_by_the_models_it_ran() -> None:
    ai = classify(REQUEST)
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "body": _body()})
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (*TOTAL, "provider")
    assert [m for m, _ in usage.other_models] == [m for m, _, _ in PARTS] and usage.by_parts
    cost = PriceBook().cost(ai.provider, usage.model, usage, at=NOW)
    assert cost.usd == _parts_price() and cost.usd > 0 and cost.reason is None


def test_an_override_of_the_system_prices_its_counts_not_its_parts_too() -> None:
    ai = classify(REQUEST)
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "body": _body()})
    cost = PriceBook.from_mapping({"groq/compound": {"input": 1, "output": 1}}).cost("groq", "groq/compound", usage)
    assert (cost.source, cost.usd * 10**6) == ("override", sum(TOTAL))


def test_a_plain_answer_and_a_bad_breakdown_are_not_priced_by_parts() -> None:
    ai = classify(REQUEST)
    plain = extract_usage(ai, {"status_code": 200, "headers": {}, "body": _body(None)})
    assert not plain.by_parts and not plain.other_models
    bad = extract_usage(ai, {"status_code": 200, "headers": {},
                             "body": _body({"models": [{"model": "openai/gpt-oss-120b", "usage": {"x": 1}}]})})
    assert not bad.by_parts and any("usage_breakdown" in n for n in bad.notes)
    assert PriceBook().cost("groq", bad.model, bad, at=NOW).usd is None  # the system's own price: none known


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 10**5), max_size=30), repeat=st.booleans())
def test_a_compound_stream_is_charged_once_under_any_chunking(cuts: list[int], repeat: bool) -> None:
    ai = classify({**REQUEST, "body": {**REQUEST["body"], "stream": True}})
    data = _stream(repeat)
    points = sorted({c % (len(data) + 1) for c in cuts})
    acc = stream_usage(ai)
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        acc.feed(data[a:b])
    usage = acc.finish()
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (*TOTAL, "provider")
    assert usage.by_parts and [m for m, _ in usage.other_models] == [m for m, _, _ in PARTS]
    assert PriceBook().cost("groq", usage.model, usage, at=NOW).usd == _parts_price()


def test_a_part_without_a_price_makes_the_cost_unknown_and_names_it() -> None:
    ai = classify(REQUEST)
    breakdown = {"models": [*BREAKDOWN["models"], {"model": "acme/unpriced-1", "usage": _usage(10, 1)}]}
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "body": _body(breakdown)})
    cost = PriceBook().cost("groq", usage.model, usage, at=NOW)
    assert cost.usd is None and cost.reason is not None and "a model it ran `acme/unpriced-1`" in cost.reason
    assert "usage below its usage_breakdown's sum: the sum counted" in usage.notes  # 10 more input than `usage` says
