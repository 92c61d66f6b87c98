"""xAI says what each request cost: ``usage.cost_in_usd_ticks`` (1e-10 USD), "the actual amount
billed ... inclusive of all token costs and server-side tool invocation costs" (docs.x.ai,
"Cost Tracking"), in chat completions, the Responses API and their streams. ``xai`` is priced
from it as OpenRouter and Perplexity are from theirs (``prices.REPORTED_COST``). Before
(payloads19), xAI was priced from the tokens by genai-prices, which knows nothing of the
server-side tools: the recorded grok-4.3 answer below (three X searches) cost $0.0168319 there,
$0.0318319 billed (genai-prices' tokens + 3 x $5 per 1,000 calls, to the tick): 47% under.

Provenance: the Responses usage object is a real grok-4.3 answer's, published in a public
repository's page of X-search dumps (trimmed to the usage); the chat example is xAI's own
("cost_in_usd_ticks": 37756000 cost $0.0038, docs.x.ai Cost Tracking)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage

NOW = datetime(2026, 11, 1, tzinfo=UTC)
RESPONSES_USAGE = {
    "input_tokens": 9212, "input_tokens_details": {"cached_tokens": 3072}, "output_tokens": 3417,
    "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12629, "num_sources_used": 0,
    "num_server_side_tools_used": 3, "cost_in_usd_ticks": 318319000,
    "server_side_tool_usage_details": {"web_search_calls": 0, "x_search_calls": 3, "code_interpreter_calls": 0,
                                       "file_search_calls": 0, "mcp_calls": 0, "document_search_calls": 0,
                                       "image_generation_calls": 0},
    "context_details": {"input_tokens": 7622, "output_tokens": 3219}}
CHAT_USAGE = {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300,
              "prompt_tokens_details": {"text_tokens": 2000, "audio_tokens": 0, "image_tokens": 0, "cached_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0}, "num_sources_used": 0,
              "cost_in_usd_ticks": 37756000}


def _request(path: str, model: str, stream: bool = False, host: str = "api.x.ai") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "stream": stream}
    body.update({"input": "Search X for otters"} if path.endswith("responses") else
                {"messages": [{"role": "user", "content": "Tell me about otters"}]})
    return {"method": "POST", "url": f"https://{host}{path}", "headers": {"content-type": "application/json"},
            "body": body}


def _responses(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": {
        "id": "f2449d2e", "object": "response", "model": model, "status": "completed", "usage": usage,
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Posts..."}]}]}}


def _chat(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": {
        "id": "c1", "object": "chat.completion", "model": model, "usage": usage,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Otters..."}, "finish_reason": "stop"}]}}


def _chat_stream(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    chunks = [{"id": "c1", "model": model, "choices": [{"index": 0, "delta": {"content": "Otters..."}}]},
              {"id": "c1", "model": model, "choices": [], "usage": usage}]
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


ROWS = [  # (id, request, answer, the cost, its source)
    ("responses, X searches", _request("/v1/responses", "grok-4.3"), _responses("grok-4.3", RESPONSES_USAGE),
     Decimal("0.0318319"), "provider"),
    ("chat completions", _request("/v1/chat/completions", "grok-4"), _chat("grok-4", CHAT_USAGE),
     Decimal("0.0037756"), "provider"),
    ("chat stream's last chunk", _request("/v1/chat/completions", "grok-4", True), _chat_stream("grok-4", CHAT_USAGE),
     Decimal("0.0037756"), "provider"),
    ("ticks as a whole float", _request("/v1/chat/completions", "grok-4"),
     _chat("grok-4", {**CHAT_USAGE, "cost_in_usd_ticks": 37756000.0}), Decimal("0.0037756"), "provider"),
    # not a count of ticks: priced from the tokens (grok-4: 2000 * $3 + 300 * $15 per MTok)
    ("ticks that are no number", _request("/v1/chat/completions", "grok-4"),
     _chat("grok-4", {**CHAT_USAGE, "cost_in_usd_ticks": "37756000"}), Decimal("0.0105"), "genai-prices"),
    ("negative ticks", _request("/v1/chat/completions", "grok-4"),
     _chat("grok-4", {**CHAT_USAGE, "cost_in_usd_ticks": -1}), Decimal("0.0105"), "genai-prices"),
    # another provider's ticks are not trusted (its meaning unknown): genai-prices' gpt-4o price
    ("an OpenAI answer naming ticks", _request("/v1/chat/completions", "gpt-4o", host="api.openai.com"),
     _chat("gpt-4o", CHAT_USAGE), Decimal("0.008"), "genai-prices"),
]


@pytest.mark.parametrize(("request_", "answer", "usd", "source"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_xai_is_priced_from_what_it_says_it_charged(request_: dict[str, Any], answer: dict[str, Any], usd: Decimal,
                                                     source: str) -> None:
    ai = classify(request_)
    usage = extract_usage(ai, answer)
    assert usage.source == "provider"
    cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW)
    assert (cost.usd, cost.source) == (usd, source)


def test_the_tokens_genai_prices_sees_miss_the_tool_calls() -> None:
    """The same answer priced from its tokens alone: what xAI's figure adds is its three calls."""
    ai = classify(_request("/v1/responses", "grok-4.3"))
    usage = extract_usage(ai, _responses("grok-4.3", RESPONSES_USAGE))
    tokens = PriceBook(use_reported=False).cost(ai.provider, usage.model, usage, at=NOW)
    assert tokens.usd == Decimal("0.0168319") and Decimal("0.0318319") - tokens.usd == 3 * Decimal("0.005")


