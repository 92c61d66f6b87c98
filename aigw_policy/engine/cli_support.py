"""What the ``explain``, ``replay`` and ``test`` commands do, apart from argument parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..ir import Policy
from .request import RequestError

__all__ = ["explain_request"]


def explain_request(policy: Policy, data: object, *, json_output: bool, trace: bool,
                    fail: Callable[[str], Exception]) -> tuple[str, bool]:
    """One decision with a fresh in-memory store seeded from ``state``; (output, denied)."""
    from ..stores import MemoryStore
    from .runner import Engine

    engine = Engine(policy, store=MemoryStore(), trace=True)
    try:
        decision = engine.evaluate(data, apply_state=True, request_id="explain")  # type: ignore[arg-type]
    except RequestError as error:
        raise fail(str(error)) from None
    if json_output:
        return json.dumps(decision.to_dict(), indent=2, sort_keys=False, default=str), decision.verdict == "deny"
    return decision.text(trace=trace), decision.verdict == "deny"


