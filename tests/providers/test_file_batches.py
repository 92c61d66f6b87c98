"""OpenAI's file batches (``POST /v1/batches`` naming an uploaded ``input_file_id``) are charged
when they are known to have run: the first read (``GET /v1/batches/{id}``) that finds the
Batch object finished charges its ``usage`` (the sum over its requests) once, at the batch
price; the creation holds its reservation until then, as a background response's does
(``data/batches/openai_file_batches.json``: the API reference's Batch object at each status).
Before (payloads21), a file batch charged nothing at all: its creation names no tokens and
its reads were no inference."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import PriceBook, classify, extract_usage

DATA = json.loads((Path(__file__).parent / "data" / "batches" / "openai_file_batches.json").read_text())
BASE = DATA["created"]
URL = "https://api.openai.com/v1/batches"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: [identity.team]}
"""


def _at(status: str) -> dict[str, Any]:
    return {**BASE, **DATA[status]} if status != "created" else BASE


CREATE = ("POST", URL, {"input_file_id": "file-abc123", "endpoint": "/v1/chat/completions",
                        "completion_window": "24h"}, _at("created"))
RUNNING = ("GET", URL + "/batch_abc123", None, _at("in_progress"))
DONE = ("GET", URL + "/batch_abc123", None, _at("completed"))
CANCEL = ("POST", URL + "/batch_abc123/cancel", None, _at("cancelling"))
CANCELLED = ("GET", URL + "/batch_abc123", None, _at("cancelled"))
FAILED = ("GET", URL + "/batch_abc123", None, _at("failed"))
NO_USAGE = ("GET", URL + "/batch_abc123", None, _at("completed_without_usage"))
LISTED = ("GET", URL + "?limit=2", None, {"object": "list", "data": [_at("completed")], "has_more": False})

HELD = 4096
ROWS: list[tuple[str, list[tuple[Any, ...]], list[float], list[int]]] = [
    # (calls, the tokens the limit holds after each, the tokens each call's decision reports); the
    # creation names no model and no cap: it reserves the default output (HELD), held until a read
    # finds the batch finished and replaces it by the usage
    ("polled until done, read twice", [CREATE, RUNNING, DONE, DONE], [HELD, HELD, 2000, 2000], [0, 0, 2000, 0]),
    ("cancelled: the requests that ran", [CREATE, CANCEL, CANCELLED, CANCELLED], [HELD, HELD, 460, 460],
     [0, 0, 460, 0]),
    ("failed validation: nothing ran", [CREATE, FAILED], [HELD, 0], [0, 0]),
    ("read, its creation made elsewhere", [DONE, DONE], [2000, 2000], [2000, 0]),
    ("a listing charges nothing", [LISTED, DONE], [0, 2000], [0, 2000]),
    ("an answer without usage charges nothing", [CREATE, NO_USAGE], [HELD, 0], [0, 0]),
]
T0 = 1_795_000_000.0


@pytest.mark.parametrize(("calls", "held", "reported"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_file_batch_is_charged_once_when_a_read_finds_it_finished(
        calls: list[tuple[Any, ...]], held: list[float], reported: list[int]) -> None:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    got, told = [], []
    for i, (method, url, body, answer) in enumerate(calls):
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        now = T0 + i
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=now)
        decision = engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": "application/json"},
                                             "body": json.dumps(answer)}, now=now + 0.5)
        got.append(store.check([new_charge(spec, "t", 0.0, None)], now + 0.5)[0].used)
        told.append(decision.usage["total_tokens"])
    assert got == held
    assert told == reported


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-5-2025-08-07"])
def test_its_usage_is_priced_at_the_batch_price(model: str) -> None:
    import genai_prices

    read = classify({"method": "GET", "url": URL + "/batch_abc123"})
    usage = extract_usage(read, {"status_code": 200, "headers": {}, "body": {**_at("completed"), "model": model}})
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.reasoning_tokens,
            usage.source, usage.service_tier) == (1500, 1024, 500, 300, "provider", "batch")
    cost = PriceBook().cost(read.provider, usage.model, usage, at=NOW)
    counted = genai_prices.Usage(input_tokens=1500, cache_read_tokens=1024, output_tokens=500)
    batch = genai_prices.calc_price(counted, model, provider_id="openai", genai_request_timestamp=NOW,
                                    price_context={"processing": "batch"}).total_price
    assert cost.usd == batch
    if model == "gpt-4o-mini":  # a model genai-prices has a batch price for (its input and output half)
        assert batch < genai_prices.calc_price(counted, model, provider_id="openai",
                                               genai_request_timestamp=NOW).total_price


def test_the_creation_and_a_running_read_say_why_they_charge_nothing() -> None:
    post = classify({"method": "POST", "url": URL, "body": CREATE[2]})
    usage = extract_usage(post, {"status_code": 200, "headers": {}, "body": _at("created")})
    assert (usage.total_tokens, usage.source) == (0, "estimate") and "batch not run yet" in usage.notes[-1]
    read = classify({"method": "GET", "url": URL + "/batch_abc123"})
    assert extract_usage(read, {"status_code": 200, "headers": {}, "body": _at("in_progress")}).total_tokens == 0
    usage = extract_usage(read, {"status_code": 200, "headers": {}, "body": _at("completed_without_usage")})
    assert usage.total_tokens == 0 and "names no usage" in usage.notes[-1]


def test_azure_openai_batches_are_read_alike() -> None:
    read = classify({"method": "GET", "url": "https://x.openai.azure.com/openai/batches/batch_abc123?api-version=2025-04-01-preview"})
    usage = extract_usage(read, {"status_code": 200, "headers": {}, "body": _at("completed")})
    assert (read.provider, usage.total_tokens, usage.service_tier) == ("azure_openai", 2000, "batch")


@settings(max_examples=40, deadline=None)
@given(create=st.booleans(), running=st.lists(st.sampled_from([RUNNING, CANCEL]), max_size=3),
       final=st.sampled_from([DONE, CANCELLED, FAILED]), reads=st.integers(1, 3),
       text=st.lists(st.booleans(), min_size=8, max_size=8))
def test_usage_is_charged_exactly_once_per_batch(create: bool, running: list[tuple[Any, ...]], final: tuple[Any, ...],
                                                 reads: int, text: list[bool]) -> None:
    """However a batch is created, polled, cancelled and read back (its answers parsed or as
    text), one decision reports its usage and the limit holds exactly that, once it is known."""
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    calls = ([CREATE] if create else []) + running + [final] * reads
    reported = []
    for i, (method, url, body, answer) in enumerate(calls):
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=T0 + i)
        decision = engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": "application/json"},
                                             "body": json.dumps(answer) if text[i % 8] else answer}, now=T0 + i + 0.5)
        reported.append(decision.usage["total_tokens"])
    used = store.check([new_charge(spec, "t", 0.0, None)], T0 + len(calls))[0].used
    want = (final[3].get("usage") or {}).get("total_tokens", 0)
    assert sorted(reported) == [0] * (len(calls) - 1) + [want], reported
    assert used == want
