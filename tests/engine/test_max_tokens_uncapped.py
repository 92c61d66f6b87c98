"""A ``max-tokens`` output cap in reject mode and a request that sets no cap of its own
(docs/language.md, ``max-tokens``): such a request may be answered up to the model's own
maximum, so it is refused (413) wherever its operation could cap its output, in every wire
format's field (named in the refusal); with a cap within the rule's it passes, and operations with no output to cap
(embeddings, images, speech, token counting, a file batch) pass as before. Before session 26
an uncapped request passed the cap: any client bypassed it by leaving the field out."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.stores import MemoryStore

DATA = json.loads((Path(__file__).parent / "data" / "uncapped_requests.json").read_text())
CAP = 1000


def policy(**config: Any) -> Any:
    return ap.loads(json.dumps({"on_http_request": [
        {"name": "cap-output", "actions": [{"type": "max-tokens", "config": {"output": CAP, **config}}]}]}), "json")


def decide(p: Any, case: dict[str, Any], body: dict[str, Any] | None = None) -> Any:
    request = {"method": "POST", "url": case["url"], "headers": {"content-type": "application/json", **case.get("headers", {})},
               "body": case["body"] if body is None else body}
    return ap.Engine(p, store=MemoryStore()).evaluate(
        {"id": "r1", "now": "2026-12-07T12:00:00Z", "identity": {"key": "k1"}, "request": request},
        apply_state=True, expect_response=False)


def with_cap(case: dict[str, Any], value: int) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(case["body"])
    *outer, name = case["cap"]
    inner = body
    for key in outer:
        inner = inner.setdefault(key, {})
    inner[name] = value
    return body


UNCAPPED = [pytest.param(c, id=c["name"]) for c in DATA["uncapped"]]
NOTHING = [pytest.param(c, id=c["name"]) for c in DATA["nothing_to_cap"]]


@pytest.mark.parametrize("case", UNCAPPED)
def test_an_uncapped_request_is_refused_in_reject_mode(case: dict[str, Any]) -> None:
    d = decide(policy(), case)
    assert (d.verdict, d.status_code, d.rule) == ("deny", 413, "cap-output"), d.reason
    assert "sets no maximum output tokens" in d.reason and f"at most {CAP:,}" in d.reason
    if "says" in case:  # the field the request's own wire format caps its output with
        assert f"set {case['says']}" in d.reason, d.reason


@pytest.mark.parametrize("case", UNCAPPED)
def test_the_same_request_with_a_cap_is_judged_by_it(case: dict[str, Any]) -> None:
    within = decide(policy(), case, with_cap(case, CAP))
    assert within.verdict == "allow", within.reason
    over = decide(policy(), case, with_cap(case, CAP + 1))
    assert (over.verdict, over.status_code) == ("deny", 413)
    assert f"asks for {CAP + 1:,} output tokens" in over.reason


@pytest.mark.parametrize("case", UNCAPPED)
def test_clamp_and_shadow_let_it_through(case: dict[str, Any]) -> None:
    clamped = decide(policy(mode="clamp"), case)
    assert clamped.verdict == "allow"
    assert clamped.to_dict()["effects"]["max_output_tokens"]["to"] == CAP
    shadow = decide(policy(enforce=False), case)
    assert shadow.verdict == "allow"
    assert shadow.would_deny is not None and shadow.would_deny["status"] == 413


@pytest.mark.parametrize("case", NOTHING)
def test_an_operation_with_no_output_to_cap_passes(case: dict[str, Any]) -> None:
    d = decide(policy(), case)
    assert d.verdict == case.get("reject", "allow"), d.reason
    if "says" in case:  # a batch whose requests set no cap: how many, and the field each sets
        assert case["says"] in d.reason, d.reason


def reserved(rules: list[dict[str, Any]], case: dict[str, Any]) -> tuple[Any, float]:
    """The decision's effects and what a token limit after ``rules`` reserved for ``case``."""
    tpm = {"name": "tpm", "actions": [{"type": "token-limit", "config": {
        "name": "tpm", "capacity": 10**9, "rate": "1m", "bucket_key": ["identity.key"]}}]}
    d = decide(ap.loads(json.dumps({"on_http_request": [*rules, tpm]}), "json"), case).to_dict()
    return d.get("effects", {}).get("max_output_tokens"), next(lim["cost"] for lim in d["limits"])


@pytest.mark.parametrize("case", NOTHING)
def test_clamp_leaves_an_operation_with_no_output_cap_alone(case: dict[str, Any]) -> None:
    """Nothing would be written into its body (``gateway.effects.set_max_tokens``), so no clamp
    is recorded and its reservation is what it is without the rule (before session 26: a
    clamp of 1,000 "written", and 1,000 output tokens reserved for an embedding)."""
    clamp = [{"name": "clamp", "actions": [{"type": "max-tokens", "config": {"output": CAP, "mode": "clamp"}}]}]
    effect, with_clamp = reserved(clamp, case)
    assert effect is None
    assert with_clamp == reserved([], case)[1]


def test_an_input_cap_alone_asks_for_no_output_cap() -> None:
    case = DATA["uncapped"][0]
    p = ap.loads(json.dumps({"on_http_request": [
        {"name": "cap-input", "actions": [{"type": "max-tokens", "config": {"input": 100}}]}]}), "json")
    assert decide(p, case).verdict == "allow"
