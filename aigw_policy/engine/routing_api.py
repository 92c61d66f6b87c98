"""The engine's attempt API (SPEC §12): ``attempt(rid, outcome)`` / ``aattempt`` drive a
routed request's failover, one step per call, and ``evaluate`` drives it itself over a
REQUEST.json's simulated ``attempts``.

The loop a caller runs (the gateway's, or a library user's)::

    decision = engine.evaluate(request)          # verdict allow, decision.routing set
    step = engine.attempt(decision.id, None)
    while isinstance(step, Next):
        outcome = forward(step.attempt)           # AttemptOutcome(status_code=..., ...)
        step = engine.attempt(decision.id, outcome)
    if isinstance(step, Serve):
        final = engine.complete(decision.id, response)   # the served answer: usage, cost
    else:
        final = step.decision                     # Finished: answer final.response
"""

from __future__ import annotations

import json
import threading
import time as _time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..limits.model import AsyncLimitStore, LimitStore
from ..providers.gemini_caches import used_cache
from ..routing.model import AttemptOutcome, Finished, Next, RouteMetrics, Serve
from ..routing.owners import Owners, creator_of
from .attempts import End, finish, step
from .cooldown import Cooldowns, defer_cooling
from .decision import Decision
from .errors import UnknownRequestError
from .flow import Flow, Need
from .pending import Parked

__all__ = ["ReadMetrics", "ReadOwner", "RoutingMixin", "continued_of", "owner_of", "pinned_owner"]

Step = Next | Serve | Finished


@dataclass(slots=True)
class ReadMetrics(Need):
    """The live routing metrics the planner reads (not the limit store: the engine's
    ``route_metrics``, which may keep them in the same database)."""

    metrics: RouteMetrics

    def ask(self, store: LimitStore, now: float) -> Any:
        return self.metrics.snapshot(now)

    async def aask(self, store: AsyncLimitStore, now: float) -> Any:
        return await self.metrics.asnapshot(now)


@dataclass(slots=True)
class ReadOwner(Need):
    """Who holds background response ``response_id`` (:mod:`aigw_policy.routing.owners`), for
    a read of it: the provider, model and key the route served it from, or None."""

    owners: Owners
    response_id: str

    def ask(self, store: LimitStore, now: float) -> Any:
        return self.owners.owner(self.response_id, now)

    async def aask(self, store: AsyncLimitStore, now: float) -> Any:
        return await self.owners.aowner(self.response_id, now)


def owner_of(flow: Flow) -> tuple[str, dict[str, Any]] | None:
    """The background response a completed routed request queued and who serves its reads
    (the attempt that served it, and the caller's identity as a hash), or None."""
    run = flow.route
    if run is None or run.held is None or run.served is None:
        return None
    served = run.served
    return run.held, {"provider": served["provider"], "model": served["model"], "key_id": served["key_id"],
                            "creator": creator_of(flow.identity)}


def continued_of(req: Any) -> str | None:
    """The stored response a ``POST .../responses`` continues (its body's
    ``previous_response_id``, an id as OpenAI writes them), or the Gemini context cache a
    ``POST .../models/{m}:{action}`` uses (its body's ``cachedContent``:
    :mod:`~aigw_policy.providers.gemini_caches`), or None: the call goes to the provider and
    key that hold it (:func:`~.route.route_action`)."""
    r = req.request
    method, url, body = (r.get("method", "POST"), r["url"], r.get("body")) if isinstance(r, dict) else (
        r.method, r.url, r.body)
    if isinstance(body, (str, bytes)) and any((n if isinstance(body, str) else n.encode()) in body for n in _NAMES):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if type(body) is not dict or method.upper() != "POST":
        return None
    if "cachedContent" in body or "generateContentRequest" in body:
        return used_cache(body) if ":" in urlsplit(url).path.rsplit("/", 1)[-1] else None
    previous = body.get("previous_response_id")
    if type(previous) is not str or not previous.startswith("resp_") or len(previous) > 200:
        return None
    return previous if urlsplit(url).path.rstrip("/").endswith("/responses") else None


_NAMES = ("previous_response_id", "cachedContent")


def pinned_owner(found: Any, identity: Any) -> dict[str, Any] | None:
    """The owner found for a read, when the reader is its creator (a response id is no credential)."""
    if isinstance(found, dict) and found.get("creator") == creator_of(identity):
        return found
    return None


def _simulated(req: Any, expect_response: bool) -> bool:
    """evaluate() drives the attempts itself: the request simulates the upstreams' answers
    (``attempts``, ``response``), or nobody will call attempt() (replay, policy tests)."""
    return req.attempts is not None or req.response is not None or not expect_response


def _outcome(answer: Any) -> AttemptOutcome:
    return AttemptOutcome(status_code=answer.status_code, error=answer.error, latency_ms=answer.latency_ms,
                          headers=dict(answer.headers), body=answer.body if answer.sse is None else answer.sse)


def _answers(req: Any) -> tuple[list[Any], dict[str, Any]]:
    """The simulated answers in order, and the one every later attempt gets (the request's
    ``response``, else an empty 200)."""
    final = req.response.model_dump() if req.response is not None else {"status_code": 200, "headers": {}, "body": None}
    return list(req.attempts or ()), final


