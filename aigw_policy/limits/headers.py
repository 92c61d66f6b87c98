"""Response headers from limit outcomes, free of I/O: ``RateLimit-Policy`` and ``RateLimit``
(IETF httpapi draft, structured-field lists, one item per limit) and ``Retry-After``.

>>> from aigw_policy.limits import LimitSpec, Outcome
>>> spec = LimitSpec("team-rpm", "requests", "fixed_window", 100, 60)
>>> o = Outcome("team-rpm", "research", "requests", 1, 100, 100, 0, 12.5, "limited", 12.5)
>>> rate_limit_headers([o], [spec])
{'RateLimit-Policy': '"team-rpm";q=100;w=60', 'RateLimit': '"team-rpm";r=0;t=13', 'Retry-After': '13'}

Choices, written down: the draft's ``q`` and ``r`` are integers; a token or USD limit with a
fractional value is written as a structured-field decimal (3 places) instead of being rounded
away, and non-request units carry ``qu`` (``"tokens"``, ``"usd"``). Bucket keys are not sent
(``pk``): they name teams and users. Times round up to whole seconds. ``Retry-After`` is the
longest wait among limits that denied the request (``enforce: false`` limits never add it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from .model import LimitSpec, Outcome

__all__ = ["NOMINAL_PERIOD", "rate_limit_headers", "retry_after_header"]

NOMINAL_PERIOD = {"hour": 3600, "day": 86400, "week": 604800, "month": 2592000}


def _sf_string(s: str) -> str:
    return '"' + "".join(ch for ch in s.replace("\\", "\\\\").replace('"', '\\"')
                         if 0x20 <= ord(ch) < 0x7F) + '"'


def _num(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _window(spec: LimitSpec) -> int:
    if spec.algorithm == "calendar" and spec.period in NOMINAL_PERIOD:
        return NOMINAL_PERIOD[spec.period]
    return max(1, math.ceil(spec.window))


def retry_after_header(outcomes: Iterable[Outcome],
                       specs: Mapping[str, LimitSpec] | None = None) -> str | None:
    """Whole seconds until the request could be admitted, from the enforced limited ones."""
    waits = [o.retry_after for o in outcomes
             if o.outcome == "limited" and o.retry_after is not None
             and (specs is None or o.name not in specs or specs[o.name].enforce)]
    return str(max(0, math.ceil(max(waits)))) if waits else None


def rate_limit_headers(outcomes: Sequence[Outcome],
                       specs: Sequence[LimitSpec] | Mapping[str, LimitSpec]) -> dict[str, str]:
    """The headers for a decision's limit outcomes (empty when there are none)."""
    by_name = dict(specs) if isinstance(specs, Mapping) else {s.name: s for s in specs}
    policy, state = [], []
    for o in outcomes:
        spec = by_name.get(o.name)
        name = _sf_string(o.name)
        item = f"{name};q={_num(max(0.0, o.limit))}"
        if spec is not None:
            item += f";w={_window(spec)}"
        if o.unit != "requests":
            item += f";qu={_sf_string(o.unit)}"
        policy.append(item)
        remaining = max(0.0, o.remaining)
        if o.unit == "requests":
            remaining = math.floor(remaining)
        state.append(f"{name};r={_num(remaining)};t={max(0, math.ceil(o.reset_after))}")
    out: dict[str, str] = {}
    if policy:
        out["RateLimit-Policy"] = ", ".join(policy)
        out["RateLimit"] = ", ".join(state)
    retry = retry_after_header(outcomes, by_name)
    if retry is not None:
        out["Retry-After"] = retry
    return out
