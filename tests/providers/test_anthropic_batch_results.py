"""Anthropic's Message Batches: ``POST /v1/messages/batches`` is classified as the sum of its requests
and charged their input estimate at the batch price (payloads20); the answers, with their usage, are
the results file (``GET /v1/messages/batches/{id}/results``, JSONL, one ``{custom_id, result}`` a line).
The first read of it charges the output its ``succeeded`` lines name, once per batch, at the batch
price (50%), each at the model that ran it; a later read charges nothing; ``errored``, ``expired``
and ``canceled`` lines ran nothing (``data/batches/anthropic_batch_results.json``: Anthropic's API
reference's results and its batch guide's creation). Before (payloads29) no read was charged: a
batch's output cost nothing."""

from __future__ import annotations

import gzip
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

DATA = json.loads((Path(__file__).parent / "data" / "batches" / "anthropic_batch_results.json").read_text())
BATCH = DATA["batch_id"]
CREATE = "https://api.anthropic.com/v1/messages/batches"
RESULTS = f"{CREATE}/{BATCH}/results"
JSONL = {"content-type": "application/x-jsonl"}
OUT = DATA["output_tokens"]  # 36 + 34
SONNET_OUT_BATCH = 15 / 2 / 1e6  # claude-sonnet-4-5: $15 per MTok of output, half in a batch


def _jsonl(lines: list[Any]) -> str:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)


def _read(body: Any, headers: dict[str, str] = JSONL, url: str = RESULTS, where: str = "body") -> Any:
    return extract_usage(classify({"method": "GET", "url": url}), {"status_code": 200, "headers": headers, where: body})


# how the results file comes -> the answer's body and headers
BODIES: dict[str, tuple[Any, dict[str, str]]] = {
    "text": (_jsonl(DATA["results"]), JSONL),
    "bytes": (_jsonl(DATA["results"]).encode(), JSONL),
    "crlf, no final newline": (_jsonl(DATA["results"]).replace("\n", "\r\n").rstrip(), JSONL),
    "with errored, expired and canceled lines": (_jsonl(DATA["other_results"][:2] + DATA["results"]
                                                        + DATA["other_results"][2:]), JSONL),
    "gzip": (gzip.compress(_jsonl(DATA["results"]).encode()), {**JSONL, "content-encoding": "gzip"}),
    "as application/binary (the SDK's Accept)": (_jsonl(DATA["results"]), {"content-type": "application/binary"}),
    "as application/jsonl, kept as a stream is (sse)": (_jsonl(DATA["results"]), {"content-type": "application/jsonl"}),
}


@pytest.mark.parametrize("how", sorted(BODIES))
def test_a_read_of_the_results_charges_their_output_at_the_batch_price(how: str) -> None:
    body, headers = BODIES[how]
    usage = _read(body, headers, where="sse" if how.endswith("(sse)") else "body")
    assert (usage.input_tokens, usage.output_tokens, usage.source, usage.model, usage.service_tier) == (
        0, OUT, "provider", "claude-sonnet-4-5-20250929", "batch"), usage
    assert f"{DATA['input_tokens']:,} tokens" in usage.notes[-1]  # the input: charged at the creation
    cost = PriceBook().cost("anthropic", usage.model, usage)
    assert float(cost.usd) == pytest.approx(OUT * SONNET_OUT_BATCH, rel=1e-9)


def test_one_result_alone_parses_as_json_and_is_read_the_same() -> None:
    usage = _read(DATA["results"][0])
    assert (usage.output_tokens, usage.service_tier) == (36, "batch")


def test_a_batch_of_several_models_prices_each_at_its_own() -> None:
    haiku = json.loads(json.dumps(DATA["results"][1]).replace("claude-sonnet-4-5-20250929", "claude-haiku-4-5"))
    usage = _read(_jsonl([DATA["results"][0], haiku]))
    assert usage.output_tokens + sum(u.output_tokens for _, u in usage.other_models) == OUT
    cost = PriceBook().cost("anthropic", usage.model, usage)
    assert float(cost.usd) == pytest.approx(36 * SONNET_OUT_BATCH + 34 * 5 / 2 / 1e6, rel=1e-9)  # haiku 4.5: $5


@pytest.mark.parametrize("body", [_jsonl(DATA["other_results"]), "", "not json\n", _jsonl([{"custom_id": "x"}])])
def test_results_that_ran_nothing_charge_nothing(body: str) -> None:
    usage = _read(body)
    assert usage.total_tokens == 0


@pytest.mark.parametrize(("method", "url"), [("GET", f"{CREATE}/{BATCH}"), ("GET", CREATE),
                                             ("POST", f"{CREATE}/{BATCH}/cancel"), ("DELETE", f"{CREATE}/{BATCH}")])
def test_other_reads_of_a_batch_charge_nothing(method: str, url: str) -> None:
    usage = extract_usage(classify({"method": method, "url": url}), {"status_code": 200, "headers": JSONL,
                                                                      "body": _jsonl(DATA["results"])})
    assert usage.total_tokens == 0


POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 10000000, rate: 1h, bucket_key: [identity.team]}
"""
T0 = 1_795_000_000.0


def _run(names: list[str], text: list[bool] | None = None) -> tuple[list[float], list[int]]:
    """The tokens the limit holds after each call, and each decision's reported total."""
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(POLICY, format="yaml"), store=store)
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    calls = {"create": ("POST", CREATE, DATA["request"], DATA["created"]),
             "results": ("GET", RESULTS, None, _jsonl(DATA["results"])),
             "batch": ("GET", f"{CREATE}/{BATCH}", None, {**DATA["created"], "processing_status": "ended"})}
    held, told = [], []
    for i, name in enumerate(names):
        method, url, body, answer = calls[name]
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if body is not None:
            request["body"] = body
        engine.evaluate({"id": f"r{i}", "identity": {"team": "t"}, "request": request}, now=T0 + i)
        if text and text[i % len(text)] and not isinstance(answer, str):
            answer = json.dumps(answer)
        decision = engine.complete(f"r{i}", {"status_code": 200, "headers": JSONL, "body": answer}, now=T0 + i + 0.5)
        held.append(store.check([new_charge(spec, "t", 0.0, None)], T0 + i + 0.5)[0].used)
        told.append(decision.usage["total_tokens"])
    return held, told


def test_the_output_is_charged_once_by_the_first_read_of_the_results() -> None:
    estimate = classify({"method": "POST", "url": CREATE, "body": DATA["request"]}).input_tokens
    held, told = _run(["create", "batch", "results", "results", "batch"])
    assert held == [estimate, estimate, estimate + OUT, estimate + OUT, estimate + OUT]
    assert told == [estimate, 0, OUT, 0, 0]


@settings(max_examples=25, deadline=None)
@given(create=st.booleans(), polls=st.integers(0, 2), reads=st.integers(1, 3),
       text=st.lists(st.booleans(), min_size=6, max_size=6))
def test_a_batchs_output_is_charged_exactly_once(create: bool, polls: int, reads: int, text: list[bool]) -> None:
    names = (["create"] if create else []) + ["batch"] * polls + ["results"] * reads
    held, told = _run(names, text)
    assert told.count(OUT) == 1 and sum(told) == OUT + (told[0] if create else 0), told
    assert held[-1] == held[len(names) - reads - 1] + OUT if len(names) > reads else held[-1] == OUT
