"""Lint passes over the IR: a named, ordered tuple of checks, each in its own module."""

from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..source import Source
from . import cel_check, engine_checks, structure

__all__ = ["PASSES", "Pass", "run_passes"]

Pass = Callable[[Policy, Source | None], list[Diagnostic]]

PASSES: tuple[tuple[str, Pass], ...] = (
    ("structure", structure.check),
    ("cel", cel_check.check),
    ("constant-conditions", engine_checks.check_constant),
    ("shadowed-rules", engine_checks.check_shadowed),
    ("limits-order", engine_checks.check_limits_order),
)


def run_passes(policy: Policy, source: Source | None = None) -> list[Diagnostic]:
    """Run every pass in order; a pass never raises, it returns diagnostics."""
    found: list[Diagnostic] = []
    for _, check in PASSES:
        found.extend(check(policy, source))
    return found
