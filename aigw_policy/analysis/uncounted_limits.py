"""AIGW405: a request-counting limit that every request it lets through reaches a gateway
answer after, so it never counts one and never limits.

SPEC §6 "all or nothing": a request the gateway answers itself (verdict ``deny``: a ``deny``,
a ``custom-response``, a limit) consumes nothing from any limit. A ``rate-limit`` (or a
``usage-cap`` in ``requests``) followed, on every path, by a ``deny`` or ``custom-response``
that always runs therefore releases every count it takes: it never reaches its capacity.
ngrok counts every request that reaches the action, so a document written for ngrok (a
``custom-response`` standing in for a backend while it is built) limits there and not here.
The behaviour is SPEC's decision, left as it is; this pass says so where it happens.

Only the certain case is named: the answer is an enforced ``deny`` or ``custom-response`` in
the limit's own rule after it, or in a later request rule without a condition (none, or only
ones that are always true), not in ``mode: shadow``; and nothing between can end the phase
with the request forwarded (``allow``, ``ai-gateway``, ``forward-internal``). A conditional
answer, a ``redirect`` (it answers only when the URL changes) or a limit that refuses lets
some requests be counted, or answers them over the limit anyway: no warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ir import Action, Policy, Rule
from .engine_checks import always_matches

__all__ = ["check"]

_ANSWERS = frozenset({"deny", "custom-response"})
_FORWARDS = frozenset({"allow", "ai-gateway", "forward-internal"})


def check(policy: Policy, source: object = None) -> list[Diagnostic]:
    rules = list(policy.phase("on_http_request"))
    found: list[Diagnostic] = []
    for index, rule in enumerate(rules):
        for at, action in enumerate(rule.actions):
            if not _counts_requests(action):
                continue
            answer = _answer_after(rule, at, rules[index + 1:])
            if answer is None:
                continue
            where = f"line {answer.span.line}" if answer.span is not None else "after it"
            found.append(Diagnostic.make(
                "AIGW405", f"limit `{action.config.name}` never limits: every request it lets "
                f"through is answered by `{answer.type}` ({where}), and a request the gateway "
                "answers consumes nothing from any limit (SPEC §6, all or nothing)",
                action.span_of("name") or action.span,
                help="ngrok counts these requests; this engine counts only the requests it "
                "forwards (to `ai-gateway`, `forward-internal` or the upstream): give the answer "
                "a condition, or let the limited traffic be forwarded",
            ))
    return found


def _counts_requests(action: Action) -> bool:
    config = action.config
    if not config.LIMIT:
        return False
    return action.type == "rate-limit" or getattr(config, "unit", None) == "requests"


def _answer_after(rule: Rule, at: int, later: list[Rule]) -> Action | None:
    """The answer every request reaches after action ``at`` of ``rule``, or ``None``."""
    for action, certain in _after(rule, at, later):
        if action.type in _FORWARDS:
            return None
        if certain and action.type in _ANSWERS and getattr(action.config, "enforce", None) is not False:
            return action
    return None


def _after(rule: Rule, at: int, later: list[Rule]) -> Iterator[tuple[Action, bool]]:
    """The actions that can run after action ``at`` of ``rule``, in order, each with whether it
    runs on every request that gets there (its rule matches them all and is enforced)."""
    enforced = rule.mode != "shadow"
    for action in rule.actions[at + 1:]:
        yield action, enforced
    for next_rule in later:
        certain = next_rule.mode != "shadow" and always_matches(next_rule)
        for action in next_rule.actions:
            yield action, certain
