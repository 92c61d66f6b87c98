"""What's left for me? Every limit that applies to an identity, read from the store, charged nothing.

``limits_for(compiled, store, identity, now)`` walks the request-phase rules in order and, for
each limit action (``rate-limit``, ``token-limit``, ``usage-cap``), decides from the identity
alone whether it applies and which bucket it counts in:

- a rule whose conditions read only ``identity.*`` (and ``time.now``) is evaluated: false, the
  limit does not apply and is left out; true, it applies;
- a rule whose conditions read anything else (``ai.model``, ``req.*``, an earlier limit) applies
  *when* they hold: the view says so (``applies = "conditional"``, ``when``: the texts);
- a bucket key that reads only the identity is evaluated to the store's bucket; one that reads
  the request (``ai.model``) has no single bucket: ``key`` is None and ``note`` says why.

The store is asked with :meth:`~aigw_policy.limits.LimitStore.check` and a zero cost: it writes
nothing, so asking never uses up what it reports. This is the same store and arithmetic that
enforce, so the view agrees with the next decision (SPEC section 14, ``GET /v1/aigw/limits``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..analysis.free_vars import ACTIVATION_READS
from ..env.activation import format_now
from ..limits.algorithms import bounded_key
from ..limits.model import Charge, LimitStore
from .compile import CompiledAction, CompiledExpr, CompiledPolicy, CompiledRule, text_of

__all__ = ["LimitView", "limits_for"]

_IDENTITY = ("key", "user", "team", "org", "tier")
_KNOWN = ("identity", "time.now")  # what the view can supply: the caller and the clock


@dataclass(frozen=True, slots=True)
class LimitView:
    """One limit as it stands for one identity (SPEC section 14)."""

    name: str
    rule: str
    type: str  # rate-limit | token-limit | usage-cap
    key: str | None  # the bucket; None when it depends on the request
    unit: str
    used: float | None
    limit: float
    remaining: float | None
    reset_after: float | None
    reset_at: str | None  # RFC 3339, UTC
    outcome: str  # ok | warn | limited | unknown
    enforce: bool
    applies: str  # yes | conditional
    when: tuple[str, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "rule": self.rule, "type": self.type, "key": self.key,
            "unit": self.unit, "used": self.used, "limit": self.limit, "remaining": self.remaining,
            "reset_after": self.reset_after, "reset_at": self.reset_at, "outcome": self.outcome,
            "enforce": self.enforce, "applies": self.applies,
        }
        if self.when:
            out["when"] = list(self.when)
        if self.note:
            out["note"] = self.note
        return out


def identity_activation(identity: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The activation keys the engine builds for ``identity.*`` and ``time.now``."""
    act: dict[str, Any] = {"time.now": format_now(now)}
    for name in _IDENTITY:
        value = identity.get(name)
        if value is not None:
            act["identity." + name] = str(value)
    labels = identity.get("labels")
    act["identity.labels"] = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
    return act


def _identity_only(expr: CompiledExpr) -> bool:
    reads = expr.reads
    return all(_known(".".join(p)) for p in reads.names) and all(
        _known(ACTIVATION_READS[f]) for f in reads.functions if f in ACTIVATION_READS)


def _known(name: str) -> bool:
    return any(name == k or name.startswith(k + ".") for k in _KNOWN)


def _evaluate(expr: CompiledExpr, act: dict[str, Any]) -> tuple[Any, str | None]:
    try:
        return expr.fn(act), None
    except Exception as error:  # noqa: BLE001 - a CEL error is reported, never raised
        return None, str(error) or type(error).__name__


def _applies(rule: CompiledRule, act: dict[str, Any]) -> tuple[bool, tuple[str, ...], str | None]:
    """(may apply, the conditions it depends on, a note) for ``rule`` and this identity."""
    when: list[str] = []
    for expr in rule.exprs:
        if not _identity_only(expr):
            when.append(expr.source)
            continue
        value, error = _evaluate(expr, act)
        if error is not None:
            return True, (*when, expr.source), f"condition `{expr.source}` fails for this identity: {error}"
        if value is not True:
            return False, (), None
    return True, tuple(when), None


def _bucket(action: CompiledAction, act: dict[str, Any]) -> tuple[str | None, str | None]:
    plan = action.limit
    assert plan is not None
    parts = []
    for expr in plan.bucket:
        if not _identity_only(expr):
            return None, f"the bucket depends on the request (`{expr.source}`): one per value"
        value, error = _evaluate(expr, act)
        if error is not None:
            return None, f"bucket_key `{expr.source}` fails for this identity: {error}"
        parts.append(text_of(value))
    return bounded_key("|".join(parts)), None


def limits_for(compiled: CompiledPolicy, store: LimitStore, identity: Mapping[str, Any],
               now: float) -> list[LimitView]:
    """Every request-phase limit that applies to ``identity``, in document order, as the store
    holds it at ``now``; nothing is charged. A limit named twice is listed once (its first
    action). Raises what the store raises (:class:`~aigw_policy.limits.StoreUnavailable`)."""
    act = identity_activation(identity, now)
    found: list[tuple[CompiledRule, CompiledAction, str | None, tuple[str, ...], str | None]] = []
    seen: set[str] = set()
    for rule in compiled.request_rules:
        limit_actions = [a for a in rule.actions if a.limit is not None]
        if not limit_actions:
            continue
        applies, when, note = _applies(rule, act)
        if not applies:
            continue
        for action in limit_actions:
            name = action.limit.spec.name  # type: ignore[union-attr]
            if name in seen:
                continue
            seen.add(name)
            key, key_note = _bucket(action, act)
            found.append((rule, action, key, when, note or key_note))
    charges = [Charge(a.limit.spec, key, 0.0) for _, a, key, _, _ in found if key is not None]  # type: ignore[union-attr]
    outcomes = iter(store.check(charges, now) if charges else [])
    views = []
    for rule, action, key, when, note in found:
        plan = action.limit
        assert plan is not None
        spec = plan.spec
        common = {"name": spec.name, "rule": rule.label, "type": plan.kind, "key": key, "unit": spec.unit,
                  "limit": spec.capacity, "enforce": spec.enforce, "applies": "conditional" if when else "yes",
                  "when": when, "note": note}
        if key is None:
            views.append(LimitView(used=None, remaining=None, reset_after=None, reset_at=None, outcome="unknown",
                                   **common))  # type: ignore[arg-type]
            continue
        out = next(outcomes)
        views.append(LimitView(used=out.used, remaining=out.remaining, reset_after=out.reset_after,
                               reset_at=format_now(round(now + out.reset_after, 3)), outcome=out.outcome,
                               **common))  # type: ignore[arg-type]
    return views
