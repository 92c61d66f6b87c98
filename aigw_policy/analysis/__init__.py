"""Lint passes over the IR: a named, ordered tuple of checks, each in its own module.

Every pass is ``(policy, source, options) -> diagnostics`` and never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..source import Source
from . import cel_check, cost, engine_checks, structure

__all__ = ["PASSES", "LintOptions", "Pass", "run_passes"]


@dataclass(frozen=True, slots=True)
class LintOptions:
    """What the optional checks look for.

    ``max_cost``: the worst-case CEL cost above which an expression gets AIGW310;
    ``runtime_lookups``: also warn on lookups that can fail at run time (AIGW403).
    """

    max_cost: int = cost.DEFAULT_MAX_COST
    runtime_lookups: bool = False


Pass = Callable[[Policy, Source | None, LintOptions], list[Diagnostic]]


def _unless(flag: str, check: Callable[[Policy, Source | None], list[Diagnostic]]) -> Pass:
    def run(policy: Policy, source: Source | None, options: LintOptions) -> list[Diagnostic]:
        return check(policy, source) if getattr(options, flag) else []

    return run


def _always(check: Callable[[Policy, Source | None], list[Diagnostic]]) -> Pass:
    return lambda policy, source, options: check(policy, source)


PASSES: tuple[tuple[str, Pass], ...] = (
    ("structure", _always(structure.check)),
    ("cel", _always(cel_check.check)),
    ("cost", lambda policy, source, options: cost.check(policy, source, options.max_cost)),
    ("constant-conditions", _always(engine_checks.check_constant)),
    ("shadowed-rules", _always(engine_checks.check_shadowed)),
    ("limits-order", _always(engine_checks.check_limits_order)),
    ("runtime-lookups", _unless("runtime_lookups", engine_checks.check_lookups)),
)


def run_passes(
    policy: Policy, source: Source | None = None, options: LintOptions | None = None
) -> list[Diagnostic]:
    """Run every pass in order; a pass never raises, it returns diagnostics."""
    options = options or LintOptions()
    found: list[Diagnostic] = []
    for _, check in PASSES:
        found.extend(check(policy, source, options))
    return found
