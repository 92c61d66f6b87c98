"""What ``lint`` learns from the solver: request-phase rules proved unreachable (AIGW420) or
shadowed (AIGW421), each with the proof's reason. The time budget bounds the whole step, from
the policy lint has read (lowered to compiled rules without compiling their CEL: the solver
reads the texts) through encoding every rule, checked between rules. A rule the solver does
not settle in time, or is not asked about, gets no warning."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..engine.compile import STAGES, Compilation, CompiledPolicy
from ..ir import Policy
from ..source import Span

__all__ = ["solver_warnings"]

SOLVER_STAGES = ("lower", "check_size", "report", "mark_eager", "facts")
"""The compiler's stages the solver needs: the compiled rules, but not their CEL programs
(``compile_cel``, lint has type-checked the texts) nor the rule index."""


def solver_warnings(policy: Policy, seconds: float) -> tuple[list[Diagnostic], set[Span]]:
    """The warnings, and the spans (rule names, rules and their conditions) of the rules they
    are about, so that the syntactic checks' warnings on the same rules can give way."""
    from .questions import Budget, rules

    budget = Budget(max(0.05, seconds / 10), seconds)
    cp = _lowered(policy)
    if cp is None:
        return [], set()
    answers = rules(cp, budget=budget, witnesses=False)
    found: list[Diagnostic] = []
    spans: set[Span] = set()
    for a in answers:
        if a.result not in ("unreachable", "shadowed"):
            continue
        rule = policy.phase("on_http_request")[a.position]
        where = rule.name_span or rule.span
        if a.result == "unreachable":
            found.append(Diagnostic.make("AIGW420", f"rule `{a.rule}` can never fire: {a.reason}", where,
                                         "fix its conditions, or remove the rule"))
        else:
            found.append(Diagnostic.make("AIGW421", f"rule `{a.rule}` never runs: {a.reason}", where,
                                         "move it above the rules that answer first, or narrow them"))
        spans.update(s for s in (rule.name_span, rule.span, *(e.span for e in rule.expressions)) if s is not None)
    return found, spans


def _lowered(policy: Policy) -> CompiledPolicy | None:
    """``policy``'s compiled rules for the solver, or None when it does not compile (lint has
    reported why)."""
    c = Compilation(policy, policy.name or "policy", index=False)
    try:
        for name, stage in STAGES:
            if name in SOLVER_STAGES:
                c = stage(c)
    except Exception:  # noqa: BLE001 - lint has reported why it does not compile
        return None
    return c.compiled
