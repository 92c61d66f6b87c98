"""A routed request reads the live metrics' snapshot only when some strategy of the policy's
``ai-gateway`` actions reads them (``m.metrics``, ``k.quota``, ``k.error_rate``): a shared
store's snapshot is a database read, and nothing else reads it."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.routing.metrics import MemoryRouteMetrics

from .test_routing_engine import ok, policy, request


class Counted(MemoryRouteMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def snapshot(self, now: float) -> Any:
        self.reads += 1
        return super().snapshot(now)


@pytest.mark.parametrize(("route", "reads"), [
    ("", 0),  # no strategy
    ("model_selection: {strategy: [\"ai.models.filter(m, m.provider_id == 'openai')\", 'ai.models']}", 0),
    ("api_key_selection: {strategy: ['ai.keys.randomize()']}", 0),
    ("model_selection: {strategy: ['ai.models.filter(m, m.metrics.global.error_rate.total < 0.5)', 'ai.models']}", 1),
    ("api_key_selection: {strategy: ['ai.keys.filter(k, k.quota.remaining_requests > 10)', 'ai.keys']}", 1),
    ("api_key_selection: {strategy: ['ai.keys.filter(k, k.error_rate.total < 0.5)', 'ai.keys']}", 1),
])
def test_the_snapshot_is_read_only_for_strategies_that_read_it(route: str, reads: int) -> None:
    metrics = Counted()
    engine = ap.Engine(policy(route), route_metrics=metrics)
    d = engine.evaluate(request(attempts=[ok("gpt-4o")]))
    assert (d.verdict, d.complete, d.routing["served"]["model"]) == ("allow", True, "gpt-4o")
    assert metrics.reads == reads
