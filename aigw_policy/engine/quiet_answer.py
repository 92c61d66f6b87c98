"""Whether the response phase of the gateway's own answer can run anything.

A request a rule denied gets the gateway's answer, and the response rules see it (SPEC §4). In
most policies those rules look at the status first (``res.status_code >= 500``) and none of
them matches the gateway's 403 or 429. When every response rule's first condition reads only
``res.status_code``, whether one of them can match a status is a fact of the policy: the
conditions are pure, so each is evaluated once per status (on an activation holding only the
status) and the answer kept. A status none of them matches skips the phase: no rule of it
would have run (a condition that is not ``false``, an error included, runs the phase as
before). :func:`quiet_answers` gives None for a policy where this cannot be known.
"""

from __future__ import annotations

from typing import Any

from ..analysis.free_vars import ACTIVATION_READS

__all__ = ["QuietAnswers", "quiet_answers"]

_STATUS = ("res", "status_code")
_KEPT = 1024
"""At most this many statuses remembered (a policy's answers use a handful)."""


class QuietAnswers:
    """``quiet(status)``: no response rule runs for the gateway's answer with ``status``."""

    __slots__ = ("_exprs", "_known")

    def __init__(self, exprs: tuple[Any, ...]) -> None:
        self._exprs = exprs  # each response rule's first condition (a CompiledExpr)
        self._known: dict[int, bool] = {}

    def __call__(self, status: int) -> bool:
        known = self._known.get(status)
        if known is None:
            known = self._learn(status)
        return known

    def _learn(self, status: int) -> bool:
        quiet = type(status) is int
        act = {"res.status_code": status}
        for expr in self._exprs if quiet else ():
            try:
                value = expr.fn(act)
            except Exception:  # noqa: BLE001 - an error is not "false": the phase runs and says it
                value = None
            if value is not False:
                quiet = False
                break
        if len(self._known) < _KEPT:
            self._known[status] = quiet
        return quiet


def quiet_answers(rules: tuple[Any, ...]) -> QuietAnswers | None:
    """The test for the response rules ``rules``; None when one of them has no condition, or
    its first condition reads anything but ``res.status_code`` (or no rule is there)."""
    firsts = []
    for rule in rules:
        if not rule.exprs:
            return None
        reads = rule.exprs[0].reads
        if reads.names != {_STATUS} or any(f in ACTIVATION_READS for f in reads.functions):
            return None
        firsts.append(rule.exprs[0])
    return QuietAnswers(tuple(firsts)) if firsts else None
