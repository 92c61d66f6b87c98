"""The worst-case cost of every CEL text of a policy (in the manner of cel-go's estimator).

An expression over the maximum gets AIGW310; ``aigw-policy lint --show-cost`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..source import Source, Span
from .cel_check import cel_texts

__all__ = ["DEFAULT_MAX_COST", "ExpressionCost", "check", "costs"]

DEFAULT_MAX_COST = 1_000_000


@dataclass(frozen=True, slots=True)
class ExpressionCost:
    source: str
    span: Span | None
    cost: int


def costs(policy: Policy, source: Source | None = None) -> list[ExpressionCost]:
    """The cost of every CEL text that parses and type-checks, in document order."""
    from ..cel.api import condition_cost
    from ..cel.parser import CelSyntaxError, parse

    out: list[ExpressionCost] = []
    for text, span in cel_texts(policy):
        try:
            node = parse(text)
        except (CelSyntaxError, RecursionError):
            continue  # reported by the `cel` pass
        value = condition_cost(node)
        if value is not None:
            out.append(ExpressionCost(text, span, value))
    return out


def check(policy: Policy, source: Source | None, max_cost: int) -> list[Diagnostic]:
    return [
        Diagnostic.make(
            "AIGW310",
            f"`{_short(c.source)}` may cost up to {c.cost:,}, over the maximum of {max_cost:,}",
            c.span,
            help="bound the input (e.g. `size(x) < 100 && ...`) or raise `--max-cost`",
        )
        for c in costs(policy, source)
        if c.cost > max_cost
    ]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
