"""One solver check under a time budget: sat (with a model), unsat or unknown.

z3's time on these string formulas is heavy-tailed: the same question takes 5 ms with one
configuration or seed and seconds with another, and which one wins differs from question to
question. So a check is a series of short attempts, each with a fresh solver, cycling over
configurations and seeds while the time per attempt doubles (0.05 s, 0.1 s, 0.2 s, ...), until
one answers or the check's time is up. A question that is easy for any configuration costs
little more than its best attempt; a hard one still gets most of its time in its later,
longer attempts. Every attempt is exact: only the search differs, never the formula.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3

__all__ = ["Asked", "Budget", "check"]

FIRST_ATTEMPT = 0.2
"""Seconds for the first attempt; each further one gets twice the time of the one before."""

ATTEMPTS: tuple[tuple[str, int], ...] = (("light", 0), ("plain", 7), ("full", 0), ("light", 7), ("full", 7), ("plain", 0))
"""The configurations tried in turn, with their random seeds: ``light`` propagates values and
solves equations (cheap, and most questions here are a few equalities away from an answer)
before z3's SMT core; ``plain`` is the core alone; ``full`` z3's default preprocessing, slower
to start (about 0.2 s on a 50-rule policy) but sometimes the only one that answers."""


def _solver(kind: str) -> z3.Solver:
    if kind == "light":
        return z3.Then("propagate-values", "solve-eqs", "smt").solver()
    if kind == "plain":
        return z3.SimpleSolver()
    return z3.Solver()


@dataclass
class Asked:
    """One check, for the benchmark's breakdown: about what, which question, the answer, the
    seconds it took and the attempts it made."""

    topic: str
    question: str
    result: str
    seconds: float
    attempts: int
    by: str = ""  # the configuration and seed that answered


@dataclass
class Budget:
    """Solver time: ``per_check`` seconds for one check, ``total`` for the whole question
    (None: no bound), encoding included: a question checks :meth:`spent` between rules and
    leaves the rest unasked. ``asked`` records every check; ``topic`` names what the checks
    being made are about (a rule's name in ``prove rules``); ``encoded`` counts the rules
    encoded, ``scanned`` the earlier rules looked at for one rule's answer."""

    per_check: float = 10.0
    total: float | None = None
    topic: str = ""
    asked: list[Asked] = field(default_factory=list)
    encoded: int = 0
    scanned: int = 0
    deadline: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.total is not None:
            self.deadline = time.monotonic() + self.total

    def spent(self) -> bool:
        """Whether the whole question's time is up."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def seconds(self, share: float) -> float:
        """The time a check with ``share`` of ``per_check`` may take now (0: none left)."""
        left = self.per_check * share
        if self.deadline is not None:
            left = min(left, self.deadline - time.monotonic())
        return max(0.0, left)


def check(budget: Budget, facts: list[Any], *goals: Any, share: float = 1.0,
          question: str = "") -> tuple[str, z3.ModelRef | None]:
    """``sat`` (with a model), ``unsat`` or ``unknown`` for ``facts`` and ``goals`` together,
    within ``share`` of the budget's time for one check."""
    start = time.monotonic()
    limit = budget.seconds(share)
    result, model, attempts, by = "unknown", None, 0, ""
    span = FIRST_ATTEMPT
    while True:
        left = limit - (time.monotonic() - start)
        if left <= 0.001:
            break
        kind, seed = ATTEMPTS[attempts % len(ATTEMPTS)]
        attempts += 1
        s = _solver(kind)
        s.set("timeout", max(1, int(min(span, left) * 1000)))
        s.set("random_seed", seed)
        s.add(*facts, *goals)
        r = s.check()
        if r == z3.sat:
            result, model, by = "sat", s.model(), f"{kind}/{seed}"
            break
        if r == z3.unsat:
            result, by = "unsat", f"{kind}/{seed}"
            break
        span *= 2
    budget.asked.append(Asked(budget.topic, question, result, time.monotonic() - start, attempts, by))
    return result, model
