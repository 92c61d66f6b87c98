"""The engines: drive the sans-IO core against a limit store, synchronously or with asyncio.

``Engine(policy, store=MemoryStore())`` compiles the policy once; ``evaluate`` runs the
request phase (and the response phase when the request carries a ``response`` or was
answered by the gateway); ``complete`` runs the response phase for a forwarded request.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time as _time
import uuid
from collections import OrderedDict
from collections.abc import Generator, Mapping
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit


from ..cel.budget import DEFAULT_BUDGET
from ..ir import Policy
from ..limits.memory import MemoryStore
from ..limits.model import AsyncLimitStore, LimitSpec, LimitStore
from ..providers import PriceBook
from ..providers.prices import Cost
from ..providers.usage import Usage
from .compile import CompiledPolicy, compile_policy
from .phase_code import install as install_runners
from ..env.activation import classify_request
from .charging import take_reserve
from .decision import Decision
from .errors import StoreUnavailableError, UnknownRequestError
from .flow import Check, Flow, Need, Reconcile, Release, StoreFailed
from .phases import Cursor, answered_plain, gateway_answer, request_plain, request_steps, response_plain, response_steps
from . import pending
from .pending import Kept, Parked, park
from .cooldown import Cooldowns
from .routing_api import ReadMetrics, ReadOwner, RoutingMixin, _simulated, continued_of, owner_of, pinned_owner
from ..routing.compile import billed_as
from ..routing.metrics import MemoryRouteMetrics
from ..routing.owners import MemoryOwners, Owners
from ..providers.background import response_read
from ..providers.gemini_caches import cache_read
from ..routing.model import RouteMetrics
from ..env import plain_request as plain
from ..env.plain_request import PlainRequest, plain_request
from ..env.plain_response import response_dict
from ..env.request import HttpResponse, Request, RequestError

__all__ = ["MAX_DONE", "MAX_PENDING", "Engine"]

MAX_PENDING = 100_000
"""Forwarded requests awaiting ``complete()`` (default ``max_pending``): past it the oldest
is dropped and its reservation released; a later ``complete()`` of it raises
:class:`UnknownRequestError`."""
MAX_DONE = 4096
"""Completed decisions remembered (default ``max_done``), so a repeated ``complete()`` gets the
same answer. Each is a few dozen objects the garbage collector walks while it is kept: a
server that completes each request once keeps fewer (``serve``: gateway/app.py)."""

QUIET_RESERVE = True
"""An admitted request that no response phase follows (``expect_response=False``, no
``response``, not routed) does not publish its reserve's ``limits[...]``: no text runs after it
(False: published as for any request; the tests compare the two)."""

PLAIN = True
"""Run evaluations with plain calls until the store is needed (:meth:`Engine._plain`); False
takes the generator steps for every request (the tests compare the two)."""

_STORE_METHODS = ("check", "reserve", "reconcile", "release")  # and seed, for apply_state

Steps = Generator[Need, Any, Any]


class Engine(RoutingMixin):
    """Compile once, evaluate many. Thread-safe and asyncio-safe: the compiled policy is
    immutable, each request's state is its own, and the store is thread-safe by contract.

    ``policy``: a :class:`~aigw_policy.Policy`, a compiled policy, or a path to load.
    ``store``: a limit store, or a store URL for :func:`aigw_policy.stores.from_url`
    (``memory:``, ``sqlite:PATH``, ``redis://...``; default: a fresh in-memory store).
    ``ledger``: a :class:`~aigw_policy.ledger.Ledger` to record finished requests in.
    ``prices``: a :class:`~aigw_policy.providers.PriceBook` or a mapping of price overrides.
    ``trace``: record the full trace by default. ``index``: dispatch rules through the index.
    ``cel_budget``: comprehension iterations one evaluation of one CEL text may perform
    (default 100,000; past it the rule fails with AIGW520, handled by its ``on_error``).
    ``max_pending``: forwarded requests kept for :meth:`complete` (see :data:`MAX_PENDING`).
    ``max_done``: completed decisions remembered for a repeated :meth:`complete` (see
    :data:`MAX_DONE`; 0: none, a repeated completion raises :class:`UnknownRequestError`).
    ``route_metrics``: where routing attempts' outcomes are recorded and the planner reads
    live metrics (default: this process's memory; docs/routing.md). ``response_owners``: who
    served each routed background response, for its reads (:mod:`aigw_policy.routing.owners`;
    default: this process's memory). ``cooldowns``: a :class:`~aigw_policy.engine.cooldown.Cooldowns`
    (``serve`` passes one): keys answered 429 with a wait are tried last until then (None: never).

    Nothing is connected at construction: call :meth:`check` (or :meth:`acheck`) at start-up
    to fail there, rather than on the first request, when the store or ledger is unreachable.
    """

    def __init__(self, policy: Policy | CompiledPolicy | str | os.PathLike[str],
                 store: LimitStore | str | None = None, *, ledger: Any = None,
                 prices: PriceBook | Mapping[str, Any] | None = None, counter: Any = None,
                 trace: bool = False, index: bool = True, cache_dir: str | os.PathLike[str] | None = None,
                 max_pending: int = MAX_PENDING, cel_budget: int | None = DEFAULT_BUDGET,
                 route_metrics: RouteMetrics | None = None, max_done: int = MAX_DONE,
                 response_owners: Owners | None = None, cooldowns: Cooldowns | None = None) -> None:
        if isinstance(policy, (str, os.PathLike)):
            from ..loader import load

            policy = load(policy)
        if isinstance(policy, CompiledPolicy):
            self.compiled = policy
        elif isinstance(policy, Policy):
            self.compiled = compile_policy(policy, index=index, cache_dir=cache_dir, cel_budget=cel_budget)
        else:
            raise TypeError(f"Engine needs a Policy, not {type(policy).__name__}")
        install_runners(self.compiled)
        self.store: LimitStore = _store(store)
        # the store's async twin; a store without one is called in the event loop's thread, as is
        # the memory store itself (its async methods only call its sync ones: the async engine then
        # runs a decision as the sync one does, with no generator or coroutine per store step)
        self._astore: AsyncLimitStore | None = (self.store if isinstance(self.store, AsyncLimitStore)
                                                and type(self.store) is not MemoryStore else None)
        if ledger is not None and not (callable(getattr(ledger, "record", None))
                                       and callable(getattr(ledger, "arecord", None))):
            raise TypeError(f"ledger= takes an aigw_policy.ledger.Ledger, not {type(ledger).__name__} "
                            "(e.g. Ledger('jsonl:usage.jsonl'))")
        self.ledger = ledger
        if prices is None:
            prices = PriceBook()
        elif not isinstance(prices, PriceBook):
            prices = PriceBook.from_mapping(prices)
        # a route's own provider ids, priced as the vendor their base_url's host names
        self.prices = prices.with_labels(billed_as(a.templates["route"] for r in self.compiled.all_rules()
                                                   for a in r.actions if "route" in a.templates))
        self.counter = counter
        self.trace = trace
        if type(max_pending) is not int or max_pending < 1:
            raise ValueError(f"max_pending must be a positive int, not {max_pending!r}")
        self.max_pending = max_pending
        if type(max_done) is not int or max_done < 0:
            raise ValueError(f"max_done must be an int of 0 or more, not {max_done!r}")
        self.max_done = max_done
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Parked] = OrderedDict()
        # being completed: the future gets the decision, or None when the completion failed
        self._running: dict[str, tuple[Parked, Future[Decision | None] | None]] = {}
        self._done: OrderedDict[str, Decision] = OrderedDict()
        self._kept = Kept()  # which activation keys a response-phase text can read (park)
        self.route_metrics: RouteMetrics = route_metrics if route_metrics is not None else MemoryRouteMetrics()
        self._reads_metrics = _reads_route_metrics(self.compiled)
        self.owners: Owners = response_owners if response_owners is not None else MemoryOwners()
        self.cooldowns = cooldowns
        if cooldowns is not None:  # a shared store carries them to the other processes (routing/cooling_store.py)
            self.route_metrics.share_cooldowns(cooldowns)

    @property
    def policy(self) -> Policy:
        return self.compiled.policy

    @property
    def pending(self) -> int:
        """How many forwarded requests are waiting for :meth:`complete`."""
        return len(self._pending) + len(self._running)

    # -- start-up check ----------------------------------------------------------------------

    def check(self) -> None:
        """Reach the limit store (one read that changes nothing) and check the ledger is
        open; raise :class:`StoreUnavailableError` naming which failed and why. Call it once
        at start-up."""
        try:
            Check([]).ask(self.store, _time.time())
        except Exception as error:  # noqa: BLE001 - any failure is reported by name
            raise self._unavailable(error) from None
        self._check_ledger()

    async def acheck(self) -> None:
        """The async twin of :meth:`check`."""
        try:
            astore, now = self._astore, _time.time()
            await Check([]).aask(astore, now) if astore is not None else Check([]).ask(self.store, now)
        except Exception as error:  # noqa: BLE001
            raise self._unavailable(error) from None
        self._check_ledger()

    def _unavailable(self, error: Exception) -> StoreUnavailableError:
        from ..redact import scrub

        name, url = _describe(self.store)
        reason = str(error) or type(error).__name__
        if url:
            reason = scrub(reason, [url])
        return StoreUnavailableError(f"limit store {name} is unreachable: {reason}")

    def _check_ledger(self) -> None:
        ledger = self.ledger
        if ledger is None:
            return
        if getattr(ledger, "closed", False) is True:
            sink = type(getattr(ledger, "sink", ledger)).__name__
            raise StoreUnavailableError(f"ledger ({sink}) is closed: it can record nothing")

    # -- building a flow ---------------------------------------------------------------------

    def start(self, request: Request | Mapping[str, Any], *, trace: bool | None = None, now: float | None = None,
              request_id: str | None = None) -> tuple[Flow, Request | PlainRequest, bool]:
        """Validate a request and build its evaluation state (no store involved)."""
        return self._evaluation(request, trace, now, request_id, False)

    def seed(self, state: Any, now: float) -> None:
        """Set counters from a request's ``state`` (``explain``, ``replay`` and tests). Every
        limit name is checked before any counter is set."""
        seeds: list[tuple[LimitSpec, str, float]] = []
        for name, buckets in state.limits.items():
            hit = self.compiled.limits.get(name)
            if hit is None:
                known = ", ".join(f"`{n}`" for n in self.compiled.limits) or "none"
                raise RequestError([(f"state.limits.{name}", f"the policy has no limit named `{name}` (limits: {known})")])
            spec = hit[1].limit.spec  # type: ignore[union-attr]
            seeds.extend((spec, key, float(b.used)) for key, b in buckets.items())
        for spec, key, used in seeds:
            self.store.seed(spec, key, used, now)

    # -- sync --------------------------------------------------------------------------------

    def evaluate(self, request: Request | Mapping[str, Any], *, trace: bool | None = None, now: float | None = None,
                 apply_state: bool = False, request_id: str | None = None, expect_response: bool = True) -> Decision:
        """Decide a request. With a ``response`` in the request, the response phase runs too.

        ``apply_state``: seed the store from the request's ``state`` first (explain, tests).
        ``expect_response``: keep a forwarded request's state for :meth:`complete` (False
        when nobody will call it, as in replay and policy tests: its reservations are then
        settled at once at the estimate, so they stand until their windows end rather than
        being released when an unsettled reservation expires).

        A bad request raises :class:`RequestError` before the store is touched. If anything
        fails after the reservation (or the call is interrupted), the reservation is released.
        """
        flow, req, explicit = self._evaluation(request, trace, now, request_id, apply_state)
        try:
            steps = self._plain(flow, req, explicit, expect_response, self.store)
            decision, evicted = steps if isinstance(steps, tuple) else self._drive(steps, flow.now)
            if decision.complete and self.ledger is not None:
                self.ledger.record(self._record(flow, decision))
        except BaseException:
            self._drive(self._abandon(flow), flow.now)
            raise
        if evicted:
            self._drive(_releases(evicted), flow.now)
        if flow.route is not None and not decision.complete and _simulated(req, expect_response):
            return self._simulate(flow, req)
        # durable before it is forwarded (a ledger of the embedder's own may have no intents)
        intent = getattr(self.ledger, "intent", None) if expect_response and not decision.complete else None
        if intent is not None:
            try:
                intent(self._record(flow, decision), flow.ai)
            except BaseException:
                self._forget(flow.rid)  # it will not be forwarded: release it
                self._drive(self._abandon(flow), flow.now)
                raise
        return decision

    def complete(self, request_id: str, response: HttpResponse | Mapping[str, Any], *,
                 now: float | None = None) -> Decision:
        """The response phase of a forwarded request: usage, cost, reconcile, response rules.

        The response is validated first: a bad one raises :class:`RequestError` and the
        request stays completable. Completion is idempotent: a repeated or concurrent call
        for the same id returns the first completion's decision, and the ledger gets one
        record. An id this engine is not waiting on raises :class:`UnknownRequestError`.
        """
        resp = response_dict(response)
        while True:
            done, claim = self._claim(request_id)
            if done is not None:
                return done
            parked, fut = claim
            if parked is None:
                first = fut.result()
                if first is not None:
                    return first
                continue  # the first completion failed: claim it again
            try:
                flow, t = self._revive(request_id, parked, now)
                decision = self._drive(_completion(flow, resp), t)
                if (owned := owner_of(flow)) is not None:  # a background response: its reads go where it is
                    self.owners.remember(*owned, t)
                if self.ledger is not None:
                    self.ledger.record(self._record(flow, decision))
            except BaseException:
                self._unclaim(request_id, parked)
                raise
            return self._settled(request_id, decision)

    # -- async -------------------------------------------------------------------------------

    async def aevaluate(self, request: Request | Mapping[str, Any], *, trace: bool | None = None,
                        now: float | None = None, apply_state: bool = False, request_id: str | None = None,
                        expect_response: bool = True) -> Decision:
        """The async twin of :meth:`evaluate`: the same decision, with the store's async
        methods (a store without them is called in the event loop's thread).

        A bad request raises :class:`RequestError` before the store is touched. If the task
        is cancelled after the reservation was asked for, the reservation is released.
        """
        flow, req, explicit = self._evaluation(request, trace, now, request_id, apply_state)
        try:
            steps = self._plain(flow, req, explicit, expect_response, self.store if self._astore is None else None)
            decision, evicted = steps if isinstance(steps, tuple) else await self._adrive(steps, flow.now)
            if decision.complete and self.ledger is not None:
                await self.ledger.arecord(self._record(flow, decision))
        except BaseException:
            await self._adrive(self._abandon(flow), flow.now)
            raise
        if evicted:
            await self._adrive(_releases(evicted), flow.now)
        if flow.route is not None and not decision.complete and _simulated(req, expect_response):
            return await self._asimulate(flow, req)
        # durable before it is forwarded (a ledger of the embedder's own may have no intents)
        aintent = getattr(self.ledger, "aintent", None) if expect_response and not decision.complete else None
        if aintent is not None:
            try:
                await aintent(self._record(flow, decision), flow.ai)
            except BaseException:
                self._forget(flow.rid)  # it will not be forwarded: release it
                await self._adrive(self._abandon(flow), flow.now)
                raise
        return decision

    async def acomplete(self, request_id: str, response: HttpResponse | Mapping[str, Any], *,
                        now: float | None = None) -> Decision:
        """The async twin of :meth:`complete`: the same contract (the response validated
        first, idempotent under ``asyncio.gather`` and threads, :class:`UnknownRequestError`
        for an unknown id). A cancelled completion leaves the request completable."""
        resp = response_dict(response)
        while True:
            done, claim = self._claim(request_id)
            if done is not None:
                return done
            parked, fut = claim
            if parked is None:
                first = await asyncio.wrap_future(fut)
                if first is not None:
                    return first
                continue  # the first completion failed: claim it again
            try:
                flow, t = self._revive(request_id, parked, now)
                decision = await self._adrive(_completion(flow, resp), t)
                if (owned := owner_of(flow)) is not None:
                    await self.owners.aremember(*owned, t)
                if self.ledger is not None:
                    await self.ledger.arecord(self._record(flow, decision))
            except BaseException:
                self._unclaim(request_id, parked)
                raise
            return self._settled(request_id, decision)

    # -- plumbing: pending requests ----------------------------------------------------------

    def _park(self, flow: Flow, explicit: bool) -> tuple[list[str], bool]:
        """Keep a forwarded request for complete(). Returns the ids dropped past
        ``max_pending`` (their reservations are for the caller to release), and whether the
        live ``flow`` itself was kept (its state could not be packed)."""
        # few waiting (a gateway at low concurrency): kept live, forked at complete() (pending.fork)
        live = len(self._pending) + len(self._running) < pending.LIVE_PENDING
        parked = park(flow, explicit, self._kept, live)
        evicted = []
        with self._lock:
            self._done.pop(flow.rid, None)
            self._pending[flow.rid] = parked
            self._pending.move_to_end(flow.rid)
            while len(self._pending) + len(self._running) > self.max_pending and self._pending:
                evicted.extend(_store_ids(*self._pending.popitem(last=False)))
        return evicted, parked.flow is flow

    def _forget(self, rid: str) -> None:
        """A parked request that will not be forwarded after all."""
        with self._lock:
            self._pending.pop(rid, None)

    def _claim(self, rid: str) -> tuple[Decision | None, Any]:
        """(the remembered decision, None) | (None, (parked, None)) to complete it here |
        (None, (None, future)) when another caller is completing it. The future is made only
        when a second caller comes (most completions have none to tell)."""
        with self._lock:
            done = self._done.get(rid)
            if done is not None:
                return done, None
            running = self._running.get(rid)
            if running is not None:
                claimed, fut = running
                if fut is None:
                    fut = Future()
                    fut.set_running_or_notify_cancel()  # a waiter's cancel never cancels the completion
                    self._running[rid] = (claimed, fut)
                return None, (None, fut)
            parked = self._pending.pop(rid, None)
            if parked is None:
                raise self._unknown(rid)
            self._running[rid] = (parked, None)
            return None, (parked, None)

    def _unknown(self, rid: str) -> UnknownRequestError:
        return UnknownRequestError(rid, max_pending=self.max_pending, max_done=self.max_done)

    def _finished(self, rid: str, decision: Decision) -> Decision:
        """A waiting request ended without complete() (a route that did not serve)."""
        decision.detach()
        with self._lock:
            self._pending.pop(rid, None)
            self._done[rid] = decision
            while len(self._done) > self.max_done:
                self._done.popitem(last=False)
        return decision

    def _unclaim(self, rid: str, parked: Parked) -> None:
        """The completion failed: the request waits again; its waiters claim it again."""
        with self._lock:
            _, fut = self._running.pop(rid)
            self._pending[rid] = parked
        if fut is not None:
            fut.set_result(None)

    def _settled(self, rid: str, decision: Decision) -> Decision:
        decision.detach()
        with self._lock:
            _, fut = self._running.pop(rid)
            self._done[rid] = decision
            while len(self._done) > self.max_done:
                self._done.popitem(last=False)
        if fut is not None:
            fut.set_result(decision)
        return decision

    def _revive(self, rid: str, parked: Parked, now: float | None) -> tuple[Flow, float]:
        flow = parked.revive(rid, self.compiled, self.prices)
        if now is None:
            now = flow.now if parked.explicit else max(flow.now, _time.time())
        return flow, now

    def _abandon(self, flow: Flow) -> Steps:
        """evaluate() failed or was interrupted: release what it may have reserved (not a
        request of the same id that is already waiting)."""
        if flow.rid not in self._pending and flow.rid not in self._running:
            for rid in _store_ids(flow.rid, flow) if flow.charges or flow.route is not None else ():
                yield Release(rid)

    # -- plumbing: finishing -----------------------------------------------------------------

    def _evaluation(self, request: Request | Mapping[str, Any], trace: bool | None, now: float | None,
                    request_id: str | None, apply_state: bool) -> tuple[Flow, Request | PlainRequest, bool]:
        """The one evaluation both engines drive: the request checked (a dict of the common
        shape without building the models: env/plain_request.py), its state built and the
        store seeded (``apply_state``); :meth:`_plain` then runs it."""
        req: Request | PlainRequest | None = (plain_request(request) if type(request) is dict and plain.FAST_REQUEST
                                               else None)
        if req is None:
            req = Request.parse(request)
        explicit = True
        if now is None:
            now = req.unix_now()
            if now is None:
                now = _time.time()
                explicit = False
        rid = req.id or request_id or f"req-{uuid.uuid4().hex[:16]}"
        ai = classify_request(req, self.counter)
        cp = self.compiled
        act = cp.activation.build(req, ai, rid, now)  # the entries some text (or the engine) reads
        flow = Flow(cp, rid, now, act, ai, req.identity, self.prices, self.trace if trace is None else trace)
        if apply_state and req.state is not None:
            self.seed(req.state, flow.now)
        return flow, req, explicit

    def _plain(self, flow: Flow, req: Request | PlainRequest, explicit: bool, expect_response: bool,
               store: LimitStore | None = None) -> tuple[Decision, list[str]] | Steps:
        """Run the evaluation with plain calls as far as it goes without the store: ``(decision,
        evicted ids to release)`` when it got to the end, else the steps that go on from where
        it stopped (a limit action, or a routed policy: all of it), for a driver to run.

        The steps are the same evaluation (:meth:`_steps`); this path only spares the
        generators of a request whose rules never reach a limit (:data:`PLAIN` false takes
        the steps for everything)."""
        if self.compiled.routed or not PLAIN:
            return self._steps(flow, req, explicit, expect_response)
        cur = request_plain(flow)
        if cur is not None:  # at an eager limit, or charges to reserve: the store is needed from here on
            stop = flow.stop
            if store is None or cur.need or req.response is not None or not (stop is None or stop.verdict == "allow"):
                return self._steps(flow, req, explicit, expect_response, cur)
            # the phase is over, its charges wait for the reserve, and no response phase needs the
            # store after it: the sync engine asks the store here (what request_steps would yield)
            if not expect_response and QUIET_RESERVE:
                flow.no_response = True  # settled at the estimate: no text reads what the reserve publishes
            try:  # what Engine._drive does with request_steps' Reserve
                answer = store.reserve(flow.rid, [c for _, _, c in flow.charges], flow.now)
            except Exception as error:  # noqa: BLE001 - any store failure is the document's fail mode
                answer = StoreFailed(str(error) or type(error).__name__)
            take_reserve(flow, answer)
            if flow.reserved and not expect_response:  # settled at the estimate (_settle_at_estimate)
                try:
                    store.reconcile(flow.rid, {}, flow.now)
                except Exception as error:  # noqa: BLE001
                    flow.notes.append(f"could not settle the reservation: {str(error) or type(error).__name__}")
                return Decision.from_flow(flow, complete=False, snapshot=False), []
        # no limit ran: nothing to reserve or settle, nothing routed; the rest asks no store
        stop = flow.stop
        if stop is not None and stop.verdict == "deny":
            if self.compiled.response_rules:
                answered_plain(flow, stop)
            else:  # the response phase has nothing to run: only the gateway's answer
                gateway_answer(flow, stop)
            return Decision.from_flow(flow, complete=True), []
        if req.response is not None:
            response_plain(flow, req.response.model_dump())
            return Decision.from_flow(flow, complete=True), []
        shared = False
        evicted: list[str] = []
        if expect_response:
            evicted, shared = self._park(flow, explicit)
        return Decision.from_flow(flow, complete=False, snapshot=shared), evicted

    def _steps(self, flow: Flow, req: Request | PlainRequest, explicit: bool, expect_response: bool,
               cur: Cursor | None = None) -> Steps:
        """The evaluation as steps; ``cur``: the request phase as :meth:`_plain` left it."""
        if cur is None and self._reads_metrics:
            metrics = yield ReadMetrics(self.route_metrics)
            flow.metrics = None if isinstance(metrics, StoreFailed) else metrics
        if cur is None and self.compiled.routed and (read := _read_of(req)) is not None:
            flow.pinned = pinned_owner((yield ReadOwner(self.owners, read)), flow.identity)
        elif cur is None and self.compiled.routed and (previous := continued_of(req)) is not None:
            owner = pinned_owner((yield ReadOwner(self.owners, previous)), flow.identity)
            flow.continued = (previous, owner) if owner is not None else None
        if not expect_response and req.response is None and QUIET_RESERVE:  # (whatever was read above)
            flow.no_response = True  # settled at the estimate: no text reads what the reserve publishes
        yield from request_steps(flow, cur)
        stop = flow.stop
        if stop is not None and stop.verdict == "deny":
            if self.compiled.response_rules:
                yield from response_steps(flow, None)
            else:  # the response phase has nothing to run: only the gateway's answer
                gateway_answer(flow, stop)
            return Decision.from_flow(flow, complete=True), []
        if flow.route is not None:  # the attempts drive it on: attempt(), then complete()
            evicted, _shared = self._park(flow, explicit)
            return Decision.from_flow(flow, complete=False), evicted
        if req.response is not None:
            yield from response_steps(flow, req.response.model_dump())
            return Decision.from_flow(flow, complete=True), []
        shared = False
        evicted: list[str] = []
        if expect_response:
            evicted, shared = self._park(flow, explicit)
        elif flow.reserved:
            yield from _settle_at_estimate(flow)
        return Decision.from_flow(flow, complete=False, snapshot=shared), evicted

    def _record(self, flow: Flow, decision: Decision) -> Any:
        from dataclasses import replace

        from ..ledger import make_record

        ai = flow.ai
        if flow.model != ai.model or flow.provider != ai.provider:
            ai = replace(ai, model=flow.model, provider=flow.provider)  # the served model's
        run = flow.route
        cost, usage = flow.cost, flow.usage
        if cost is None and usage is None and decision.verdict == "deny":
            # answered by the gateway: nothing reached the provider, nothing to price
            cost, usage = Cost.not_forwarded(), Usage.of(0, 0, source="none")
        return make_record(flow.rid, time=flow.time(), ai=ai, usage=usage, cost=cost,
                           identity=_given(flow.identity), verdict=decision.verdict, status_code=decision.status_code,
                           rule=decision.rule, limits=decision.limits,
                           attempts=len(run.attempts) if run is not None else None,
                           route_key_id=run.served["key_id"] if run is not None and run.served else None,
                           would_deny=decision.would_deny, reason=decision.reason)

    def _drive(self, steps: Steps, now: float) -> Any:
        """Run ``steps`` against the store; their return value."""
        answer: Any = None
        while True:
            try:
                need = steps.send(answer)
            except StopIteration as done:
                return done.value
            try:
                answer = need.ask(self.store, now)
            except Exception as error:  # noqa: BLE001 - any store failure is the document's fail mode
                answer = StoreFailed(str(error) or type(error).__name__)

    async def _adrive(self, steps: Steps, now: float) -> Any:
        """:meth:`_drive` with the store's async twin."""
        astore = self._astore
        answer: Any = None
        while True:
            try:
                need = steps.send(answer)
            except StopIteration as done:
                return done.value
            try:
                answer = await need.aask(astore, now) if astore is not None else need.ask(self.store, now)
            except Exception as error:  # noqa: BLE001
                answer = StoreFailed(str(error) or type(error).__name__)


def _read_of(req: Request | PlainRequest) -> str | None:
    """The stored response, chat completion, Gemini context cache or job a request reads (``GET
    /v1/responses/{id}``, ``GET /v1/chat/completions/{id}``, ``GET .../cachedContents/{id}``, a
    Perplexity async request's or an xAI deferred completion's ``GET``, ...), or None."""
    r = req.request
    method, url = (r.get("method", "POST"), r["url"]) if isinstance(r, dict) else (r.method, r.url)
    if "/cachedContents/" in url:
        return cache_read(method, urlsplit(url).path)
    if "/responses/resp_" not in url and "/completions/chatcmpl-" not in url and "/async/" not in url \
            and "/deferred-completion/" not in url:  # every other: no URL parsed
        return None
    return response_read(method, urlsplit(url).path)


def _reads_route_metrics(cp: CompiledPolicy) -> bool:
    """Whether a strategy of some ``ai-gateway`` action reads live metrics (``m.metrics``,
    ``k.quota``, ``k.error_rate``): only then does a routed request read a snapshot (a shared
    store's is a read of the database)."""
    return any(s.live for rule in cp.request_rules for a in rule.actions if a.type == "ai-gateway"
               for s in (*a.templates["route"].model_strategies, *a.templates["route"].key_strategies))


def _store(store: Any) -> LimitStore:
    """The engine's store from what the caller gave: checked here, not on the first request."""
    from .. import limits as stores

    if store is None:
        return stores.MemoryStore()
    if isinstance(store, str):
        try:
            return stores.from_url(store)
        except ValueError as error:
            raise ValueError(f"store={store!r}: {error}; or pass a store object, e.g. "
                             "store=ap.stores.RedisStore(url)") from None
    missing = [m for m in _STORE_METHODS if not callable(getattr(store, m, None))]
    if missing:
        raise TypeError(f"store= takes a limit store (ap.stores.MemoryStore(), SQLiteStore(path), "
                        f"RedisStore(url)) or a store URL ('memory:', 'sqlite:PATH', 'redis://...'), "
                        f"not {type(store).__name__} (it has no {', '.join(missing)})")
    return store  # type: ignore[no-any-return]


def _describe(store: Any) -> tuple[str, str | None]:
    """How an error names a store (a URL's password masked), and the URL whose secrets are to
    be scrubbed from messages."""
    from ..redact import redact

    kind = type(store).__name__
    url = getattr(store, "url", None)
    if isinstance(url, str):
        return f"{kind}({redact(url)})", url
    path = getattr(store, "path", None)
    return (f"{kind}({path})" if isinstance(path, str) else kind), None


def _store_ids(rid: str, parked: Parked | Flow) -> list[str]:
    """Every limit store id a waiting request holds: its own, and its attempt in flight's."""
    flow = parked.flow if isinstance(parked, Parked) else parked
    run = flow.route if flow is not None else None
    live = run.live if run is not None else None
    return [rid] if run is None or live is None else [rid, run.store_id(rid, live.number)]


def _releases(rids: list[str]) -> Steps:
    """Give back what each of ``rids`` reserved (evicted requests)."""
    for rid in rids:
        yield Release(rid)


def _completion(flow: Flow, response: dict[str, Any]) -> Steps:
    """The response phase of a forwarded request; the final decision."""
    yield from response_steps(flow, response)
    return Decision.from_flow(flow, complete=True)


def _settle_at_estimate(flow: Flow) -> Any:
    """Settle a forwarded request that will get no response at its reserved amounts (an
    empty ``actual``): the charges stay in their windows and the record is closed."""
    answer = yield Reconcile(flow.rid, {})
    if isinstance(answer, StoreFailed):
        flow.notes.append(f"could not settle the reservation: {answer.message}")


def _given(identity: Any) -> dict[str, Any]:
    """The fields of a request's identity (an ``Identity``, or the field dict of a
    :class:`~aigw_policy.env.plain_request.PlainRequest`) that were given, as the ledger
    records them: ``Identity.model_dump(exclude_none=True)``."""
    fields = identity if type(identity) is dict else identity.__dict__
    return {k: dict(v) if k == "labels" else v for k, v in fields.items() if v is not None}
