"""One request driven through the engine's attempt loop, each attempt answered in turn (the
stored-response and context-cache tests share it)."""

from __future__ import annotations

from typing import Any

import aigw_policy as ap
from aigw_policy.routing.model import AttemptOutcome, Next, Serve

RITA = {"user": "rita"}


def through_attempts(engine: ap.Engine, method: str, path: str, body: Any, answers: list[dict[str, Any]],
                     identity: dict[str, Any] = RITA, served: bool = False) -> Any:
    """The final decision of one request, its attempts answered by ``answers`` in turn
    (``served``: a routed request must end served)."""
    d = engine.evaluate({"request": {"method": method, "url": "http://gw" + path, "body": body,
                                     "headers": {"content-type": "application/json"}}, "identity": identity})
    if d.routing is None:
        return d
    step, answer = engine.attempt(d.id, None), None
    while isinstance(step, Next):
        answer = answers.pop(0)
        step = engine.attempt(d.id, AttemptOutcome(**answer))
    if not isinstance(step, Serve):
        assert not served, step
        return step.decision
    assert answer is not None
    return engine.complete(d.id, {"status_code": answer["status_code"], "headers": {}, "body": answer.get("body")})
