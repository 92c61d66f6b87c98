"""The runtime cost budget of one evaluation (in the manner of Kubernetes' CEL cost limit).

Only comprehensions can make an evaluation's work grow faster than its input (three nested
``exists`` over 300 tools are 27 million iterations), so the budget counts comprehension
iterations. Generated code charges each comprehension its range size when it starts (an
upper bound of the iterations it performs: the charge is decided before the work is done)
against a counter local to that evaluation (thread-safe, no global state). Past the budget
the evaluation ends with :class:`OverBudget`, a CEL error no ``||``, ``&&`` or macro can
absorb: the generated entry function checks the counter once more before returning.

Expressions without comprehensions carry no budget code at all (they are linear in their
size and input).
"""

from __future__ import annotations

from .runtime.helpers import iter_range
from .runtime.values import CelError

__all__ = ["DEFAULT_BUDGET", "CODE", "NAMES", "OverBudget", "charge", "charge_range", "check_budget"]

DEFAULT_BUDGET = 100_000
"""Comprehension iterations one evaluation may perform: ~25 ms of a simple body on a busy
2-core VM. Kubernetes' per-expression limit is 1,000,000 of its cost units, of which one
iteration spends several (the iteration and each operation of its body)."""

CODE = "AIGW520"


class OverBudget(CelError):
    """An evaluation that went over its cost budget (code ``resource_exhausted``)."""

    def __init__(self, budget: int) -> None:
        super().__init__(
            f"evaluation cost over its budget of {budget:,} comprehension iterations ({CODE})",
            "resource_exhausted",
        )
        self.budget = budget
        self.diagnostic = CODE


def charge(counter: list[int], c: object) -> object:
    """Charge a comprehension's range ``c`` to ``counter`` (``[left, budget]``); ``c``."""
    if isinstance(c, (list, dict, tuple)):
        counter[0] -= len(c)  # type: ignore[arg-type]
    if counter[0] < 0:
        raise OverBudget(counter[1])
    return c


def charge_range(counter: list[int], c: object) -> object:
    """:func:`charge`, then the range to iterate (``_it``): for the fast body's ``any(...)``
    and ``all(...)``, in one call."""
    if type(c) is list:
        counter[0] -= len(c)  # type: ignore[arg-type]
        if counter[0] < 0:
            raise OverBudget(counter[1])
        return c
    return iter_range(charge(counter, c))


def check_budget(counter: list[int], result: object) -> object:
    """The result of an evaluation, unless it went over budget on the way (an error that
    ``||``, ``&&`` or a macro absorbed still ends the evaluation)."""
    if counter[0] < 0:
        raise OverBudget(counter[1])
    return result


NAMES: dict[str, object] = {"_rng": charge, "_rngit": charge_range, "_spent": check_budget}
"""What generated code with a budget needs in its namespace."""
