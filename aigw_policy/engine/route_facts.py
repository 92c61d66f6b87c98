"""What a routing candidate changes in a policy's request rules, found once when it is compiled:
the limits charged per attempt (they depend on the model or provider a candidate has) and the
refusals asked again of each candidate (SPEC §12: budget-correct, and model rules that hold
for the model a route sends). Both are only those before the last ``ai-gateway`` action."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.free_vars import union

if TYPE_CHECKING:
    from .compile import CompiledRule

__all__ = ["MODEL_VARIABLES", "model_gates", "per_attempt"]

MODEL_VARIABLES = ("ai.model", "ai.provider", "ai.cost_usd")
"""What a limit reads that a routing candidate changes."""


def per_attempt(rules: tuple[CompiledRule, ...]) -> frozenset[tuple[int, int]]:
    """The limits before the last ``ai-gateway`` action whose rule condition, bucket key or
    cost reads the model or provider, and the caps counted in usd (the price is the model's)."""
    last = max(((r.position, a.position) for r in rules for a in r.actions if a.type == "ai-gateway"), default=None)
    if last is None:
        return frozenset()
    out = set()
    for rule in rules:
        conditions = union(e.reads for e in rule.exprs)
        for a in rule.actions:
            plan = a.limit
            if plan is None or (rule.position, a.position) > last:
                continue
            texts = [*plan.bucket, *([plan.cost] if plan.cost is not None else [])]
            if plan.spec.unit == "usd" or (conditions | union(e.reads for e in texts)).reads_any(MODEL_VARIABLES):
                out.add((rule.position, a.position))
    return frozenset(out)


_REFUSALS = ("deny", "custom-response")


def model_gates(rules: tuple[CompiledRule, ...]) -> frozenset[tuple[int, int]]:
    """The enforced refusals before the last ``ai-gateway`` action that a routing candidate's
    model can decide: ``model-access``, and ``deny`` / ``custom-response`` in a rule whose
    condition reads the model or provider (:attr:`CompiledPolicy.model_gates`)."""
    last = max(((r.position, a.position) for r in rules for a in r.actions if a.type == "ai-gateway"), default=None)
    if last is None:
        return frozenset()
    out = set()
    for rule in rules:
        if rule.shadow:
            continue
        reads_model = union(e.reads for e in rule.exprs).reads_any(MODEL_VARIABLES)
        for a in rule.actions:
            if (rule.position, a.position) > last or getattr(a.config, "enforce", None) is False:
                continue
            if a.type == "model-access" or (a.type in _REFUSALS and reads_model):
                out.add((rule.position, a.position))
    return frozenset(out)

