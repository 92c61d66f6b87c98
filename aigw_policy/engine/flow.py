"""The state of one request's evaluation (:class:`Flow`), how a phase ends (:class:`Stop`),
and what the sans-IO core asks of a store (the :class:`Need` s) and gets back."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..limits.model import Charge
from ..providers import AiRequest, PriceBook, Usage
from .compile import CompiledAction, CompiledPolicy, CompiledRule

__all__ = [
    "REQ", "RES", "Check", "Flow", "Need", "Release", "Reconcile", "Reserve", "Steps", "Stop", "StoreFailed",
]

REQ = "on_http_request"
RES = "on_http_response"


# ---------------------------------------------------------------------------------------------
# what the core asks of a store, and what it gets back


class Need:
    __slots__ = ()


@dataclass(slots=True)
class Check(Need):
    charges: list[Charge]


@dataclass(slots=True)
class Reserve(Need):
    request_id: str
    charges: list[Charge]


@dataclass(slots=True)
class Reconcile(Need):
    request_id: str
    actual: dict[str, float]


@dataclass(slots=True)
class Release(Need):
    request_id: str


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


class Flow:
    """Everything one request's evaluation reads and writes. Not shared between threads."""

    __slots__ = (
        "cp", "rid", "now", "now_dt", "act", "ai", "identity", "trace", "prices",
        "limit_entries", "charges", "effects", "errors", "stop", "response_stop", "notes",
        "usage", "cost", "reserved", "released", "store_error", "response", "upstream",
        "lowered_output", "model", "provider", "deferred", "prompt_chars",
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
        self.trace: list[dict[str, Any]] | None = [] if trace else None
        self.prices = prices
        self.limit_entries: dict[str, dict[str, Any]] = {}
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

    def time(self) -> datetime:
        if self.now_dt is None:
            self.now_dt = datetime.fromtimestamp(self.now, tz=timezone.utc)
        return self.now_dt
