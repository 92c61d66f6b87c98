"""Perplexity's async API (``POST /async/chat/completions``, ``POST /v1/async/sonar``: body
``{request: {model, messages, max_tokens...}}``) runs a Sonar request later; its answer is a job
(``status: CREATED``, ``response: null``) and the first read (``GET .../{id}``) that finds it
``COMPLETED`` carries the chat completion with its usage. The creation is classified by its inner
request (model, cap, input estimate) and holds its reservation under the job's id; that read
charges the usage once, as an OpenAI file batch's does (``data/batches/perplexity_async.json``:
the API reference's job at each status). Before (payloads28) the creation named no model (unpriced;
no cap read) and every read charged nothing: a Deep Research job of $0.45 cost $0."""

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

DATA = json.loads((Path(__file__).parent / "data" / "batches" / "perplexity_async.json").read_text())
BASE = DATA["created"]
JOB = BASE["id"]
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 10000000, rate: 1h, bucket_key: [identity.team]}
"""
PATHS = ["https://api.perplexity.ai/async/chat/completions", "https://api.perplexity.ai/v1/async/sonar"]
USED = 91466  # the completed job's tokens: 10,306 input (19 + 10,287 citation), 81,160 output (7,163 + 73,997)


def _at(status: str) -> dict[str, Any]:
    return {**BASE, **DATA[status]} if status != "created" else BASE


def _calls(path: str) -> dict[str, tuple[Any, ...]]:
    return {"create": ("POST", path, DATA["request"], _at("created")),
            "running": ("GET", f"{path}/{JOB}", None, _at("in_progress")),
            "done": ("GET", f"{path}/{JOB}", None, _at("completed")),
            "failed": ("GET", f"{path}/{JOB}", None, _at("failed")),
            "listed": ("GET", path, None, {"requests": [{k: v for k, v in _at("completed").items() if k != "response"}],
                                           "next_token": None})}


@pytest.mark.parametrize("path", PATHS)
def test_the_creation_is_classified_by_its_inner_request(path: str) -> None:
    ai = classify({"method": "POST", "url": path, "body": DATA["request"]})
    alone = classify({"method": "POST", "url": "https://api.perplexity.ai/chat/completions",
                      "body": DATA["request"]["request"]})
    assert (ai.provider, ai.model, ai.max_output_tokens, ai.operation, ai.inference) == (
        "perplexity", "sonar-deep-research", 8000, "other", True)
    assert ai.input_tokens == alone.input_tokens > 0
    assert ai.uncapped == 0
    uncapped = {"request": {k: v for k, v in DATA["request"]["request"].items() if k != "max_tokens"}}
    assert classify({"method": "POST", "url": path, "body": uncapped}).uncapped == 1
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "body": _at("created")})
    assert (usage.total_tokens, usage.source) == (0, "estimate") and "not run yet" in usage.notes[-1]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("text", [False, True])
def test_a_read_that_finds_it_completed_gives_its_usage_and_price(path: str, text: bool) -> None:
    read = classify({"method": "GET", "url": f"{path}/{JOB}"})
    body = _at("completed")
    usage = extract_usage(read, {"status_code": 200, "headers": {"content-type": "application/json"},
                                 "body": json.dumps(body) if text else body})
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.source, usage.model) == (
        10306, 81160, 73997, "provider", "sonar-deep-research")
    cost = PriceBook().cost(read.provider, usage.model, usage, at=NOW)
    assert float(cost.usd) == pytest.approx((10306 * 2 + 7163 * 8 + 73997 * 3) / 1e6 + 30 * 5 / 1000, rel=1e-9)


@pytest.mark.parametrize("status", ["in_progress", "failed"])
def test_a_job_running_or_failed_charges_nothing(status: str) -> None:
    read = classify({"method": "GET", "url": f"{PATHS[0]}/{JOB}"})
    usage = extract_usage(read, {"status_code": 200, "headers": {}, "body": _at(status)})
    assert usage.total_tokens == 0


T0 = 1_795_000_000.0
ROWS = [  # (calls, the tokens the limit holds after each: None for the creation's reservation, reported)
    ("polled until done, read twice", ["create", "running", "done", "done"], [None, None, USED, USED], [0, 0, USED, 0]),
    ("failed: nothing ran", ["create", "failed"], [None, 0], [0, 0]),
    ("read, its creation made elsewhere", ["done", "done"], [USED, USED], [USED, 0]),
    ("a listing charges nothing", ["listed", "done"], [0, USED], [0, USED]),
]


def _run(path: str, names: list[str], text: list[bool] | None = None) -> tuple[list[float], list[int]]:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    calls = _calls(path)
    held, told = [], []
    for i, name in enumerate(names):
        method, url, body, answer = calls[name]
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=T0 + i)
        as_text = text[i % len(text)] if text else False
        decision = engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": "application/json"},
                                             "body": json.dumps(answer) if as_text else answer}, now=T0 + i + 0.5)
        held.append(store.check([new_charge(spec, "t", 0.0, None)], T0 + i + 0.5)[0].used)
        told.append(decision.usage["total_tokens"])
    return held, told


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("names", "held", "reported"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_job_is_charged_once_when_a_read_finds_it_completed(path: str, names: list[str], held: list[float | None],
                                                              reported: list[int]) -> None:
    reserved = classify({"method": "POST", "url": path, "body": DATA["request"]})
    reservation = reserved.input_tokens + 8000
    got, told = _run(path, names)
    assert got == [reservation if h is None else h for h in held]
    assert told == reported


@settings(max_examples=40, deadline=None)
@given(path=st.sampled_from(PATHS), create=st.booleans(), running=st.integers(0, 3),
       final=st.sampled_from(["done", "failed"]), reads=st.integers(1, 3),
       text=st.lists(st.booleans(), min_size=8, max_size=8))
def test_usage_is_charged_exactly_once_per_job(path: str, create: bool, running: int, final: str, reads: int,
                                               text: list[bool]) -> None:
    """However a job is created, polled and read back (its answers parsed or as text), one
    decision reports its usage and the limit holds exactly that, once it is known."""
    names = (["create"] if create else []) + ["running"] * running + [final] * reads
    held, told = _run(path, names, text)
    want = USED if final == "done" else 0
    assert sorted(told) == [0] * (len(names) - 1) + [want], told
    assert held[-1] == want
