"""Bounds on work instead of wall-clock budgets: a test that guards against slow or runaway
behaviour counts what the code does, so it gives the same answer on a busy machine.

:func:`calls` counts the function calls (Python and built-in) made while running a callable:
a deterministic measure of work for a given input. Runaway work (an alias bomb expanded, a
parse that backtracks) is caught by a budget that stops the run as soon as it is spent; a
change of complexity class by comparing the work at n and at 2n (:func:`growth`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["OverBudget", "calls", "growth"]


class OverBudget(BaseException):
    """Raised inside the measured code when it spends its budget (a ``BaseException``, so the
    code under test cannot turn it into one of its own errors)."""


def calls(fn: Callable[[], Any], budget: int | None = None) -> int:
    """The number of calls ``fn()`` makes; raises :class:`OverBudget` past ``budget``."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call" or event == "c_call":
            count += 1
            if budget is not None and count > budget:
                sys.setprofile(None)
                raise OverBudget(f"more than {budget:,} calls")

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(previous)
    return count


def growth(make: Callable[[int], Callable[[], Any]], n: int) -> float:
    """How much more work at ``2n`` than at ``n``: about 2 for linear work, 4 for quadratic."""
    return calls(make(2 * n)) / max(1, calls(make(n)))
