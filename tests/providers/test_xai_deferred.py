"""xAI's deferred chat completions: ``POST /v1/chat/completions`` with ``deferred: true`` answers
``{request_id}`` before the model runs; ``GET /v1/chat/deferred-completion/{request_id}`` answers
202 (empty) until the result is ready, then the chat completion with its usage, exactly once.
The creation holds its reservation under the request id (0 tokens: nothing ran) and the read that
carries the result charges its usage once, replacing the hold (``data/batches/xai_deferred.json``:
xAI's guide and its API reference's answer). Before (payloads28) the creation was charged its input
estimate and the read nothing: the answer's output was never charged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import PriceBook, classify, extract_usage

DATA = json.loads((Path(__file__).parent / "data" / "batches" / "xai_deferred.json").read_text())
RID = DATA["created"]["request_id"]
URL = "https://api.x.ai/v1/chat/completions"
READ = f"https://api.x.ai/v1/chat/deferred-completion/{RID}"
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: [identity.team]}
"""
CALLS: dict[str, tuple[Any, ...]] = {
    "create": ("POST", URL, DATA["request"], 200, DATA["created"]),
    "running": ("GET", READ, None, 202, ""),
    "done": ("GET", READ, None, 200, DATA["completed"]),
    "gone": ("GET", READ, None, 404, {"code": "Some requested entity was not found", "error": "not found"}),
}


def test_the_creation_charges_nothing_yet() -> None:
    ai = classify({"method": "POST", "url": URL, "body": DATA["request"]})
    assert (ai.provider, ai.operation, ai.model, ai.max_output_tokens) == ("xai", "chat", "grok-3", 1024)
    for body in (DATA["created"], json.dumps(DATA["created"])):
        usage = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body})
        assert (usage.total_tokens, usage.source) == (0, "estimate") and "not run yet" in usage.notes[-1]


@pytest.mark.parametrize("text", [False, True])
def test_the_read_that_carries_the_result_gives_its_usage_and_price(text: bool) -> None:
    read = classify({"method": "GET", "url": READ})
    body = DATA["completed"]
    usage = extract_usage(read, {"status_code": 200, "headers": {"content-type": "application/json"},
                                 "body": json.dumps(body) if text else body})
    assert (usage.input_tokens, usage.output_tokens, usage.source, usage.model) == (27, 48, "provider", "grok-3")
    cost = PriceBook().cost(read.provider, usage.model, usage)
    assert float(cost.usd) == pytest.approx((27 * 3 + 48 * 15) / 1e6, rel=1e-9)  # grok-3: $3 / $15 per MTok


@pytest.mark.parametrize("name", ["running", "gone"])
def test_a_read_without_the_result_charges_nothing(name: str) -> None:
    _, url, _, status, body = CALLS[name]
    usage = extract_usage(classify({"method": "GET", "url": url}), {"status_code": status, "headers": {}, "body": body})
    assert usage.total_tokens == 0


T0 = 1_795_000_000.0
ROWS = [  # (calls, the tokens the limit holds after each: None for the creation's reservation, reported)
    ("polled until done", ["create", "running", "running", "done"], [None, None, None, 75], [0, 0, 0, 75]),
    ("read again: gone", ["create", "done", "gone"], [None, 75, 75], [0, 75, 0]),
    ("read, its creation made elsewhere", ["done"], [75], [75]),
]


def _run(names: list[str], text: list[bool] | None = None) -> tuple[list[float], list[int]]:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    held, told = [], []
    for i, name in enumerate(names):
        method, url, body, status, answer = CALLS[name]
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=T0 + i)
        as_text = text[i % len(text)] if text else False
        decision = engine.complete(f"r{i}", {"status_code": status, "headers": {"content-type": "application/json"},
                                             "body": json.dumps(answer) if as_text else answer}, now=T0 + i + 0.5)
        held.append(store.check([new_charge(spec, "t", 0.0, None)], T0 + i + 0.5)[0].used)
        told.append(decision.usage["total_tokens"])
    return held, told


@pytest.mark.parametrize(("names", "held", "reported"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_result_is_charged_once_replacing_the_hold(names: list[str], held: list[float | None],
                                                       reported: list[int]) -> None:
    reservation = classify({"method": "POST", "url": URL, "body": DATA["request"]}).input_tokens + 1024
    got, told = _run(names)
    assert got == [reservation if h is None else h for h in held]
    assert told == reported


@settings(max_examples=30, deadline=None)
@given(create=st.booleans(), running=st.integers(0, 3), reads=st.integers(1, 3),
       text=st.lists(st.booleans(), min_size=8, max_size=8))
def test_usage_is_charged_exactly_once_per_deferred_request(create: bool, running: int, reads: int,
                                                            text: list[bool]) -> None:
    """However it is created and polled, and even if its result were read more than once (xAI
    serves it once), one decision reports its usage and the limit holds exactly that."""
    names = (["create"] if create else []) + ["running"] * running + ["done"] * reads
    held, told = _run(names, text)
    assert sorted(told) == [0] * (len(names) - 1) + [75], told
    assert held[-1] == 75
