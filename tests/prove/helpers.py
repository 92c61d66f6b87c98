"""Shared by the prove tests: policies from YAML text, and the engine's own answer for a
request (as `explain` gives it), independent of the prover's replay."""

from __future__ import annotations

from typing import Any

from aigw_policy.engine.compile import CompiledPolicy, compile_policy
from aigw_policy.engine.runner import Engine
from aigw_policy.limits import MemoryStore
from aigw_policy.loader import loads


def compiled(text: str) -> CompiledPolicy:
    return compile_policy(loads(text, "yaml"))


def explain(cp: CompiledPolicy, request: dict[str, Any]) -> tuple[str, int, str | None, set[str]]:
    """(verdict, status, deciding rule, the request-phase rules that matched)."""
    d = Engine(cp, store=MemoryStore(), trace=True).evaluate(request, apply_state=True, request_id="explain")
    matched = {t["rule"] for t in d.trace or () if t["phase"] == "on_http_request" and t["matched"] is True}
    return d.verdict, d.status_code, d.rule, matched
