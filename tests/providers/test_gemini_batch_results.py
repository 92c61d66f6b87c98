"""A Gemini inline batch's output is charged once, by the first read that finds it ended
(``data/batches/gemini_inline_batches.json``: ``batches.get``'s operation at each state).

Its creation is charged its requests' input, at the batch price (payloads20: they are in its
body); the answers, with their ``usageMetadata``, come back inline in the finished batch, and
the first read that carries them charges their output (candidates and thoughts) under the
batch's name, as an OpenAI file batch's read charges its usage (payloads21); a later read
charges nothing. Before (payloads20-24), a batch's output was never charged. A batch whose
results are in a file (``responsesFile``) is a download: not read, charged nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import PriceBook, classify, extract_usage

DATA = json.loads((Path(__file__).parent / "data" / "batches" / "gemini_inline_batches.json").read_text())
HOST = "https://generativelanguage.googleapis.com/v1beta/"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
T0 = 1_795_000_000.0
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: [identity.team]}
"""
CREATE_BODY = {"batch": {"display_name": "otters", "input_config": {"requests": {"requests": [
    {"request": {"contents": [{"parts": [{"text": "Where do otters live?"}], "role": "user"}],
                 "generationConfig": {"maxOutputTokens": 400}}, "metadata": {"key": "request-1"}},
    {"request": {"contents": [{"parts": [{"text": "Why are otters cute?"}], "role": "user"}],
                 "generationConfig": {"maxOutputTokens": 400}}, "metadata": {"key": "request-2"}}]}}}}
CREATE = ("POST", HOST + "models/gemini-2.5-flash:batchGenerateContent", CREATE_BODY, DATA["created"])
RUNNING = ("GET", HOST + "batches/123456", None, DATA["running"])
DONE = ("GET", HOST + "batches/123456", None, DATA["succeeded"])
CANCELLED = ("GET", HOST + "batches/123456", None, DATA["cancelled"])
IN_A_FILE = ("GET", HOST + "batches/123456", None, DATA["in_a_file"])


def _read(state: str, *, text: bool = False) -> Any:
    ai = classify({"method": "GET", "url": HOST + "batches/123456"})
    body = DATA[state]
    return ai, extract_usage(ai, {"status_code": 200, "headers": {"content-type": "application/json"},
                                  "body": json.dumps(body) if text else body})


@pytest.mark.parametrize("text", [False, True], ids=["parsed", "text"])
@pytest.mark.parametrize("state", ["succeeded", "succeeded_job_state", "cancelled"])
def test_a_finished_batch_read_charges_its_output(state: str, text: bool) -> None:
    want = DATA["want"]["cancelled" if state == "cancelled" else "succeeded"]
    _, usage = _read(state, text=text)
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.source, usage.service_tier,
            usage.model) == (0, want["output_tokens"], want["reasoning_tokens"], "provider", "batch", "gemini-2.5-flash")
    assert f"{want['input']:,} tokens, was charged at its creation" in usage.notes[-1]


@pytest.mark.parametrize("state", ["created", "running", "in_a_file"])
def test_a_running_batch_or_one_in_a_file_charges_nothing(state: str) -> None:
    _, usage = _read(state)
    assert usage.total_tokens == 0


def test_its_output_is_priced_at_the_batch_price() -> None:
    import genai_prices

    ai, usage = _read("succeeded")
    cost = PriceBook().cost(ai.provider, usage.model, usage, at=NOW)
    batch = genai_prices.calc_price(genai_prices.Usage(output_tokens=650), "gemini-2.5-flash", provider_id="google",
                                    genai_request_timestamp=NOW, price_context={"processing": "batch"}).total_price
    assert cost.usd == batch and batch > 0
    assert batch < genai_prices.calc_price(genai_prices.Usage(output_tokens=650), "gemini-2.5-flash",
                                           provider_id="google", genai_request_timestamp=NOW).total_price


ROWS: list[tuple[str, list[tuple[Any, ...]], list[int]]] = [
    # (calls, the output tokens each call's decision reports): the creation its requests' input only
    ("created, polled, read twice", [CREATE, RUNNING, DONE, DONE], [0, 0, 650, 0]),
    ("cancelled: the answers that ran", [CREATE, CANCELLED, CANCELLED], [0, 450, 0]),
    ("results in a file: not read", [CREATE, IN_A_FILE], [0, 0]),
    ("read, its creation made elsewhere", [DONE, DONE], [650, 0]),
]


@pytest.mark.parametrize(("calls", "reported"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_batch_output_is_charged_once(calls: list[tuple[Any, ...]], reported: list[int]) -> None:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    told, held = [], []
    for i, (method, url, body, answer) in enumerate(calls):
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=T0 + i)
        decision = engine.complete(f"r{i}", {"status_code": 200, "headers": {"content-type": "application/json"},
                                             "body": json.dumps(answer)}, now=T0 + i + 0.5)
        told.append(decision.usage["output_tokens"])
        held.append(store.check([new_charge(spec, "t", 0.0, None)], T0 + i + 0.5)[0].used)
    assert told == reported
    created = held[0] if calls[0] is CREATE else 0
    assert 0 < created < 100 or calls[0] is not CREATE  # the two prompts' input, not their caps
    assert held[-1] == created + sum(reported)
