"""Real payload classes whose cost is more than their token counts at the text price: counts a
provider bills at their own price (Anthropic's and the Responses API's searches, OpenAI's
audio tokens, Gemini's audio / image / video modalities) carried as ``Usage.units``, the
service tier an answer names, and the error an event names mid-stream. The fixtures are the
``data/spec/`` ones whose ``.expected.json`` has ``billing`` (also run through ``explain`` and
split anywhere by test_spec_payloads.py / test_payload_classes.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, Usage, classify, extract_usage, stream_usage

SPEC = Path(__file__).parent / "data" / "spec"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for exp in sorted(SPEC.glob("*/*.expected.json")):
        want = json.loads(exp.read_text())
        if "billing" in want:
            case = json.loads(exp.with_name(exp.name.replace(".expected", "")).read_text())
            out.append((f"{exp.parent.name}/{exp.name.split('.')[0]}", case, want["billing"]))
    return out


CASES = _cases()


def test_every_class_has_a_payload() -> None:
    units = {name for _, _, b in CASES for name in b.get("units", {})}
    assert {"web_searches", "input_audio_tokens", "output_audio_tokens", "cache_audio_read_tokens",
            "output_image_tokens"} <= units
    assert {b.get("service_tier") for _, _, b in CASES} >= {"flex", "priority"}
    assert sum(1 for _, _, b in CASES if "notes" in b) >= 3


@pytest.mark.parametrize(("name", "case", "billing"), CASES, ids=[c[0] for c in CASES])
def test_billed_apart(name: str, case: dict[str, Any], billing: dict[str, Any]) -> None:
    ai = classify(case["request"])
    usage = extract_usage(ai, case["response"])
    assert dict(usage.units) == billing.get("units", {})
    assert usage.service_tier == billing.get("service_tier")
    for note in billing.get("notes", []):
        assert any(n.startswith(note) for n in usage.notes), usage.notes
    sse = case["response"].get("sse")
    if sse is not None:  # the same whether the gateway reads the stream at once or as it passes
        acc = stream_usage(ai)
        for i in range(0, len(sse), 7):
            acc.feed(sse[i:i + 7])
        assert acc.finish() == usage


PRICED = [c for c in CASES if c[2].get("units") or c[2].get("service_tier")]


@pytest.mark.parametrize(("name", "case", "billing"), PRICED, ids=[c[0] for c in PRICED])
def test_what_is_billed_apart_changes_the_cost(name: str, case: dict[str, Any], billing: dict[str, Any]) -> None:
    """The cost read without them (text prices, the default tier) is another: the fixture's
    cost check (test_spec_payloads.py) could not pass if they were dropped."""
    ai = classify(case["request"])
    usage = extract_usage(ai, case["response"])
    book = PriceBook()
    model = usage.model or ai.model
    plain = Usage.of(usage.input_tokens, usage.output_tokens, cached_input_tokens=usage.cached_input_tokens,
                     cache_creation_input_tokens=usage.cache_creation_input_tokens,
                     reasoning_tokens=usage.reasoning_tokens, model=usage.model)
    billed, text = book.cost(ai.provider, model, usage, at=NOW), book.cost(ai.provider, model, plain, at=NOW)
    assert billed.known and text.known
    assert billed.usd != text.usd


def test_an_override_prices_them_as_text() -> None:
    """A price override has no audio or per-search price: the tokens are priced as text and
    the searches are not priced (said in docs/providers.md)."""
    usage = Usage.of(1000, 100, units=(("input_audio_tokens", 800), ("web_searches", 2)), service_tier="flex")
    cost = PriceBook.from_mapping({"m": {"input": 1, "output": 2}}).cost("openai", "m", usage)
    assert cost.usd == Decimal(1000 * 1 + 100 * 2) / 10**6


GEMINI = {"url": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
          "body": {"contents": [{"parts": [{"text": "hi"}]}]}}


@pytest.mark.parametrize(("metadata", "units"), [
    # a cached audio token is one of the prompt's audio tokens: more of them than the prompt's
    # (or a prompt without its breakdown) is left out, the rest priced as text, never unknown
    ({"promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}],
      "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 500}]}, {"input_audio_tokens": 100}),
    ({"cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 500}]}, {}),
    ({"promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 700}, {"modality": "VIDEO", "tokenCount": 400}]}, {}),
    ({"promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 600}, {"modality": "bogus", "tokenCount": 9},
                              {"modality": "IMAGE", "tokenCount": "x"}, "AUDIO"],
      "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 500}]},
     {"input_audio_tokens": 600, "cache_audio_read_tokens": 500}),
    # hostile entries (a modality that is no string, not even hashable) are left out, never raise
    ({"promptTokensDetails": [{"modality": ["AUDIO"], "tokenCount": 3}, {"modality": {"a": 1}}, None, 7],
      "cacheTokensDetails": {"modality": "AUDIO"}}, {}),
])
def test_gemini_breakdowns_that_do_not_add_up(metadata: dict[str, Any], units: dict[str, int]) -> None:
    body = {"usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 10, "cachedContentTokenCount": 800,
                              **metadata}}
    usage = extract_usage(classify(GEMINI), {"status_code": 200, "body": body})
    assert (usage.input_tokens, usage.cached_input_tokens, usage.source) == (1000, 800, "provider")
    assert dict(usage.units) == units
    assert PriceBook().cost("gemini", "gemini-2.5-flash", usage, at=NOW).known


def test_parts_the_library_cannot_reconcile_are_priced_as_text() -> None:
    """Half the prompt cached and 60% of it audio, with no breakdown of the cached part: for a
    model that prices cached audio apart (gpt-realtime) genai-prices refuses the usage; its
    totals are still priced, at the text prices, and the cost says so (never unknown)."""
    ai = classify({"url": "https://api.openai.com/v1/chat/completions", "body": {"model": "gpt-realtime", "messages": []}})
    usage = extract_usage(ai, {"status_code": 200, "body": {"model": "gpt-realtime", "usage": {
        "prompt_tokens": 1000, "completion_tokens": 100,
        "prompt_tokens_details": {"cached_tokens": 500, "audio_tokens": 600},
        "completion_tokens_details": {"audio_tokens": 50}}}})
    cost = PriceBook().cost("openai", "gpt-realtime", usage, at=NOW)
    text = PriceBook().cost("openai", "gpt-realtime", Usage.of(1000, 100, cached_input_tokens=500), at=NOW)
    assert (cost.usd, cost.reason) == (text.usd, "the parts billed apart do not add up: priced as text")
