"""The service tier an answer says it was served at, in every provider's spelling
(``data/tiers/answers.json``): Anthropic's ``usage.service_tier: priority`` (JSON and a
stream's ``message_start``), Bedrock's ``serviceTier: {type}`` (Converse, ConverseStream's
``metadata`` event, in AWS's binary event-stream framing) and InvokeModel's
``X-Amzn-Bedrock-Service-Tier`` header. A tier genai-prices has no price for is priced at the
standard price and ``Cost.reason`` says so (never silently); an override for
``model@tier`` prices it. Before (payloads21) neither provider's tier was read: a Priority
Tier answer was indistinguishable from a standard one, and nothing said its price was not its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage
from aigw_policy.providers.eventstream import encode_message

CASES = json.loads((Path(__file__).parent / "data" / "tiers" / "answers.json").read_text())["cases"]
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _response(case: dict[str, Any]) -> dict[str, Any]:
    response = dict(case["response"])
    events = response.pop("events", None)
    if events is not None:  # ConverseStream: AWS's binary event-stream framing
        response["body"] = b"".join(
            encode_message({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                           json.dumps(payload).encode()) for kind, payload in events)
    return response


def _usage(case: dict[str, Any]) -> tuple[Any, Any]:
    ai = classify(case["request"])
    return ai, extract_usage(ai, _response(case))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_tier_an_answer_names_is_read(case: dict[str, Any]) -> None:
    _, usage = _usage(case)
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (*case["tokens"], "provider")
    assert usage.service_tier == case["tier"]


@pytest.mark.parametrize("case", [c for c in CASES if c["tier"]], ids=[c["id"] for c in CASES if c["tier"]])
def test_a_tier_without_a_price_is_priced_standard_and_says_so(case: dict[str, Any]) -> None:
    import genai_prices

    ai, usage = _usage(case)
    model = usage.model or ai.model  # a Bedrock profile is served as itself (profiled)
    cost = PriceBook().cost(ai.provider, model, usage, at=NOW)
    standard = genai_prices.calc_price(genai_prices.Usage(input_tokens=usage.input_tokens,
                                                          output_tokens=usage.output_tokens), model,
                                       provider_id=case["provider_id"], genai_request_timestamp=NOW).total_price
    assert cost.usd == standard
    assert cost.reason is not None and f"no `{case['tier']}` price" in cost.reason


@pytest.mark.parametrize("case", [c for c in CASES if c["tier"]], ids=[c["id"] for c in CASES if c["tier"]])
def test_an_override_for_the_tier_prices_it(case: dict[str, Any]) -> None:
    ai, usage = _usage(case)
    model = usage.model or ai.model  # a Bedrock profile is served as itself (profiled)
    book = PriceBook.from_mapping({f"{ai.provider}/*@{case['tier']}": {"input": 1000, "output": 2000},
                                   "*": {"input": 1, "output": 2}})
    cost = book.cost(ai.provider, model, usage, at=NOW)
    inp, out = case["tokens"]
    assert (cost.source, cost.usd) == ("override", (inp * 1000 + out * 2000) / __import__("decimal").Decimal(10**6))
    plain = book.cost(ai.provider, model, type(usage).of(inp, out), at=NOW)  # the standard tier: the model's own
    assert plain.model == "*"


def test_a_tier_genai_prices_prices_keeps_its_price_and_no_reason() -> None:
    ai = classify({"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                   "body": {"model": "gpt-5", "messages": [{"role": "user", "content": "Hi"}]}})
    body = {"id": "c", "object": "chat.completion", "model": "gpt-5-2025-08-07", "service_tier": "flex",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "body": body})
    flex = PriceBook().cost("openai", usage.model, usage, at=NOW)
    standard = PriceBook().cost("openai", usage.model, type(usage).of(1000, 100), at=NOW)
    assert flex.reason is None and flex.usd is not None and standard.usd is not None and flex.usd < standard.usd


@pytest.mark.parametrize("case", [c for c in CASES if not c["tier"]], ids=[c["id"] for c in CASES if not c["tier"]])
def test_a_vendors_default_tier_is_priced_as_no_tier(case: dict[str, Any]) -> None:
    """A vendor's own name for its default tier (Groq's ``on_demand``, on every answer; Bedrock's
    ``default``, Anthropic's ``standard``) is no tier: its cost has no reason, as a plain answer's.
    Before payloads22, every Groq answer was priced "without its `on_demand` price"."""
    ai, usage = _usage(case)
    model = usage.model or ai.model  # a Bedrock profile is served as itself (profiled)
    cost = PriceBook().cost(ai.provider, model, usage, at=NOW)
    assert cost.usd is not None and cost.reason is None, cost
