"""``actions.ngrok.ai_gateway`` (ngrok's debugging trace of a route) is built only when some
text of the policy reads ``actions``: its ~50 fields list each strategy's returned models,
hundreds with a catalog, which cost a routed request ~100 us that nothing read."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

import aigw_policy as ap

from .test_routing_engine import BASE, ok, request

route_errors = importlib.import_module("aigw_policy.engine.route_errors")

READS = """\
on_http_response:
  - name: show
    actions:
      - type: add-headers
        config: {headers: {x-tried: "${string(size(actions.ngrok.ai_gateway.models_tried[0].requests_made))}"}}
"""


@pytest.mark.parametrize("after, built", [("", 0), (READS, 1)])
def test_the_trace_is_built_only_for_a_text_that_reads_actions(monkeypatch: pytest.MonkeyPatch, after: str,
                                                               built: int) -> None:
    made: list[Any] = []
    real = route_errors.ai_gateway_result

    def counted(flow: Any, run: Any) -> dict[str, Any]:
        made.append(run)
        return real(flow, run)  # type: ignore[no-any-return]

    monkeypatch.setattr(route_errors, "ai_gateway_result", counted)
    text = BASE.replace("RULES", "").replace("ROUTE", "").replace("AFTER", "") + after
    engine = ap.Engine(ap.loads(text, format="yaml"))
    d = engine.evaluate(request(attempts=[{"status_code": 429}, ok("gpt-4o-mini")]))
    assert d.verdict == "allow" and len(d.routing["attempts"]) == 2
    assert len(made) == built
    if built:
        assert d.effects["response_headers"]["add"]["x-tried"] == "2"  # the text read it: two requests
