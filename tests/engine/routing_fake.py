"""A minimal stand-in for the planner (``routing.compile.compile_route``), for the engine's
routing tests: candidates are the config's providers, their models and keys, in order;
the client's model, when a provider lists it, comes first. Used only when the planner is not
importable (before it is merged)."""

from __future__ import annotations

import sys
import types
from typing import Any

from aigw_policy.routing.model import Candidate, KeyRef, ModelInfo, Plan, ProviderInfo, StrategyResult


class FakeRoute:
    def __init__(self, config: Any, where: Any = None) -> None:
        self.config = config
        self.per_request_timeout_s = _seconds(config.per_request_timeout, 30.0)
        self.total_timeout_s = _seconds(config.total_timeout, 300.0)
        self.on_error = config.on_error or "halt"
        self.failover_on = config.failover_on
        self._providers = {}
        for p in config.providers or ():
            keys = tuple(KeyRef(k.id or f"k{i}", k.value, i) for i, k in enumerate(p.api_keys or ()))
            self._providers[p.id] = ProviderInfo(p.id, base_url=p.base_url, keys=keys, configured=True)

    def provider(self, id: str) -> ProviderInfo:
        return self._providers[id]

    def model(self, provider_id: str, model_id: str) -> ModelInfo | None:
        return ModelInfo(model_id, provider_id)

    def plan(self, ai: Any, act: Any, metrics: Any, rng: Any) -> Plan:
        max_in = self.config.max_input_tokens
        if max_in is not None and ai.input_tokens > max_in:
            return Plan("openai", (ai.model or "",), (), (),
                        error=(413, "ERR_NGROK_3811", f"Input too large: {ai.input_tokens} tokens (max {max_in})"))
        out = []
        for p in self.config.providers or ():
            models = [m.id for m in p.models or ()]
            models.sort(key=lambda m: m != ai.model)
            for m in models:
                for k in self._providers[p.id].keys or (KeyRef("none", "", 0),):
                    out.append(Candidate(p.id, m, k.id))
        return Plan("openai", (ai.model or "",), (StrategyResult("ai.models", len(out)),), tuple(out))


def _seconds(text: Any, default: float) -> float:
    if text is None:
        return default
    from aigw_policy.ir.actions import parse_duration

    return float(parse_duration(text))


def compile_route(config: Any, *, where: Any = None) -> FakeRoute:
    return FakeRoute(config, where)


def install() -> None:
    """Make ``aigw_policy.routing.compile`` importable when the planner is not merged yet."""
    try:
        import aigw_policy.routing.compile  # noqa: F401
    except ImportError:
        mod = types.ModuleType("aigw_policy.routing.compile")
        mod.compile_route = compile_route  # type: ignore[attr-defined]
        sys.modules["aigw_policy.routing.compile"] = mod