class RoutingMixin:
    """:meth:`attempt` and :meth:`aattempt`, and evaluate()'s simulation of the attempts.
    The engine (:class:`~aigw_policy.engine.runner.Engine`) provides what is declared here."""

    route_metrics: RouteMetrics
    cooldowns: Cooldowns | None
    ledger: Any
    _unknown: Callable[[str], UnknownRequestError]
    _lock: threading.Lock
    _pending: OrderedDict[str, Parked]
    _drive: Callable[[Any, float], Any]
    _adrive: Callable[[Any, float], Awaitable[Any]]
    _record: Callable[[Flow, Decision], Any]
    _finished: Callable[[str, Decision], Decision]
    _forget: Callable[[str], None]
    _abandon: Callable[[Flow], Any]
    complete: Callable[..., Decision]
    acomplete: Callable[..., Awaitable[Decision]]

    def attempt(self, request_id: str, outcome: AttemptOutcome | None = None, *,
                now: float | None = None) -> Step:
        """The next step of routed request ``request_id``: pass None first, then the outcome
        of each :class:`Next` attempt. :class:`Serve`: its answer is the client's (stream it,
        then :meth:`complete`); :class:`Finished`: the gateway answers ``decision.response``
        (the request is finished: its ledger record is written)."""
        flow, t, elapsed = self._routed(request_id, now)
        live = flow.route.live
        self._cool(flow, outcome, t)  # (first: a 429's wait goes to the shared store with its record)
        if outcome is not None and live is not None and outcome.error != "client_closed":  # not the provider's doing
            self.route_metrics.record(live, outcome, t)
        result: Step | End = self._drive(step(flow, outcome, elapsed), t)
        if not isinstance(result, End):
            return result
        decision = self._drive(finish(flow, result), t)
        if self.ledger is not None:
            self.ledger.record(self._record(flow, decision))
        return Finished(self._finished(request_id, decision))

    async def aattempt(self, request_id: str, outcome: AttemptOutcome | None = None, *,
                       now: float | None = None) -> Step:
        """The async twin of :meth:`attempt`."""
        flow, t, elapsed = self._routed(request_id, now)
        live = flow.route.live
        self._cool(flow, outcome, t)  # (first: a 429's wait goes to the shared store with its record)
        if outcome is not None and live is not None and outcome.error != "client_closed":  # not the provider's doing
            await self.route_metrics.arecord(live, outcome, t)
        result: Step | End = await self._adrive(step(flow, outcome, elapsed), t)
        if not isinstance(result, End):
            return result
        decision = await self._adrive(finish(flow, result), t)
        if self.ledger is not None:
            await self.ledger.arecord(self._record(flow, decision))
        return Finished(self._finished(request_id, decision))

    # -- plumbing ----------------------------------------------------------------------------

    def _cool(self, flow: Flow, outcome: AttemptOutcome | None, t: float) -> None:
        """Before a route's first attempt, its cooling keys put last; after an attempt, a 429's
        wait remembered for its key (:mod:`.cooldown`)."""
        cooldowns, run = self.cooldowns, flow.route
        if cooldowns is None:
            return
        live = run.live
        if outcome is None:
            if not run.attempts and (told := defer_cooling(run, cooldowns, t)):
                run.cooling = told
                flow.rec.note("cooling down, tried last: " + "; ".join(
                    f"{c['provider']}:{c['model']} key {c['key_id']} until {c['until']}" for c in told))
        elif live is not None and live.key is not None and not outcome.started:
            cooldowns.note(live.provider.id, live.key.id, live.model, outcome.status_code, outcome.headers, t,
                           outcome.body)

    def _routed(self, rid: str, now: float | None) -> tuple[Flow, float, float]:
        """The waiting routed request, the time, and the seconds since its first attempt."""
        with self._lock:
            parked = self._pending.get(rid)
        if parked is None:
            raise self._unknown(rid)
        flow = parked.flow
        if flow is None or flow.route is None:
            raise ValueError(f"request `{rid}` was not routed by an ai-gateway action: complete() it")
        run = flow.route
        clock = _time.monotonic()
        if run.started_at is None:
            run.started_at = clock
        t = now if now is not None else (flow.now if parked.explicit else max(flow.now, _time.time()))
        return flow, t, clock - run.started_at

    def _simulate(self, flow: Flow, req: Any) -> Decision:
        """Drive the attempts over the request's simulated answers; the final decision."""
        answers, final = _answers(req)
        rid = flow.rid
        try:
            result = self.attempt(rid, None, now=flow.now)
            while isinstance(result, Next):
                result = self.attempt(rid, _outcome(answers.pop(0)) if answers else AttemptOutcome(
                    status_code=final["status_code"], headers=final["headers"], body=final["body"]), now=flow.now)
            if isinstance(result, Serve):
                return self.complete(rid, self._served(req, result, final), now=flow.now)
        except BaseException:
            self._forget(rid)
            self._drive(self._abandon(flow), flow.now)
            raise
        decision: Decision = result.decision
        return decision

    async def _asimulate(self, flow: Flow, req: Any) -> Decision:
        """The async twin of :meth:`_simulate`."""
        answers, final = _answers(req)
        rid = flow.rid
        try:
            result = await self.aattempt(rid, None, now=flow.now)
            while isinstance(result, Next):
                result = await self.aattempt(rid, _outcome(answers.pop(0)) if answers else AttemptOutcome(
                    status_code=final["status_code"], headers=final["headers"], body=final["body"]), now=flow.now)
            if isinstance(result, Serve):
                return await self.acomplete(rid, self._served(req, result, final), now=flow.now)
        except BaseException:
            self._forget(rid)
            await self._adrive(self._abandon(flow), flow.now)
            raise
        decision: Decision = result.decision
        return decision

    def _served(self, req: Any, result: Serve, final: dict[str, Any]) -> dict[str, Any]:
        """The response of the served attempt: its simulated answer, else the final one."""
        given = req.attempts or ()
        n = result.attempt.number
        if n <= len(given):
            a = given[n - 1]
            return {"status_code": a.status_code, "headers": dict(a.headers), "body": a.body, "sse": a.sse}
        return final
