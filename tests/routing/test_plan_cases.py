"""The planner against a table of cases (``data/plan_cases.yaml``): a config, a request,
and the candidates, skips, strategy counts or error expected."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_policy.ir.ai_gateway import AiGateway
from aigw_policy.providers import classify
from aigw_policy.routing.compile import compile_route
from aigw_policy.routing.model import Plan

CASES = yaml.safe_load((Path(__file__).parent / "data" / "plan_cases.yaml").read_text())


def _pairs(table: dict[str, Any] | None) -> dict[tuple[str, ...], Any]:
    return {tuple(k.split("|")): v for k, v in (table or {}).items()}


def run_case(case: dict[str, Any]) -> Plan:
    request = case["request"]
    ai = classify({"method": "POST", "url": "https://gw.example" + request.get("path", "/v1/chat/completions"),
                   "headers": {}, "body": request.get("body", {})})
    if "input_tokens" in request:
        ai = dataclasses.replace(ai, input_tokens=request["input_tokens"])
    metrics = case.get("metrics")
    if metrics is not None:
        metrics = {"models": _pairs(metrics.get("models")), "keys": _pairs(metrics.get("keys"))}
    route = compile_route(AiGateway.model_validate(case["config"]))
    return route.plan(ai, request.get("act", {}), metrics, random.Random(case.get("seed", 0)))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_plan_case(case: dict[str, Any]) -> None:
    plan = run_case(case)
    live = [f"{c.provider}:{c.model}@{c.key_id or '-'}" for c in plan.candidates if c.skipped_because is None]
    if "error" in case:
        assert plan.error is not None and list(plan.error[:2]) == case["error"], plan
        assert plan.error[2]
    else:
        assert plan.error is None, plan.error
    assert live == case.get("candidates", []), plan
    skipped = {f"{c.provider}:{c.model}": c.skipped_because for c in plan.candidates if c.skipped_because}
    for who, fragment in (case.get("skipped") or {}).items():
        assert who in skipped, (who, skipped)
        assert fragment in skipped[who], (who, skipped[who])
    if "strategies" in case:
        got = [None if s.error else s.candidates_returned for s in plan.strategies]
        assert got == case["strategies"], plan.strategies
    if "format" in case:
        assert plan.format == case["format"]
