"""What ``lint`` learns from the solver: request-phase rules proved unreachable (AIGW420) or
shadowed (AIGW421), each with the proof's reason. Bounded by a time budget per policy; a rule
the solver cannot settle in time gets no warning."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..source import Span

__all__ = ["solver_warnings"]


def solver_warnings(policy: Policy, seconds: float) -> tuple[list[Diagnostic], list[Span]]:
    """The warnings, and the spans (rule names, rules and their conditions) of the rules they
    are about, so that the syntactic checks' warnings on the same rules can give way."""
    from ..engine.compile import compile_policy
    from .questions import Budget, rules

    try:
        cp = compile_policy(policy)
    except Exception:  # noqa: BLE001 - lint has reported why it does not compile
        return [], []
    per_check = max(0.05, seconds / 10)
    answers = rules(cp, budget=Budget(per_check, seconds), witnesses=False)
    found: list[Diagnostic] = []
    spans: list[Span] = []
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
        spans.extend(s for s in (rule.name_span, rule.span, *(e.span for e in rule.expressions)) if s is not None)
    return found, spans
