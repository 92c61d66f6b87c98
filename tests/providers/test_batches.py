"""Batch creations whose requests are in the body (``data/batches/creations.json``: Anthropic's
Message Batches, Gemini's inline ``batchGenerateContent`` and ``asyncBatchEmbedContent``, in both
of proto3 JSON's spellings: google-genai sends ``inputConfig``) are classified as the sum of their
requests (each classified as if sent alone), and their creation is charged that input estimate
at genai-prices' batch price: a token or usd budget sees them. Their results are read later
(``GET``: no inference) and charged nothing. Before (payloads20): 0 tokens, no model, $0."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import PriceBook, classify, extract_usage
from aigw_policy.providers.batches import batch_requests

DATA = json.loads((Path(__file__).parent / "data" / "batches" / "creations.json").read_text())
CASES = DATA["cases"]
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 100000000, rate: 1h, bucket_key: [identity.team]}
"""


def test_the_cases_are_spelt_right() -> None:
    for case in CASES:
        assert set(case) == {"id", "inner", "model", "provider_id", "request", "answer"}, case.get("id")


def _inner(case: dict[str, Any]) -> list[Any]:
    url = case["request"]["url"]
    return [classify(one) for one in batch_requests(classify(case["request"]).api, url, urlsplit(url).path,
                                                      case["request"]["body"]) or []]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_batch_is_classified_as_its_requests(case: dict[str, Any]) -> None:
    ai = classify(case["request"])
    inner = _inner(case)
    assert len(inner) == case["inner"]
    assert ai.input_tokens == sum(a.input_tokens for a in inner)
    assert ai.model == case["model"]
    if inner:
        assert ai.input_tokens > 0 and all(a.operation in ("messages", "chat", "embeddings") for a in inner)


@pytest.mark.parametrize("case", [c for c in CASES if c["model"]], ids=[c["id"] for c in CASES if c["model"]])
def test_its_creation_costs_the_input_at_the_batch_price(case: dict[str, Any]) -> None:
    import genai_prices

    ai = classify(case["request"])
    usage = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "application/json"},
                               "body": case["answer"]})
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (ai.input_tokens, 0, "estimate")
    cost = PriceBook().cost(ai.provider, ai.model, usage, at=NOW)
    batch = genai_prices.calc_price(genai_prices.Usage(input_tokens=ai.input_tokens, output_tokens=0), case["model"],
                                    provider_id=case["provider_id"], genai_request_timestamp=NOW,
                                    price_context={"processing": "batch"}).total_price
    standard = genai_prices.calc_price(genai_prices.Usage(input_tokens=ai.input_tokens, output_tokens=0),
                                       case["model"], provider_id=case["provider_id"],
                                       genai_request_timestamp=NOW).total_price
    if batch == standard:  # no batch price known (gemini-embedding-001): the standard price, and it says so
        assert cost.usd == standard and cost.reason is not None and "no `batch` price" in cost.reason
    else:
        assert cost.usd == batch < standard


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_budget_sees_the_creation_and_not_the_reads(case: dict[str, Any]) -> None:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    engine.evaluate({"id": "c", "identity": {"team": "t"}, "request": case["request"]})
    engine.complete("c", {"status_code": 200, "headers": {"content-type": "application/json"}, "body": case["answer"]})
    read = {"method": "GET", "url": case["request"]["url"].split(":batch")[0] + "/" + "batch_1", "headers": {}}
    engine.evaluate({"id": "r", "identity": {"team": "t"}, "request": read})
    engine.complete("r", {"status_code": 200, "headers": {"content-type": "application/json"}, "body": case["answer"]})
    used = store.check([new_charge(spec, "t", 0.0, None)], time.time())[0].used
    if case["answer"].get("object") == "batch":  # OpenAI's file batch: its creation's reservation held until
        assert used == 4096  # a read finds it finished (test_file_batches.py), the default output reserved
        return
    assert used == sum(a.input_tokens for a in _inner(case))
    assert (used > 0) == (case["inner"] > 0)
