"""A 200 whose body is an error object (``data/error_200/answers.json``: what some providers and
proxies answer a failed call with) is an upstream error: the input estimate and no output, noted
``upstream error 200: <kind>``, and settled by the policy's ``upstream_error`` (released by
default, the input charged with ``charge_input``), as a status >= 400 is. Before (payloads20) it
was charged as an answer without usage: the input estimate, whatever the policy said."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits import from_url
from aigw_policy.limits.model import new_charge
from aigw_policy.providers import classify, extract_usage

DATA = json.loads((Path(__file__).parent / "data" / "error_200" / "answers.json").read_text())
KEYS = {"id", "error", "kind", "body"}
CASES = DATA["cases"]
POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: [identity.team]}
"""


def test_the_cases_are_spelt_right() -> None:
    for case in CASES:
        assert set(case) <= KEYS and {"id", "error", "body"} <= set(case), case.get("id")
        assert ("kind" in case) == case["error"], case["id"]
    assert sum(c["error"] for c in CASES) >= 7 and sum(not c["error"] for c in CASES) >= 3


def _answer(body: Any) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "bytes"])
def test_an_error_object_is_an_error_whatever_its_status(case: dict[str, Any], raw: bool) -> None:
    ai = classify(DATA["request"])
    body = json.dumps(case["body"]).encode() if raw else case["body"]
    usage = extract_usage(ai, _answer(body))
    assert usage.upstream_failed is case["error"]
    if case["error"]:
        kind = case["kind"]
        assert usage.notes == (f"upstream error 200: {kind}" if kind else "upstream error 200",)
        assert (usage.input_tokens, usage.output_tokens) == (ai.input_tokens, 0)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize("upstream_error", ["release", "charge_input"])
def test_the_policy_settles_it_as_an_error(case: dict[str, Any], upstream_error: str) -> None:
    store = from_url("memory:")
    engine = ap.Engine(ap.loads(f"upstream_error: {upstream_error}\n" + POLICY, format="yaml"), store=store)
    engine.evaluate({"id": "r1", "identity": {"team": "t"}, "request": DATA["request"]})
    decision = engine.complete("r1", _answer(case["body"]))
    spec = engine.compiled.limits["team-tokens"][1].limit.spec  # type: ignore[union-attr]
    used = store.check([new_charge(spec, "t", 0.0, None)], time.time())[0].used
    if not case["error"]:
        assert used == decision.usage["total_tokens"] > 0
    elif upstream_error == "release":
        assert used == 0
    else:
        assert used == classify(DATA["request"]).input_tokens == decision.usage["input_tokens"]
