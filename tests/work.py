"""Bounds on work instead of wall-clock budgets: a test that guards against slow or runaway
behaviour counts what the code does, so it gives the same answer on a busy machine.

:func:`calls` counts the function calls (Python and built-in) made while running a callable:
a deterministic measure of work for a given input. Runaway work (an alias bomb expanded, a
parse that backtracks) is caught by a budget that stops the run as soon as it is spent; a
change of complexity class by a budget proportional to the input's size (quadratic work on
a large input overruns it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["OverBudget", "calls"]


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
