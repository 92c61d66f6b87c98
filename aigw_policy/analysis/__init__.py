"""Lint passes over the IR: a named, ordered tuple of checks, each in its own module.

Every pass is ``(policy, source, options) -> diagnostics`` and never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..diagnostics import Diagnostic
from ..ir import Policy
from ..source import Source
from . import action_vars, cel_check, cost, engine_checks, strategies, structure, uncounted_limits, uninterpolated

__all__ = ["PASSES", "LintOptions", "Pass", "run_passes"]


@dataclass(frozen=True, slots=True)
class LintOptions:
    """What the optional checks look for.

    ``max_cost``: the worst-case CEL cost above which an expression gets AIGW310;
    ``runtime_lookups``: also warn on lookups that can fail at run time (AIGW403).
    """

    max_cost: int = cost.DEFAULT_MAX_COST
    runtime_lookups: bool = False
    complete: bool = True
    """Whether the policy holds every rule written. A reader leaves out the rules with
    errors; the checks that reason about the whole document (``no limit named x``) then
    hold back, since the missing limit may be in a rule that was left out."""


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
    ("strategies", _always(strategies.check)),
    ("cost", lambda policy, source, options: cost.check(policy, source, options.max_cost)),
    ("constant-conditions", _always(engine_checks.check_constant)),
    ("header-case", _always(engine_checks.check_header_case)),
    ("shadowed-rules", _always(engine_checks.check_shadowed)),
    ("limits-order", lambda policy, source, options: engine_checks.check_limits_order(
        policy, source, complete=options.complete)),
    ("vars-order", lambda policy, source, options: engine_checks.check_vars_order(
        policy, source, complete=options.complete)),
    ("action-results-order", _always(engine_checks.check_action_results_order)),
    ("response-reads", _always(engine_checks.check_response_reads)),
    ("uncounted-limits", _always(uncounted_limits.check)),
    ("uninterpolated", _always(uninterpolated.check)),
    ("action-vars", lambda policy, source, options: action_vars.check(
        policy, source, complete=options.complete)),
    ("runtime-lookups", _unless("runtime_lookups", engine_checks.check_lookups)),
)


def run_passes(
    policy: Policy, source: Source | None = None, options: LintOptions | None = None,
    *, complete: bool = True,
) -> list[Diagnostic]:
    """Run every pass in order; a pass never raises, it returns diagnostics. ``complete``
    is false when reading left rules out for their errors."""
    options = options or LintOptions()
    if not complete:
        options = replace(options, complete=False)
    found: list[Diagnostic] = []
    for _, check in PASSES:
        found.extend(check(policy, source, options))
    return found
