"""A rule's CEL failing at run time: one helper runs an expression and turns its error into
a coded message; the failure is recorded in the decision's ``errors`` (code, message, rule,
source, span, as lint diagnostics are), then the rule's ``on_error`` applies (``deny`` ends
the request with 500, ``skip`` goes on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cel import CelError
from .compile import CompiledRule
from .flow import Flow, Stop
from .trace import span_dict

__all__ = [
    "BAD_VALUE", "CONDITION", "CONDITION_TYPE", "COST_VALUE", "EXPRESSION", "HEADER_VALUE", "TEMPLATE", "TOO_DEEP",
    "ErrorStop", "Failure", "Skip", "action_error", "failure", "rule_error", "run",
]

# the codes of aigw_policy.codes (AIGW5xx) a rule's failure carries
CONDITION = "AIGW500"
"""A CEL error in a condition."""
CONDITION_TYPE = "AIGW501"
"""A condition whose value is not a bool."""
EXPRESSION = "AIGW502"
"""A CEL error in an action's expression (a limit's ``bucket_key`` or ``cost``)."""
TEMPLATE = "AIGW503"
"""A CEL error in a template (``${...}``)."""
HEADER_VALUE = "AIGW504"
"""A rendered header value that no header can carry."""
COST_VALUE = "AIGW505"
"""A limit's ``cost`` that is not a non-negative number."""
BAD_VALUE = "AIGW509"
"""A rendered config value the action cannot use (a ``forward-internal`` url)."""
TOO_DEEP = "AIGW508"
"""An expression nested too deeply to evaluate."""


class Failure:
    """A CEL evaluation that failed: its code and one-line message."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def failure(exc: CelError | RecursionError, code: str) -> Failure:
    """The coded message of a CEL error (``code`` unless the error carries its own, as going
    over the cost budget does: AIGW520)."""
    if isinstance(exc, RecursionError):
        return Failure(TOO_DEEP, "expression too deep to evaluate")
    own = getattr(exc, "diagnostic", None)
    return Failure(own if isinstance(own, str) else code, exc.message)


def run(fn: Callable[[Any], Any], act: Any, code: str) -> Any:
    """The value of a compiled CEL text over ``act``, or the :class:`Failure` it ended in."""
    try:
        return fn(act)
    except (CelError, RecursionError) as exc:
        return failure(exc, code)


class Skip(Exception):
    """A CEL error in an action under ``on_error: skip``: the rest of the rule is skipped."""


class ErrorStop(Exception):
    """A CEL error in an action under ``on_error: deny``: the phase ends with ``stop``."""

    def __init__(self, stop: Stop) -> None:
        self.stop = stop


def rule_error(flow: Flow, rule: CompiledRule, phase: str, source: str, span: Any, fail: Failure,
               field: str | None) -> Stop | None:
    """Record a rule's failure; ``on_error: deny`` ends the request with 500, ``skip`` goes on."""
    entry = {"code": fail.code, "phase": phase, "rule": rule.label, "source": source, "span": span_dict(span),
             "message": fail.message, "on_error": rule.on_error}
    if field is not None:
        entry["field"] = field
    flow.errors.append(entry)
    if rule.on_error == "skip":
        return None
    where = f" at line {span.line}" if span is not None else ""
    reason = f"rule `{rule.label}` failed: {fail.message} in `{source}`{where} (on_error: deny)"
    return Stop("deny", 500, reason, "error", rule, None, phase, body=reason, span=span)


def action_error(flow: Flow, rule: CompiledRule, phase: str, source: str, span: Any, fail: Failure,
                 field: str) -> ErrorStop | Skip:
    """The exception that carries an action's failure out of its handler."""
    stop = rule_error(flow, rule, phase, source, span, fail, field)
    return Skip() if stop is None else ErrorStop(stop)
