"""The cost a provider reports (``usage.cost``: OpenRouter, Perplexity) is the request's cost
for those providers only, when it is a finite number from 0 to $1M; anything else is priced
from the tokens, and an operator's override still wins (docs/providers.md, "How cost is
computed")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook
from aigw_policy.providers.billed import reported_cost
from aigw_policy.providers.usage_openai import openai_usage

BASE = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}


@pytest.mark.parametrize(("extra", "want"), [
    ({"cost": 0.0125}, "0.0125"),
    ({"cost": 0}, "0"),  # a free model (`:free`): $0 is what it cost
    ({"cost": 1}, "1"),
    ({"cost": 0.01, "is_byok": True, "cost_details": {"upstream_inference_cost": 0.2}}, "0.21"),
    ({"cost": 0.01, "is_byok": True, "cost_details": {"upstream_inference_cost": None}}, "0.01"),
    ({"cost": 0.01, "is_byok": False, "cost_details": {"upstream_inference_cost": 0.2}}, "0.01"),  # not on your key
    ({"cost": {"input_tokens_cost": 0.1, "request_cost": 0.005, "total_cost": 0.105}}, "0.105"),  # Perplexity
    ({"cost": "0.01"}, None),
    ({"cost": True}, None),
    ({"cost": -0.01}, None),
    ({"cost": float("nan")}, None),
    ({"cost": float("inf")}, None),
    ({"cost": 1e7}, None),
    ({"cost": [0.01]}, None),
    ({"cost": {"total": 0.1}}, None),  # no total_cost
    ({"cost": 0.01, "is_byok": True, "cost_details": {"upstream_inference_cost": "x"}}, None),  # unreadable: not half
])
def test_what_a_usage_object_reports(extra: dict[str, Any], want: str | None) -> None:
    u = {**BASE, **extra}
    got = reported_cost(u)
    assert got == (None if want is None else Decimal(want))
    usage = openai_usage(u)
    assert usage is not None and usage.reported_usd == got and (usage.input_tokens, usage.output_tokens) == (100, 10)


REPORTED = openai_usage({**BASE, "cost": 0.0125})


@pytest.mark.parametrize(("provider", "model", "source"), [
    ("openrouter", "openai/gpt-4o", "provider"),
    ("perplexity", "sonar", "provider"),
    ("openai", "gpt-4o", "genai-prices"),  # OpenAI names no cost: one there is not OpenAI's
    ("openai_compatible", "my-model", "unknown"),  # a self-hosted server's `cost`: its meaning unknown
    ("vllm", "llama", "unknown"),
])
def test_only_the_providers_that_bill_so_are_priced_from_it(provider: str, model: str, source: str) -> None:
    assert REPORTED is not None
    cost = PriceBook().cost(provider, model, REPORTED)
    assert cost.source == source
    assert (cost.usd == Decimal("0.0125")) is (source == "provider")


def test_an_override_wins_over_the_reported_cost() -> None:
    assert REPORTED is not None
    book = PriceBook.from_mapping({"openrouter/*": {"input": 1, "output": 2}})
    cost = book.cost("openrouter", "openai/gpt-4o", REPORTED)
    assert (cost.source, cost.usd) == ("override", Decimal(100 + 20) / 1_000_000)


def test_a_book_can_refuse_the_reported_cost() -> None:
    """One price source for every provider, for who wants it: genai-prices' list."""
    assert REPORTED is not None
    cost = PriceBook(use_reported=False).cost("openrouter", "openai/gpt-4o", REPORTED)
    assert cost.source == "genai-prices" and cost.usd != Decimal("0.0125")
