"""A price plan (providers/price_plan.py) gives genai-prices' own cost, to the last digit of the
``Decimal``, for every price in the library's catalog and every usage shape; where it cannot,
the library's call answers (with its answer or its error), and the plan is seen to be used."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.types import TieredPrices
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import Usage, price_plan, prices
from aigw_policy.providers.prices import LibraryPrices

SNAPSHOT = data_snapshot.get_snapshot()
MODELS = [(p, m) for p in SNAPSHOT.providers for m in p.models]


def _model_prices(model: Any) -> list[Any]:
    """Every price a model can be in force with (each conditional price's, or its one)."""
    return [c.prices for c in model.prices] if isinstance(model.prices, list) else [model.prices]


Counts = tuple[int, int, int, int, int]


def _library(price: Any, values: Counts) -> tuple[str, str, str] | None:
    """The library's own ``ModelPrice.calc_price``, as exact strings; None when it refuses."""
    i, o, r, w, h = values
    usage = genai_prices.Usage(input_tokens=i, output_tokens=o, cache_read_tokens=r or None,
                               cache_write_tokens=w or None, cache_write_1h_tokens=h or None)
    try:
        got = price.calc_price(usage)
    except Exception:  # noqa: BLE001 - the library refuses this usage for this price
        return None
    return str(got["total_price"]), str(got["input_price"]), str(got["output_price"])


def _planned(provider: Any, model: Any, price: Any, values: Counts) -> tuple[str, str, str] | None:
    plan = price_plan.plan_for(provider, model, price, values)
    got = plan.cost(values) if plan is not None else None
    return None if got is None else (str(got[0]), str(got[1]), str(got[2]))


def _tier_edges(price: Any) -> list[int]:
    starts = {t.start for v in price.__dict__.values() if isinstance(v, TieredPrices) for t in v.tiers}
    return sorted({s + d for s in starts for d in (-1, 0, 1) if s + d >= 0})


SHAPES = list(itertools.product((0, 1234), (0, 567), (0, 100), (0, 50), (0, 20))) + [
    (1234, 567, r, 50, h) for r in (0, 100) for h in (50, 51)]
"""Every shape (which counts are above zero), cached counts within the input, and not (input 0);
1-hour cache writes within the writes, all of them (Anthropic's ``ttl: 1h`` alone), above them
and without them (the library refuses those two)."""


def test_available_with_the_installed_library() -> None:
    """The internals the plans are made of are there: else every cost is the slow call."""
    assert price_plan.AVAILABLE, genai_prices.__version__


def test_every_price_in_the_catalog_costs_what_the_library_says() -> None:
    """Each usage either costs by its plan exactly what the library's call says, or has no
    plan because the library refuses it too (or bills it by seconds: groq's whisper)."""
    covered = 0
    for provider, model in MODELS:
        whisper = provider.id == "groq" and model.id in price_plan._WHISPER
        for price in _model_prices(model):
            usages = SHAPES + [(n, 321, 0, 0, 0) for n in _tier_edges(price)] + [
                (n, 321, 0, 300, 200) for n in _tier_edges(price)] + [
                (5000, 10, 4000, 1000, 0), (5000, 10, 4000, 1001, 0), (5000, 10, 4000, 1000, 1000)]
            for values in usages:
                planned = _planned(provider, model, price, values)
                if planned is None:
                    assert whisper or _library(price, values) is None, (provider.id, model.id, values)
                    continue
                covered += 1
                assert planned == _library(price, values), (provider.id, model.id, values)
    assert covered > 80_000  # the catalog's ~2,600 prices, most shapes each


@pytest.mark.parametrize(("provider", "model"), [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-6"),
                                                 ("google", "gemini-2.5-pro"), ("azure", "gpt-4o")])
def test_the_usual_models_are_priced_by_their_plan(provider: str, model: str, monkeypatch: Any) -> None:
    calls: list[str] = []
    real = prices._library_cost
    monkeypatch.setattr(prices, "_library_cost", lambda *a: (calls.append(a[2]), real(*a))[1])
    book = LibraryPrices()
    at = datetime(2026, 11, 18, tzinfo=UTC)
    for n in range(50):  # 50 new token counts: 50 misses of the cost cache
        cost = book.cost(provider, model, Usage.of(100 + n, 20 + n, cached_input_tokens=n), at)
        assert cost.known and cost.source == "genai-prices"
    assert calls == []


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-opus-4-1", "claude-3-5-haiku-latest"])
def test_one_hour_cache_writes_are_priced_by_their_plan_at_their_price(model: str, monkeypatch: Any) -> None:
    """Anthropic's models price 1-hour writes apart (2x input against 1.25x): a plan covers
    usages with them, and each costs what the library says, ``(1h price - 5m price) x 1h writes``
    more than the same writes all at five minutes."""
    calls: list[str] = []
    real = prices._library_cost
    monkeypatch.setattr(prices, "_library_cost", lambda *a: (calls.append(a[2]), real(*a))[1])
    at = datetime(2026, 11, 18, tzinfo=UTC)
    price = next(m for p, m in MODELS if p.id == "anthropic" and m.id == model).get_prices(at)
    step = (price.cache_write_1h_mtok - price.cache_write_mtok) / 1_000_000
    assert step > 0
    book = LibraryPrices()
    for n in range(1, 30):
        five = Usage.of(1000 + n, 20, cached_input_tokens=n, cache_creation_input_tokens=3 * n)
        both = Usage.of(1000 + n, 20, cached_input_tokens=n, cache_creation_input_tokens=3 * n,
                        cache_creation_1h_input_tokens=n)
        got = book.cost("anthropic", model, both, at)
        assert got.usd == book.cost("anthropic", model, five, at).usd + n * step
        assert (str(got.usd), str(got.input_usd)) == _library(price, (1000 + n, 20, n, 3 * n, n))[:2]  # type: ignore[index]
    assert calls == []


def test_a_refused_usage_is_the_librarys_answer() -> None:
    """Cached tokens above the input: the library refuses the usage; so does the cost."""
    at = datetime(2026, 11, 18, tzinfo=UTC)
    usage = Usage.of(10, 5, cached_input_tokens=50)
    with_plans = LibraryPrices().cost("openai", "gpt-4o", usage, at)
    price_plan.PLANS = False
    try:
        without = LibraryPrices().cost("openai", "gpt-4o", usage, at)
    finally:
        price_plan.PLANS = True
    assert with_plans == without and not with_plans.known


WHEN = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
COUNT = st.one_of(st.just(0), st.integers(1, 300), st.integers(0, 3_000_000))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODELS), WHEN, COUNT, COUNT, COUNT, COUNT, COUNT)
def test_any_model_any_time_any_usage_costs_the_same_with_and_without_plans(
        found: tuple[Any, Any], at: datetime, i: int, o: int, r: int, w: int, h: int) -> None:
    provider, model = found
    usage = Usage.of(i, o, cached_input_tokens=r, cache_creation_input_tokens=w, cache_creation_1h_input_tokens=h)
    with_plans = LibraryPrices().cost(provider.id, model.id, usage, at)
    price_plan.PLANS = False
    try:
        without = LibraryPrices().cost(provider.id, model.id, usage, at)
    finally:
        price_plan.PLANS = True
    assert with_plans == without
    assert str(with_plans.usd) == str(without.usd)
    assert (str(with_plans.input_usd), str(with_plans.output_usd)) == (str(without.input_usd), str(without.output_usd))


def test_the_plans_are_bounded_and_answer_for_their_own_price() -> None:
    provider, model = next((p, m) for p, m in MODELS if p.id == "openai" and m.id == "gpt-4o")
    price = _model_prices(model)[-1]
    price_plan._plans.clear()
    for n in range(price_plan.MAX_PLANS):  # full of other prices' plans (fakes, of ids no object has)
        price_plan._plans[(-n - 1, 0)] = (object(), None)
    plan = price_plan.plan_for(provider, model, price, (10, 5, 0, 0, 0))
    assert plan is not None and len(price_plan._plans) == price_plan.MAX_PLANS
    assert (-1, 0) not in price_plan._plans  # the oldest went
    assert plan.cost((10, 5, 0, 0, 0)) == tuple(Decimal(x) for x in _library(price, (10, 5, 0, 0, 0)))  # type: ignore[union-attr]
    price_plan._plans.clear()
