"""The state of one request's evaluation (:class:`Flow`), how a phase ends (:class:`Stop`),
and what the sans-IO core asks of a store (the :class:`Need` s) and gets back."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..instants import at
from ..limits.model import AsyncLimitStore, Charge, LimitStore, Outcome
from ..providers import AiRequest, PriceBook, Usage
from .compile import CompiledAction, CompiledPolicy, CompiledRule
from .trace import NO_TRACE, Recorder, TraceRecorder

__all__ = [
    "REQ", "RES", "Check", "Flow", "LimitEntry", "Need", "Release", "Reconcile", "Reserve", "Steps", "Stop", "StoreFailed",
]

REQ = "on_http_request"
RES = "on_http_response"


# ---------------------------------------------------------------------------------------------
# what the core asks of a store, and what it gets back


class Need:
    """Something the core asks of a limit store; it knows how to ask (sync and async)."""

    __slots__ = ()

    def ask(self, store: LimitStore, now: float) -> list[Outcome]:
        raise NotImplementedError

    async def aask(self, store: AsyncLimitStore, now: float) -> list[Outcome]:
        raise NotImplementedError


@dataclass(slots=True)
class Check(Need):
    charges: list[Charge]

    def ask(self, store: LimitStore, now: float) -> list[Outcome]:
        return store.check(self.charges, now)

    async def aask(self, store: AsyncLimitStore, now: float) -> list[Outcome]:
        return await store.acheck(self.charges, now)


@dataclass(slots=True)
class Reserve(Need):
    request_id: str
    charges: list[Charge]

    def ask(self, store: LimitStore, now: float) -> list[Outcome]:
        return store.reserve(self.request_id, self.charges, now)

    async def aask(self, store: AsyncLimitStore, now: float) -> list[Outcome]:
        return await store.areserve(self.request_id, self.charges, now)


@dataclass(slots=True)
class Reconcile(Need):
    request_id: str
    actual: dict[str, float]

    def ask(self, store: LimitStore, now: float) -> list[Outcome]:
        return store.reconcile(self.request_id, self.actual, now)

    async def aask(self, store: AsyncLimitStore, now: float) -> list[Outcome]:
        return await store.areconcile(self.request_id, self.actual, now)


@dataclass(slots=True)
class Release(Need):
    request_id: str

    def ask(self, store: LimitStore, now: float) -> list[Outcome]:
        store.release(self.request_id, now)
        return []

    async def aask(self, store: AsyncLimitStore, now: float) -> list[Outcome]:
        await store.arelease(self.request_id, now)
        return []


@dataclass(slots=True)
class StoreFailed:
    """Sent back instead of outcomes when the store could not answer."""

    message: str


Steps = Generator[Need, Any, None]


# ---------------------------------------------------------------------------------------------
# the state of one request


@dataclass(slots=True)
class Stop:
    """How a phase ended: who answered, with what."""

    verdict: str  # allow | deny
    status: int | None
    reason: str
    kind: str  # deny | custom-response | allow | limit | error | store | model-access | ...
    rule: CompiledRule | None = None
    action: CompiledAction | None = None
    phase: str = REQ
    headers: dict[str, str] | None = None
    body: Any = None
    span: Any = None  # where to point: the failing expression, else the action or rule


@dataclass(slots=True)
class LimitEntry:
    """One limit the request touched, as the decision's ``limits[]`` reports it."""

    name: str
    rule: str
    type: str  # rate-limit | token-limit | usage-cap
    key: str
    unit: str
    cost: float | None
    limit: float
    enforce: bool
    used: float | None = None
    remaining: float | None = None
    reset_after: float | None = None
    outcome: str = "ok"  # ok | warn | limited | pending | unavailable
    retry_after: float | None = None
    note: str | None = None
    reserved: float | None = None
    settled: str | None = None
    settled_note: str | None = None
    code: str | None = None
    """The code (aigw_policy.codes) of what went wrong with this limit, as AIGW507."""
    includes_cost: bool = False
    """The store's ``used`` counts this request's cost (it was, or would have been, admitted)."""

    def apply(self, out: Outcome) -> None:
        """Take the store's answer for this limit."""
        self.cost = out.cost
        self.includes_cost = out.outcome != "limited"
        self.used = out.used
        self.limit = out.limit
        self.remaining = out.remaining
        self.reset_after = out.reset_after
        self.outcome = out.outcome
        if out.retry_after is not None:
            self.retry_after = out.retry_after

    def reported(self, charged: bool) -> tuple[float | None, float | None]:
        """``used`` and ``remaining`` as reported: the use before this request when nothing
        was charged."""
        used = self.used
        if not charged and self.includes_cost and used is not None and self.cost:
            used = max(0.0, used - self.cost)
            return used, max(0.0, self.limit - used)
        return used, self.remaining

    def to_dict(self, charged: bool) -> dict[str, Any]:
        """The JSON form; ``used`` is the use before this request when nothing was charged."""
        used, remaining = self.reported(charged)
        out: dict[str, Any] = {
            "name": self.name, "rule": self.rule, "type": self.type, "key": self.key, "unit": self.unit,
            "cost": self.cost, "used": used, "limit": self.limit, "remaining": remaining,
            "reset_after": self.reset_after, "outcome": self.outcome, "enforce": self.enforce,
        }
        if self.reserved is not None:
            out["reserved"] = self.reserved
        if self.settled is not None:
            out["settled"] = self.settled
        if self.note is not None:
            out["note"] = self.note
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        if self.settled_note is not None:
            out["settled_note"] = self.settled_note
        if self.code is not None:
            out["code"] = self.code
        out["charged"] = charged
        return out


