"""A rule's CEL failing at run time: recorded in the decision's errors, then the rule's
``on_error`` applies (``deny`` ends the request with 500, ``skip`` goes on)."""

from __future__ import annotations

from typing import Any

from .compile import CompiledRule
from .flow import Flow, Stop
from .trace import span_dict

__all__ = ["ErrorStop", "Skip", "rule_error"]


class Skip(Exception):
    """A CEL error in an action under ``on_error: skip``: the rest of the rule is skipped."""


def rule_error(flow: Flow, rule: CompiledRule, phase: str, source: str, span: Any, message: str,
                field: str | None) -> Stop | None:
    """Record a CEL error; ``on_error: deny`` ends the request with 500, ``skip`` goes on."""
    entry = {"phase": phase, "rule": rule.label, "source": source, "span": span_dict(span),
             "message": message, "on_error": rule.on_error}
    if field is not None:
        entry["field"] = field
    flow.errors.append(entry)
    if rule.on_error == "skip":
        return None
    where = f" at line {span.line}" if span is not None else ""
    reason = f"rule `{rule.label}` failed: {message} in `{source}`{where} (on_error: deny)"
    return Stop("deny", 500, reason, "error", rule, None, phase, body=reason, span=span)



class ErrorStop(Exception):
    def __init__(self, stop: Stop) -> None:
        self.stop = stop