# payloads20: xAI names its ticks in the usage of every inference answer ("chat completions,
# Responses API, image generation, and video generation responses", docs.x.ai Cost Tracking: an
# image at 200000000 ticks cost $0.02); its Anthropic-compatible `/v1/messages` answers in
# Anthropic's shape. Before, those two shapes were priced from the tokens (the tools missed) or
# had no price at all (an image: no genai-prices price, its usage an estimate of the prompt).
MESSAGES_USAGE = {"input_tokens": 2000, "output_tokens": 300, "cost_in_usd_ticks": 37756000}


def _messages(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "usage": usage,
        "content": [{"type": "text", "text": "Otters..."}], "stop_reason": "end_turn"}}


def _messages_stream(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    events = [("message_start", {"type": "message_start", "message": {
                  "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
                  "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}}),
              ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "Otters..."}}),
              ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                 "usage": {k: v for k, v in usage.items() if k != "input_tokens"}}),
              ("message_stop", {"type": "message_stop"})]
    text = "".join(f"event: {name}\ndata: {json.dumps(e)}\n\n" for name, e in events)
    return {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "sse": text}


def _messages_request(stream: bool = False) -> dict[str, Any]:
    return {"method": "POST", "url": "https://api.x.ai/v1/messages", "headers": {"content-type": "application/json"},
            "body": {"model": "grok-4", "max_tokens": 500, "stream": stream,
                     "messages": [{"role": "user", "content": "Tell me about otters"}]}}


IMAGE_REQUEST = {"method": "POST", "url": "https://api.x.ai/v1/images/generations",
                 "headers": {"content-type": "application/json"}, "body": {"model": "grok-imagine-image", "prompt": "an otter"}}
IMAGE = {"status_code": 200, "headers": {"content-type": "application/json"},
         "body": {"data": [{"url": "https://imgen.x.ai/1.jpg"}], "usage": {"cost_in_usd_ticks": 200000000}}}

MORE_ROWS = [  # (id, request, answer, the cost, its source, the usage's source)
    ("anthropic-compatible messages", _messages_request(), _messages("grok-4", MESSAGES_USAGE),
     Decimal("0.0037756"), "provider", "provider"),
    ("anthropic-compatible stream's message_delta", _messages_request(True), _messages_stream("grok-4", MESSAGES_USAGE),
     Decimal("0.0037756"), "provider", "provider"),
    ("image generation: ticks and no tokens", IMAGE_REQUEST, IMAGE, Decimal("0.02"), "provider", "estimate"),
    # ticks that are no count of ticks: the tokens priced, the usage still trusted
    ("anthropic-compatible, ticks no number", _messages_request(),
     _messages("grok-4", {**MESSAGES_USAGE, "cost_in_usd_ticks": "37756000"}), Decimal("0.0105"), "genai-prices",
     "provider"),
    # another label's ticks in Anthropic's shape are not trusted: Anthropic's own price
    ("anthropic's answer naming ticks", {**_messages_request(), "url": "https://api.anthropic.com/v1/messages",
                                         "body": {**_messages_request()["body"], "model": "claude-sonnet-4-5"}},
     _messages("claude-sonnet-4-5", MESSAGES_USAGE), Decimal("0.0105"), "genai-prices", "provider"),
]


@pytest.mark.parametrize(("request_", "answer", "usd", "source", "usage_source"), [r[1:] for r in MORE_ROWS],
                         ids=[r[0] for r in MORE_ROWS])
def test_xai_ticks_in_its_other_shapes(request_: dict[str, Any], answer: dict[str, Any], usd: Decimal, source: str,
                                       usage_source: str) -> None:
    ai = classify(request_)
    usage = extract_usage(ai, answer)
    assert usage.source == usage_source
    cost = PriceBook().cost(ai.provider, usage.model or ai.model, usage, at=NOW)
    assert (cost.usd, cost.source) == (usd, source)
