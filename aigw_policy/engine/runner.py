"""The engines: drive the sans-IO core against a limit store, synchronously or with asyncio.

``Engine(policy, store=MemoryStore())`` compiles the policy once; ``evaluate`` runs the
request phase (and the response phase when the request carries a ``response`` or was
answered by the gateway); ``complete`` runs the response phase for a forwarded request.
"""

from __future__ import annotations

import os
import threading
import time as _time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..ir import Policy
from ..limits.model import LimitStore
from ..providers import PriceBook
from ..providers.prices import Cost
from ..providers.usage import Usage
from .compile import CompiledPolicy, compile_policy
from .context import activation, classify_request
from .decision import Decision
from .evaluate import Check, Flow, Reconcile, Release, Reserve, StoreFailed, request_steps, response_steps
from .request import HttpResponse, Request, RequestError, _problems

__all__ = ["Engine"]

MAX_PENDING = 100_000  # forwarded requests awaiting complete(); the oldest are dropped beyond
MAX_DONE = 4096  # completed decisions remembered, so a repeated complete() gets the same answer


class Engine:
    """Compile once, evaluate many. Thread-safe: the compiled policy is immutable and each
    request's state is its own; the store is thread-safe by contract.

    ``policy``: a :class:`~aigw_policy.Policy`, a compiled policy, or a path to load.
    ``store``: a limit store (default: a fresh in-memory store). ``ledger``: a
    :class:`~aigw_policy.ledger.Ledger` to record finished requests in. ``prices``: a
    :class:`~aigw_policy.providers.PriceBook` or a mapping of price overrides.
    ``trace``: record the full trace by default. ``index``: dispatch rules through the index.
    """

    def __init__(self, policy: Policy | CompiledPolicy | str | os.PathLike[str], store: LimitStore | None = None, *,
                 ledger: Any = None, prices: PriceBook | Mapping[str, Any] | None = None, counter: Any = None,
                 trace: bool = False, index: bool = True,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        if isinstance(policy, (str, os.PathLike)):
            from ..loader import load

            policy = load(policy)
        if isinstance(policy, CompiledPolicy):
            self.compiled = policy
        elif isinstance(policy, Policy):
            self.compiled = compile_policy(policy, index=index, cache_dir=cache_dir)
        else:
            raise TypeError(f"Engine needs a Policy, not {type(policy).__name__}")
        if store is None:
            from ..stores import MemoryStore

            store = MemoryStore()
        self.store = store
        self.ledger = ledger
        if prices is None:
            prices = PriceBook()
        elif not isinstance(prices, PriceBook):
            prices = PriceBook.from_mapping(prices)
        self.prices = prices
        self.counter = counter
        self.trace = trace
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, tuple[Flow, bool]] = OrderedDict()
        self._done: OrderedDict[str, Decision] = OrderedDict()

    @property
    def policy(self) -> Policy:
        return self.compiled.policy

    # -- building a flow ---------------------------------------------------------------------

    def start(self, request: Request | Mapping[str, Any], *, trace: bool | None = None, now: float | None = None,
              request_id: str | None = None) -> tuple[Flow, Request, bool]:
        """Validate a request and build its evaluation state (no store involved)."""
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
        act = activation(req, ai, rid, now, content_length=cp.uses_content_length, url_parts=cp.uses_url,
                         time_now=cp.uses_time)
        flow = Flow(self.compiled, rid, now, act, ai, req.identity, self.prices, self.trace if trace is None else trace)
        return flow, req, explicit

    def seed(self, state: Any, now: float) -> None:
        """Set counters from a request's ``state`` (``explain``, ``replay`` and tests)."""
        for name, buckets in state.limits.items():
            hit = self.compiled.limits.get(name)
            if hit is None:
                known = ", ".join(f"`{n}`" for n in self.compiled.limits) or "none"
                raise RequestError([(f"state.limits.{name}", f"the policy has no limit named `{name}` (limits: {known})")])
            spec = hit[1].limit.spec  # type: ignore[union-attr]
            for key, b in buckets.items():
                self.store.seed(spec, key, float(b.used), now)

    # -- sync --------------------------------------------------------------------------------

    def evaluate(self, request: Request | Mapping[str, Any], *, trace: bool | None = None, now: float | None = None,
                 apply_state: bool = False, request_id: str | None = None, expect_response: bool = True) -> Decision:
        """Decide a request. With a ``response`` in the request, the response phase runs too.

        ``apply_state``: seed the store from the request's ``state`` first (explain, tests).
        ``expect_response``: keep a forwarded request's state for :meth:`complete` (False
        when nobody will call it, as in replay and policy tests: its reservations are then
        settled at once at the estimate, so they stand until their windows end rather than
        being released when an unsettled reservation expires).
        """
        flow, req, explicit = self.start(request, trace=trace, now=now, request_id=request_id)
        if apply_state and req.state is not None:
            self.seed(req.state, flow.now)
        self._drive(request_steps(flow), flow.now)
        stop = flow.stop
        if stop is not None and stop.verdict == "deny":
            self._drive(response_steps(flow, None), flow.now)
            return self._final(flow)
        if req.response is not None:
            self._drive(response_steps(flow, req.response.model_dump()), flow.now)
            return self._final(flow)
        if expect_response:
            self._park(flow, explicit)
        elif flow.reserved:
            self._drive(_settle_at_estimate(flow), flow.now)
        decision = Decision.from_flow(flow, complete=False, snapshot=expect_response)
        if expect_response and self.ledger is not None:  # durable before it is forwarded
            self.ledger.intent(self._record(flow, decision), flow.ai)
        return decision

    def complete(self, request_id: str, response: HttpResponse | Mapping[str, Any], *, now: float | None = None) -> Decision:
        """The response phase of a forwarded request: usage, cost, reconcile, response rules."""
        flow, now = self._unpark(request_id, now)
        if flow is None:
            return self._done[request_id]
        self._drive(response_steps(flow, _response(response)), now)
        return self._final(flow, remember=True)

    # -- async -------------------------------------------------------------------------------

    async def aevaluate(self, request: Request | Mapping[str, Any], *, trace: bool | None = None,
                        now: float | None = None, apply_state: bool = False, request_id: str | None = None,
                        expect_response: bool = True) -> Decision:
        flow, req, explicit = self.start(request, trace=trace, now=now, request_id=request_id)
        if apply_state and req.state is not None:
            self.seed(req.state, flow.now)
        await self._adrive(request_steps(flow), flow.now)
        stop = flow.stop
        if stop is not None and stop.verdict == "deny":
            await self._adrive(response_steps(flow, None), flow.now)
            return await self._afinal(flow)
        if req.response is not None:
            await self._adrive(response_steps(flow, req.response.model_dump()), flow.now)
            return await self._afinal(flow)
        if expect_response:
            self._park(flow, explicit)
        elif flow.reserved:
            await self._adrive(_settle_at_estimate(flow), flow.now)
        decision = Decision.from_flow(flow, complete=False)
        if expect_response and self.ledger is not None:  # durable before it is forwarded
            await self.ledger.aintent(self._record(flow, decision), flow.ai)
        return decision

    async def acomplete(self, request_id: str, response: HttpResponse | Mapping[str, Any], *,
                        now: float | None = None) -> Decision:
        flow, now = self._unpark(request_id, now)
        if flow is None:
            return self._done[request_id]
        await self._adrive(response_steps(flow, _response(response)), now)
        return await self._afinal(flow, remember=True)

    # -- plumbing ----------------------------------------------------------------------------

    def _park(self, flow: Flow, explicit: bool) -> None:
        with self._lock:
            self._pending[flow.rid] = (flow, explicit)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)

    def _unpark(self, request_id: str, now: float | None) -> tuple[Flow | None, float]:
        with self._lock:
            hit = self._pending.pop(request_id, None)
            if hit is None:
                if request_id in self._done:
                    return None, 0.0
                raise LookupError(f"no request `{request_id}` is waiting for its response: evaluate it first")
        flow, explicit = hit
        if now is None:
            now = flow.now if explicit else max(flow.now, _time.time())
        return flow, now

    def _final(self, flow: Flow, remember: bool = False) -> Decision:
        decision = self._decided(flow, remember)
        if self.ledger is not None:
            self.ledger.record(self._record(flow, decision))
        return decision

    async def _afinal(self, flow: Flow, remember: bool = False) -> Decision:
        decision = self._decided(flow, remember)
        if self.ledger is not None:
            await self.ledger.arecord(self._record(flow, decision))
        return decision

    def _decided(self, flow: Flow, remember: bool) -> Decision:
        decision = Decision.from_flow(flow, complete=True)
        if remember:
            self._remember(decision)
        return decision

    def _remember(self, decision: Decision) -> None:
        with self._lock:
            self._done[decision.id] = decision
            while len(self._done) > MAX_DONE:
                self._done.popitem(last=False)

    def _record(self, flow: Flow, decision: Decision) -> Any:
        from dataclasses import replace

        from ..ledger import make_record

        ai = flow.ai if flow.model == flow.ai.model else replace(flow.ai, model=flow.model)
        cost, usage = flow.cost, flow.usage
        if cost is None and usage is None and decision.verdict == "deny":
            # answered by the gateway: nothing reached the provider, nothing to price
            cost, usage = Cost.not_forwarded(), Usage.of(0, 0, source="none")
        return make_record(flow.rid, time=flow.time(), ai=ai, usage=usage, cost=cost,
                           identity=flow.identity.model_dump(exclude_none=True), verdict=decision.verdict, status_code=decision.status_code,
                           rule=decision.rule, limits=decision.limits)

    def _drive(self, steps: Any, now: float) -> None:
        store = self.store
        try:
            need = next(steps)
            while True:
                try:
                    name, args = _store_call(need)
                    answer = getattr(store, name)(*args, now)
                    if name == "release":
                        answer = []
                except Exception as error:  # noqa: BLE001 - any store failure is the document's fail mode
                    answer = StoreFailed(str(error) or type(error).__name__)
                need = steps.send(answer)
        except StopIteration:
            pass

    async def _adrive(self, steps: Any, now: float) -> None:
        store = self.store
        asynchronous = hasattr(store, "areserve")
        try:
            need = next(steps)
            while True:
                try:
                    name, args = _store_call(need)
                    if asynchronous:
                        answer = await getattr(store, "a" + name)(*args, now)
                    else:
                        answer = getattr(store, name)(*args, now)
                    if name == "release":
                        answer = []
                except Exception as error:  # noqa: BLE001
                    answer = StoreFailed(str(error) or type(error).__name__)
                need = steps.send(answer)
        except StopIteration:
            pass