class Flow:
    """Everything one request's evaluation reads and writes. Not shared between threads."""

    __slots__ = (
        "cp", "rid", "now", "now_dt", "act", "ai", "identity", "rec", "prices",
        "limit_entries", "charges", "effects", "errors", "stop", "response_stop", "notes",
        "usage", "cost", "reserved", "released", "store_error", "response", "upstream",
        "lowered_output", "model", "provider", "deferred", "prompt_chars", "route", "metrics", "would_deny",
        "shard", "estimate", "no_response", "per_attempt", "pinned", "continued",
    )

    def __init__(self, cp: CompiledPolicy, rid: str, now: float, act: dict[str, Any], ai: AiRequest,
                 identity: Any, prices: PriceBook, trace: bool) -> None:
        self.cp = cp
        self.rid = rid
        self.now = now
        self.now_dt: datetime | None = None
        self.act = act
        self.ai = ai
        self.identity = identity
        self.rec: Recorder = TraceRecorder() if trace else NO_TRACE
        self.prices = prices
        self.limit_entries: dict[str, LimitEntry] = {}
        self.charges: list[tuple[CompiledRule, CompiledAction, Charge]] = []
        self.effects: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.stop: Stop | None = None
        self.response_stop: Stop | None = None
        self.notes: list[str] = []
        self.usage: Usage | None = None
        self.cost: Any = None
        self.reserved = False
        self.released = False
        self.store_error: dict[str, Any] | None = None
        self.response: dict[str, Any] | None = None
        self.upstream = False
        self.lowered_output: int | None = None
        self.model = ai.model
        self.provider = ai.provider
        self.deferred = False  # charges whose outcome is not known yet (checked at the end)
        self.prompt_chars: int | None = None  # set when a parked request dropped its prompt
        self.route: Any = None  # route.RouteRun: the request was routed by an ai-gateway action
        self.would_deny: dict[str, Any] | None = None  # the first denial a shadow rule or limit let through
        self.metrics: Any = None  # the live routing metrics snapshot the planner reads
        self.shard: tuple[str | None] | None = None  # the shard_key's value, once evaluated
        self.estimate: tuple[Any, ...] | None = None  # charging's estimated Usage, for the next limit
        self.no_response = False  # no response phase runs after an admitted reserve (nothing reads limits[...])
        self.per_attempt: list[tuple[CompiledRule, CompiledAction]] = []  # limits left to the route's attempts
        self.pinned: dict[str, Any] | None = None  # a stored response's owner, for a read of it (routing/owners.py)
        self.continued: tuple[str, dict[str, Any]] | None = None  # (previous_response_id, its owner) of a turn

    def shadow_deny(self, status: int, reason: str, rule: CompiledRule) -> None:
        """A denial that is not enforced (``mode: shadow``, ``enforce: false``): the first, in
        the order an enforced policy would meet them, is kept as ``would_deny`` (a limit
        checked with the reserve comes before a later rule's denial, as it would decide
        first); the request goes on."""
        at = (rule.phase != REQ, rule.position)
        if self.would_deny is None or at < self.would_deny["_at"]:
            self.would_deny = {"status": status, "reason": reason, "rule": rule.label, "_at": at}
        if self.rec.on:
            self.rec.outcome(f"shadow: would deny {status}: {reason}")

    @property
    def trace(self) -> list[dict[str, Any]] | None:
        """The trace records (None when not tracing)."""
        return self.rec.records

    def time(self) -> datetime:
        if self.now_dt is None:
            self.now_dt = at(self.now)  # in its own second: the day its limits are charged in
        return self.now_dt
