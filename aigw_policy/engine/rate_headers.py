"""A decision's rate-limit headers: ``RateLimit-Policy``, ``RateLimit`` (IETF httpapi draft)
and ``Retry-After`` for the limits the request touched; the gateway sends them with its answer.

Every decision a gateway reads builds them (a forwarded request's twice: its request decision
and its final one), so they are written straight from the limit entries, and the part that
depends on the limit alone (its policy item and quoted name) is formatted once per compiled
policy (:func:`limit_items`, kept as ``CompiledPolicy.header_items``). A decision with a
limited entry (``Retry-After``) takes the general path: ``limits.headers.rate_limit_headers``
over the entries as the decision reports them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..limits.headers import _num, rate_limit_headers
from ..limits.model import LimitSpec, Outcome

__all__ = ["entry_headers", "limit_item", "limit_items", "rate_limit_headers_of"]


def limit_item(name: str, unit: str, limit: float, spec: LimitSpec) -> tuple[str, str]:
    """A limit's ``RateLimit-Policy`` item and its quoted name, as ``rate_limit_headers``
    writes them."""
    one = rate_limit_headers([Outcome(name, "", unit, 0.0, 0.0, limit, 0.0, 0.0, "ok", None)], {name: spec})
    return one["RateLimit-Policy"], one["RateLimit"].rsplit(";r=", 1)[0]


def limit_items(limits: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[str, float, str, str]]:
    """For each limit of a policy (``CompiledPolicy.limits``): its unit, its capacity, and
    :func:`limit_item` for them (what an entry of that unit and limit gets)."""
    out = {}
    for name, (_rule, action) in limits.items():
        spec = action.limit.spec
        out[name] = (spec.unit, spec.capacity, *limit_item(name, spec.unit, spec.capacity, spec))
    return out


def entry_headers(cp: Any, pairs: Sequence[tuple[Any, bool]]) -> dict[str, str]:
    """The headers for ``pairs`` of (:class:`~aigw_policy.engine.flow.LimitEntry`, whether it
    stands charged), the same as :func:`rate_limit_headers_of` over the entries' ``to_dict``."""
    policy: list[str] = []
    state: list[str] = []
    known = cp.limits
    items = cp.header_items
    for e, charged in pairs:
        name = e.name
        used = e.used
        if used is None or name not in known:
            continue
        if e.outcome == "limited":
            return rate_limit_headers_of(cp, [e.to_dict(c) for e, c in pairs])
        unit, limit = e.unit, e.limit
        got = items.get(name)
        if got is not None and got[0] == unit and got[1] == limit:
            item, quoted = got[2], got[3]
        else:
            item, quoted = limit_item(name, unit, limit, known[name][1].limit.spec)
        policy.append(item)
        cost = e.cost
        if not charged and e.includes_cost and cost:  # as LimitEntry.reported: the use before this request
            remaining = max(0.0, limit - max(0.0, used - cost))
        else:
            remaining = e.remaining or 0.0
            if not remaining > 0.0:  # max(0.0, remaining), without the call
                remaining = 0.0
        if unit == "requests":
            whole = math.floor(remaining)  # an int >= 0: what _num writes for it, below 1e15
            r = str(whole) if whole < 1e15 else _num(whole)
        else:
            r = _num(remaining)
        t = math.ceil(e.reset_after or 0.0)
        state.append(f"{quoted};r={r};t={t if t > 0 else 0}")
    if not policy:
        return {}
    return {"RateLimit-Policy": ", ".join(policy), "RateLimit": ", ".join(state)}


def rate_limit_headers_of(cp: Any, limits: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The headers by :func:`~aigw_policy.limits.headers.rate_limit_headers` from a
    decision's ``limits`` entries (the general path)."""
    specs = {}
    outcomes = []
    for e in limits:
        hit = cp.limits.get(e["name"])
        if hit is None or e.get("used") is None:
            continue
        specs[e["name"]] = hit[1].limit.spec
        outcomes.append(Outcome(e["name"], e["key"], e["unit"], e.get("cost") or 0.0, e["used"],
                                e["limit"], e.get("remaining") or 0.0, e.get("reset_after") or 0.0,
                                e["outcome"], e.get("retry_after")))
    return rate_limit_headers(outcomes, specs) if outcomes else {}
