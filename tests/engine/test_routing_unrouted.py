"""A limit that depends on the model under an ``ai-gateway`` action is charged with each routing
attempt; a request no route takes is charged it as in a policy without a route. Before, the
request phase skipped it ("charged with each routing attempt") and no attempt came: a request
whose route condition was false, or whose route answered a plan error under ``on_error:
continue``, was charged none of the per-model limits (and a background response read that way
left the per-model hold of its ``POST`` unreplaced)."""

from __future__ import annotations

import pytest

import aigw_policy as ap
from aigw_policy.routing.model import AttemptOutcome

from .test_routing_engine import BASE, NOW, _block, ok, used

CHAT = {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
ROWS: list[tuple[str, str, str, float]] = [
    # (the route's condition, its config, what `gpt-4o`'s limit holds after the answer)
    ("the route's condition is false", "'x-never' in req.headers", "", 12),
    ("a plan error under on_error: continue", "true", "on_error: continue\nmax_input_tokens: 1", 12),
    ("routed: charged with its attempt", "true", "", 12),
]


@pytest.mark.parametrize(("condition", "route", "settled"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_request_no_route_takes_is_charged_its_per_model_limits(condition: str, route: str, settled: float) -> None:
    text = BASE.replace("RULES", "").replace("ROUTE", _block(route, 10)).replace("AFTER", "").replace(
        "  - name: route\n", f"  - name: route\n    expressions: [\"{condition}\"]\n")
    e = ap.Engine(ap.loads(text, format="yaml"))
    d = e.evaluate({"id": "r1", "now": NOW, "request": {"url": "https://api.openai.com/v1/chat/completions",
                                                        "body": CHAT}})
    assert d.verdict == "allow"
    if d.routing is not None and d.routing["attempts"] == [] and d.routing["served"] is None and not route:
        e.attempt("r1", None)
        e.attempt("r1", AttemptOutcome(status_code=200))
    e.complete("r1", ok("gpt-4o"))
    assert used(e, "model-tpm", "gpt-4o") == settled
