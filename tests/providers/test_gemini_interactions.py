"""Gemini's Interactions API (``POST /v1beta/interactions``: ``input``, ``system_instruction``,
``generation_config``, flat ``tools``; its answer's ``usage`` names Gemini's counts
``total_input_tokens`` ... ``total_tokens``; its stream's ``interaction.completed`` event
carries them). Before (payloads18), its ``input`` made it an ``embeddings`` call: no output
reserved or capped, and the answer's ``total_tokens`` (thoughts and output included) was read
as input, priced at the input price (~8x under for a thinking model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.gateway.effects import set_max_tokens
from aigw_policy.providers import PriceBook, classify, extract_usage
from aigw_policy.providers.classify import inference_endpoint

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
URL = "https://generativelanguage.googleapis.com/v1beta/interactions"
BODY = {"model": "gemini-2.5-flash", "system_instruction": "Be brief.", "generation_config": {"max_output_tokens": 500},
        "input": [{"type": "user_input", "content": [{"type": "text", "text": "Hello there friend"}]}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
                  {"type": "google_search"}]}
USAGE = {"total_input_tokens": 1000, "total_cached_tokens": 800, "total_output_tokens": 20, "total_thought_tokens": 100,
         "total_tool_use_tokens": 30, "total_tokens": 1150,
         "input_tokens_by_modality": [{"modality": "text", "tokens": 1000}]}
# gemini-2.5-flash: $0.30 input, $0.03 cache read, $2.50 output per MTok:
# (1030 - 800) * 0.30 + 800 * 0.03 + 120 * 2.50 = 69 + 24 + 300 = 393 / 1e6
USD = Decimal("0.000393")
WANT = {"input_tokens": 1030, "output_tokens": 120, "cached_input_tokens": 800, "reasoning_tokens": 100,
        "source": "provider", "model": "gemini-2.5-flash"}


def _request(**extra: Any) -> dict[str, Any]:
    return {"method": "POST", "url": URL, "headers": {"content-type": "application/json"}, "body": {**BODY, **extra}}


def _sse(*events: dict[str, Any]) -> dict[str, Any]:
    text = "".join(f"event: {e['event_type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


CREATED = {"event_type": "interaction.created", "interaction": {"id": "v1_a", "status": "in_progress"}}
DELTA = {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": "Hi there, friend. " * 20}}
DONE = {"event_type": "interaction.completed",
        "interaction": {"id": "v1_a", "status": "completed", "model": "gemini-2.5-flash", "usage": USAGE}}
ERROR = {"event_type": "error", "error": {"code": "RESOURCE_EXHAUSTED", "message": "quota for user@example.com"}}
JSON_ANSWER = {"status_code": 200, "headers": {"content-type": "application/json"},
               "body": {"id": "v1_a", "status": "completed", "model": "gemini-2.5-flash", "usage": USAGE,
                        "steps": [{"type": "model_output", "content": [{"type": "text", "text": "Hi."}]}]}}

# grounded with Google Search: `usage.grounding_tool_count` (google-genai `_gaos/types/interactions/usage.py`,
# `groundingtoolcount.py`) names its searches; gemini-2.5-flash bills the grounded prompt ($35 per 1,000),
# Gemini 3 each search ($14 per 1,000). Before (payloads19) not read: the searches cost nothing.
GROUNDED = {**USAGE, "grounding_tool_count": [{"type": "google_search", "count": 3}, {"type": "retrieval", "count": 1}]}
GROUNDED_JSON = {**JSON_ANSWER, "body": {**JSON_ANSWER["body"], "usage": GROUNDED}}
GROUNDED_DONE = {**DONE, "interaction": {**DONE["interaction"], "usage": GROUNDED}}

ROWS = [  # (id, stream, answer, the usage fields, the cost or None, a note that must be there)
    ("grounded", False, GROUNDED_JSON, {**WANT, "units": (("web_searches", 1),)}, USD + Decimal("0.035"), None),
    ("grounded, streamed", True, _sse(CREATED, DELTA, GROUNDED_DONE), {**WANT, "units": (("web_searches", 1),)},
     USD + Decimal("0.035"), None),
    ("grounded, a count that is not one", False,
     {**JSON_ANSWER, "body": {**JSON_ANSWER["body"], "usage": {**USAGE, "grounding_tool_count": [
         {"type": "google_search", "count": "3"}, "google_search"]}}},
     {**WANT, "units": (("web_searches", 1),)}, None, "grounding_tool_count is not a list of counts: left out"),
    ("json", False, JSON_ANSWER, WANT, USD, None),
    ("stream", True, _sse(CREATED, DELTA, DELTA, DONE), WANT, USD, None),
    ("stream-cut-before-completed", True, _sse(CREATED, DELTA),
     {"output_tokens": 90, "source": "estimate"}, None, "stream ended without usage (cut off?)"),
    ("stream-error-mid-way", True, _sse(CREATED, DELTA, ERROR),
     {"output_tokens": 90, "source": "estimate"}, None, "stream reported an error: RESOURCE_EXHAUSTED"),
    ("usage-bad-count", False, {**JSON_ANSWER, "body": {**JSON_ANSWER["body"], "usage": {**USAGE,
                                                                                     "total_output_tokens": -4}}},
     {"output_tokens": 1, "source": "estimate"}, None, None),  # ("Hi." of its steps)
]


def test_an_interaction_is_a_gemini_chat_with_its_own_fields() -> None:
    ai = classify(_request(stream=True))
    assert (ai.provider, ai.api, ai.operation, ai.model, ai.stream, ai.max_output_tokens) == (
        "gemini", "gemini", "chat", "gemini-2.5-flash", True, 500)
    assert ai.prompt == "Be brief.\nHello there friend"
    assert ai.tools == ("get_weather", "google_search")
    assert classify({**_request(), "body": {"model": "gemini-2.5-flash", "input": "Tell me a joke"}}).prompt == \
        "Tell me a joke"
    # an inference API (the gateway lends it the operator's key), not a read of a stored one
    assert (inference_endpoint("POST", "/v1beta/interactions"), inference_endpoint("GET", "/v1beta/interactions/v1_a"),
            inference_endpoint("POST", "/v1beta/interactions/v1_a/cancel")) == (True, False, False)


@pytest.mark.parametrize(("stream", "answer", "want", "usd", "note"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_usage_of_an_interaction(stream: bool, answer: dict[str, Any], want: dict[str, Any],
                                     usd: Decimal | None, note: str | None) -> None:
    ai = classify(_request(stream=stream))
    usage = extract_usage(ai, answer)
    assert {name: getattr(usage, name) for name in want} == want
    if note is not None:
        assert note in usage.notes
    assert not any("user@example.com" in n for n in usage.notes)
    if usd is not None:
        assert PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW).usd == usd


def test_a_max_tokens_clamp_writes_the_interactions_field() -> None:
    """In ``generation_config`` (snake_case, as the API names it), whether the body has one or not."""
    for body, want in (
        ({"model": "m", "input": "hi"}, {"model": "m", "input": "hi", "generation_config": {"max_output_tokens": 64}}),
        ({"generation_config": {"temperature": 1}}, {"generation_config": {"temperature": 1, "max_output_tokens": 64}}),
    ):
        set_max_tokens(body, "gemini", "chat", "/v1beta/interactions", 64, "gemini")
        assert body == want


def test_gemini_3_bills_each_search_of_an_interaction() -> None:
    ai = classify({**_request(), "body": {**BODY, "model": "gemini-3-pro-preview"}})
    answer = {**GROUNDED_JSON, "body": {**GROUNDED_JSON["body"], "model": "gemini-3-pro-preview"}}
    usage = extract_usage(ai, answer)
    assert usage.units == (("web_searches", 3),)
    plain = extract_usage(ai, {**answer, "body": {**answer["body"], "usage": USAGE}})
    book = PriceBook()
    assert book.cost(ai.provider, usage.model, usage, at=NOW).usd - book.cost(  # type: ignore[operator]
        ai.provider, plain.model, plain, at=NOW).usd == Decimal("0.042")
