"""The worst-case cost of every CEL text of a policy (in the manner of cel-go's estimator).

An expression over the maximum is an error, AIGW310 (so ``load`` refuses it, as ``lint``
does); ``aigw-policy lint --show-cost`` lists every cost. The runtime counterpart is the
evaluation budget (:mod:`aigw_policy.cel.budget`, AIGW520).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..source import Source, Span
from .cel_check import cel_texts

__all__ = ["DEFAULT_MAX_COST", "ExpressionCost", "check", "costs"]

# A comprehension nested in a comprehension over lists of unknown size (1,000 x 1,000
# assumed) doing string work on each pair (1e10 and up) is past it, as it would be past the
# runtime budget of 100,000 iterations; one comprehension with a regex on each element
# (1,000 x 100,000 characters, ngrok's documented `getReqHeader('tier').exists(v,
# v.matches('(?i)gold'))`) is not, nor a few of them in one condition.
DEFAULT_MAX_COST = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ExpressionCost:
    source: str
    span: Span | None
    cost: int


def costs(policy: Policy, source: Source | None = None) -> list[ExpressionCost]:
    """The cost of every CEL text that parses and type-checks, in document order."""
    from ..env import check_text

    out: list[ExpressionCost] = []
    for text, span in cel_texts(policy):
        known = check_text(text)
        if known is not None and known[2] is not None:  # errors: reported by the `cel` pass
            out.append(ExpressionCost(text, span, known[2]))
    return out


def check(policy: Policy, source: Source | None, max_cost: int) -> list[Diagnostic]:
    return _size(policy) + [
        Diagnostic.make(
            "AIGW310",
            f"`{_short(c.source)}` may cost up to {c.cost:,}, over the maximum of {max_cost:,}",
            c.span,
            help="bound the input (e.g. `size(x) < 100 && ...`) or raise `--max-cost`",
        )
        for c in costs(policy, source)
        if c.cost > max_cost
    ]


def _size(policy: Policy) -> list[Diagnostic]:
    """AIGW305 for an expression, or a policy's expressions together, too large to compile
    (the compile budget of :mod:`aigw_policy.cel.cost`)."""
    from ..env import check_text
    from ..cel.ast import count_nodes
    from ..cel.cost import MAX_NODES, MAX_POLICY_NODES

    out: list[Diagnostic] = []
    total = 0
    seen: set[str] = set()
    for text, span in cel_texts(policy):
        known = check_text(text) if text not in seen else None
        seen.add(text)
        if known is None:
            continue
        n = count_nodes(known[0], MAX_POLICY_NODES)
        if n > MAX_NODES:
            out.append(Diagnostic.make("AIGW305", f"`{_short(text)}` is too large to compile (over "
                                       f"{MAX_NODES:,} nodes)", span, help=_HELP))
        total += n
        if total > MAX_POLICY_NODES:
            out.append(Diagnostic.make("AIGW305", f"the policy's CEL expressions are too large to "
                                       f"compile together (over {MAX_POLICY_NODES:,} nodes)", span,
                                       help=_HELP))
            break
    return out


_HELP = "split it, or write a long `||` chain of equalities as `x in [...]`"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
