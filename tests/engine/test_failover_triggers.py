"""SPEC §12 failover triggers, each one: ngrok's by default (connection errors, timeouts, any
4xx or 5xx), narrowed by `failover_on` to the statuses, status classes and errors it names
(`[429, 5xx, timeout, connect, 401, 403]`). A failed first attempt moves on to a second one
exactly when a trigger names its outcome."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap

from .test_routing_engine import ok, policy, request

OUTCOMES: dict[str, dict[str, Any]] = {
    "400": {"status_code": 400}, "401": {"status_code": 401}, "403": {"status_code": 403},
    "404": {"status_code": 404}, "429": {"status_code": 429}, "500": {"status_code": 500},
    "503": {"status_code": 503}, "timeout": {"error": "timeout"}, "connect": {"error": "connect"},
}
TRIGGERS: list[list[str] | None] = [None, ["429"], ["5xx"], ["4xx"], ["timeout"], ["connect"], ["401"], ["403"],
                                    ["503"], ["429", "5xx", "timeout", "connect", "401", "403"]]


def _named(triggers: list[str] | None, outcome: str) -> bool:
    if triggers is None:  # ngrok's default: every one of these
        return True
    return outcome in triggers or (outcome.isdigit() and f"{outcome[0]}xx" in triggers)


@pytest.mark.parametrize("triggers", TRIGGERS, ids=lambda t: "default" if t is None else ",".join(t))
def test_an_outcome_fails_over_exactly_when_a_trigger_names_it(triggers: list[str] | None) -> None:
    engine = ap.Engine(policy(route="" if triggers is None else f"failover_on: [{', '.join(triggers)}]"))
    for name, outcome in OUTCOMES.items():
        decision = engine.evaluate(request(id=f"r-{name}", attempts=[outcome, ok("gpt-4o")]))
        tried = len(decision.routing["attempts"])
        assert tried == (2 if _named(triggers, name) else 1), (name, decision.routing["attempts"])
        if tried == 2:
            assert (decision.status_code, decision.routing["served"]["attempt"]) == (200, 2)
