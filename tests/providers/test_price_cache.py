"""PriceBook remembers genai-prices answers: each one is the library's own, for the price in
force at the request's time, and the caches stay within their bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest

from aigw_policy.providers import PriceBook, Usage
from aigw_policy.providers.prices import LibraryPrices

AT = datetime(2026, 6, 1, tzinfo=UTC)


def library(provider: str, model: str, usage: Usage, at: datetime) -> Decimal:
    return genai_prices.calc_price(
        genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                           cache_read_tokens=usage.cached_input_tokens or None,
                           cache_write_tokens=usage.cache_creation_input_tokens or None,
                           cache_write_1h_tokens=usage.cache_creation_1h_input_tokens or None),
        model, provider_id=provider, genai_request_timestamp=at).total_price


@pytest.mark.parametrize(("provider", "model"), [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"),
                                                 ("anthropic", "claude-sonnet-4-6"), ("gemini", "gemini-2.5-pro")])
def test_every_answer_is_the_librarys(provider: str, model: str) -> None:
    book = PriceBook()
    lib = {"gemini": "google"}.get(provider, provider)
    usages = [Usage.of(12, 9), Usage.of(300_000, 1000), Usage.of(1000, 10, cached_input_tokens=400), Usage.of(12, 9)]
    for usage in usages * 2:  # the second round answers from the cache
        cost = book.cost(provider, model, usage, at=AT)
        assert cost.source == "genai-prices"
        assert cost.usd == Decimal(library(lib, model, usage, AT))


def test_a_price_that_changed_is_chosen_by_the_requests_time() -> None:
    book = PriceBook()
    usage = Usage.of(300_000, 1000)
    before = book.cost("anthropic", "claude-opus-4-6", usage, at=datetime(2026, 1, 1, tzinfo=UTC))
    after = book.cost("anthropic", "claude-opus-4-6", usage, at=datetime(2026, 6, 1, tzinfo=UTC))
    assert before.usd != after.usd
    assert before.usd == Decimal(library("anthropic", "claude-opus-4-6", usage, datetime(2026, 1, 1, tzinfo=UTC)))
    assert book.cost("anthropic", "claude-opus-4-6", usage, at=datetime(2026, 1, 2, tzinfo=UTC)).usd == before.usd


def test_unknown_models_stay_unknown_and_the_caches_are_bounded() -> None:
    prices = LibraryPrices(max_models=3, max_costs=5)
    assert prices.cost("openai", "no-such-model", Usage.of(1, 1), AT).reason == \
        "no known price for `no-such-model` at `openai`"
    for n in range(20):
        assert prices.cost("openai", "gpt-4o", Usage.of(n + 1, n), AT).known
        prices.cost("openai", f"unknown-{n}", Usage.of(1, 1), AT)
    assert len(prices._models) <= 3
    assert len(prices._costs) <= 5


@pytest.mark.parametrize("spelling", [
    "claude-3-5-sonnet-{i}",  # found: genai-prices matches the prefix, whatever follows
    "no-such-model-{i}",  # not found
    "Claude-Sonnet-4-5-{i}",  # found, in another case
])
def test_names_a_client_makes_up_grow_nothing_past_the_bounds(spelling: str) -> None:
    """Model names are the clients' own: pricing 2,000 new ones keeps no more than the
    cache's bound, in this module or in genai-prices' lookup caches (which keep every name
    they are asked, found or not)."""
    import gc
    import tracemalloc

    prices = LibraryPrices(max_models=32, max_costs=32)
    usage = Usage.of(12, 9)
    for i in range(200):  # the bound is reached, the catalog loaded
        prices.cost("anthropic", spelling.format(i=-i), usage, AT)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            prices.cost("anthropic", spelling.format(i=i), usage, AT)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown:,} bytes kept for 2,000 names (bound: 32 models)"  # (here: 5-8 KiB; before: 400-660)
