"""The limit store contract: what the engine asks of a store, and what it gets back.

The engine evaluates rules without touching a store; it gathers the *charges* a request
would make (one per limit action that ran: limit, bucket key, estimated cost) and then asks
the store, in one call, to reserve them all or nothing. Stores (memory, SQLite, Redis)
implement :class:`LimitStore` and its async twin :class:`AsyncLimitStore`; all of them give
the same outcomes for the same calls. A store of the embedder's own need only be a
:class:`LimitStore`: the async engine then calls it in the event loop's thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "Algorithm",
    "AsyncLimitStore",
    "Charge",
    "LimitSpec",
    "LimitStore",
    "Outcome",
    "StoreUnavailable",
    "new_charge",
    "new_outcome",
    "Unit",
]

Algorithm = Literal["sliding_window", "fixed_window", "token_bucket", "calendar"]
Unit = Literal["requests", "tokens", "usd"]
Verdict = Literal["ok", "warn", "limited"]


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit as compiled from a `rate-limit`, `token-limit` or `usage-cap` action.

    ``window`` is the window in seconds (``rate``, or a duration ``period``); calendar caps
    (``algorithm == "calendar"``) use ``period`` (hour, day, week, month) in ``timezone``.
    """

    name: str
    unit: Unit
    algorithm: Algorithm
    capacity: float
    window: float
    period: str | None = None
    timezone: str = "UTC"
    warn_at: float | None = None
    enforce: bool = True


@dataclass(frozen=True, slots=True)
class Charge:
    """What one request asks of one limit: ``cost`` in the limit's unit, in bucket ``key``.

    ``key`` is the bucket key values joined by ``|`` (``""`` when the limit has no key).
    ``shard`` is the request's tenant (the document's ``shard_key``): the cluster store puts
    the bucket on that tenant's shard; other stores ignore it. It takes no part in equality.
    """

    spec: LimitSpec
    key: str
    cost: float
    shard: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state of one limit for one request, as the decision reports it.

    ``used`` includes this request's cost when it was admitted. ``reset_after`` is seconds
    until the window (or period) frees capacity; ``retry_after`` is set when limited.
    """

    name: str
    key: str
    unit: Unit
    cost: float
    used: float
    limit: float
    remaining: float
    reset_after: float
    outcome: Verdict
    retry_after: float | None = None


_OUTCOME_SETTERS = tuple(Outcome.__dict__[f.name].__set__ for f in fields(Outcome))
# a field added to Outcome fails here, at import
(_set_name, _set_key, _set_unit, _set_cost, _set_used, _set_limit, _set_remaining,
 _set_reset_after, _set_outcome, _set_retry_after) = _OUTCOME_SETTERS


def new_outcome(name: str, key: str, unit: Unit, cost: float, used: float, limit: float,
                remaining: float, reset_after: float, outcome: Verdict,
                retry_after: float | None) -> Outcome:
    """``Outcome(...)`` with every field given, built through its slots: the frozen
    dataclass's ``__init__`` sets each field with ``object.__setattr__``, twice the time, and a
    store builds one per charge of every reserve and reconcile. The same object either way."""
    o = _new(Outcome)
    _set_name(o, name)
    _set_key(o, key)
    _set_unit(o, unit)
    _set_cost(o, cost)
    _set_used(o, used)
    _set_limit(o, limit)
    _set_remaining(o, remaining)
    _set_reset_after(o, reset_after)
    _set_outcome(o, outcome)
    _set_retry_after(o, retry_after)
    return o


_new = object.__new__
_set_spec, _set_charge_key, _set_charge_cost, _set_shard = (
    Charge.__dict__[f.name].__set__ for f in fields(Charge))


def new_charge(spec: LimitSpec, key: str, cost: float, shard: str | None) -> Charge:
    """``Charge(spec, key, cost, shard)`` built through its slots, as :func:`new_outcome`
    (the engine makes one per limit action of every request)."""
    c = _new(Charge)
    _set_spec(c, spec)
    _set_charge_key(c, key)
    _set_charge_cost(c, cost)
    _set_shard(c, shard)
    return c


class StoreUnavailable(Exception):
    """The store could not answer in time; the engine applies the document's fail mode."""


@runtime_checkable
class LimitStore(Protocol):
    """A limit store. Every method is safe to call from many threads (and, for the SQLite and
    Redis stores, from many processes and hosts at once). ``now`` is Unix time in seconds;
    stores that keep their own clock (Redis server time) may ignore it, except in tests.
    """

    def check(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        """What each charge would give if reserved now; writes nothing."""
        ...

    def reserve(self, request_id: str, charges: Sequence[Charge], now: float) -> list[Outcome]:
        """All or nothing: if every enforced charge fits, record them all (charges with
        ``enforce=False`` are recorded whatever their outcome) and return the outcomes;
        otherwise record nothing and return outcomes with the limited ones marked.
        Idempotent by ``request_id``: a repeated call returns the first call's outcomes and
        charges nothing more. A denied request reserved nothing and is not remembered: a
        repeated call decides afresh."""
        ...

    def reconcile(self, request_id: str, actual: Mapping[str, float], now: float) -> list[Outcome]:
        """Replace reserved costs by actual ones (by limit name; a name not given keeps its
        reservation), in the window where the reservation was made. Idempotent. The built-in
        stores keep a reconcile (or release) they could not make and retry it until it lands
        (``settle_pending()``; docs/limits.md)."""
        ...

    def release(self, request_id: str, now: float) -> None:
        """Give back everything ``request_id`` reserved (upstream error, cancel). Idempotent."""
        ...

    def seed(self, spec: LimitSpec, key: str, used: float, now: float) -> None:
        """Set a bucket's usage (``explain``'s ``state``, tests)."""
        ...


@runtime_checkable
class AsyncLimitStore(Protocol):
    """The async twin of :class:`LimitStore`: the same contract, each method awaited (the
    built-in stores run their sync method in a worker thread, or talk to Redis with asyncio)."""

    async def acheck(self, charges: Sequence[Charge], now: float) -> list[Outcome]:
        """:meth:`LimitStore.check`."""
        ...

    async def areserve(self, request_id: str, charges: Sequence[Charge], now: float) -> list[Outcome]:
        """:meth:`LimitStore.reserve`."""
        ...

    async def areconcile(self, request_id: str, actual: Mapping[str, float], now: float) -> list[Outcome]:
        """:meth:`LimitStore.reconcile`."""
        ...

    async def arelease(self, request_id: str, now: float) -> None:
        """:meth:`LimitStore.release`."""
        ...

    async def aseed(self, spec: LimitSpec, key: str, used: float, now: float) -> None:
        """:meth:`LimitStore.seed`."""
        ...