def _settle_at_estimate(flow: Flow) -> Any:
    """Settle a forwarded request that will get no response at its reserved amounts (an
    empty ``actual``): the charges stay in their windows and the record is closed."""
    answer = yield Reconcile(flow.rid, {})
    if isinstance(answer, StoreFailed):
        flow.notes.append(f"could not settle the reservation: {answer.message}")


def _store_call(need: Any) -> tuple[str, tuple[Any, ...]]:
    """The store method a need of the core asks for (``a`` + it for the async twin) and its
    arguments before ``now``."""
    t = type(need)
    if t is Check:
        return "check", (need.charges,)
    if t is Reserve:
        return "reserve", (need.request_id, need.charges)
    if t is Reconcile:
        return "reconcile", (need.request_id, need.actual)
    if t is Release:
        return "release", (need.request_id,)
    raise TypeError(f"unknown need {need!r}")  # pragma: no cover - the core only asks these


def _response(response: HttpResponse | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(response, HttpResponse):
        return response.model_dump()
    if not isinstance(response, Mapping):
        raise RequestError([("response", "a response is an object with `status_code`, `headers` and `body`")])
    from pydantic import ValidationError

    try:
        return HttpResponse.model_validate(response).model_dump()
    except ValidationError as error:
        raise RequestError([(f"response.{f}" if f else "response", m) for f, m in _problems(error)]) from None
