"""``PolicyMiddleware``: put an aigw-policy engine in front of any ASGI app.

```python
import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware
from aigw_policy.gateway import load_keys

app = PolicyMiddleware(my_llm_app, ap.Engine("policy.aigw"), keys=load_keys("keys.yaml"))
```

For each HTTP request: make the path canonical (ambiguous paths -> 400); pass a path the
embedder excluded (``exclude``) straight to the app; authenticate the caller from the headers
(``keys``, or the embedder's ``identity`` hook; no identity -> 401) before reading the body,
read the body within ``max_body`` (413) and parse it strictly (400), decide the request
phase (``engine.aevaluate``), answer a denial in the provider's own error shape, or call
the app with the request rewritten by the decision's effects (``set-model``, ``max-tokens``
clamp, request headers, OpenAI ``include_usage`` for streams); stream the app's answer
through chunk by chunk while keeping its usage; then run the response phase and
reconciliation (``engine.acomplete``), which also writes the ledger. Every answer carries
``x-aigw-decision-id``; allowed and limited answers carry ``RateLimit`` headers. The edge
rules are in docs/gateway.md, "Hostile input"; the hooks in "Middleware hooks". One request's
way through is :class:`~aigw_policy.gateway.exchange.Exchange`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, TypeAlias

from . import usage_api
from .exchange import DECISION_HEADER, Exchange, RequestContext
from .keys import KeyRing
from .paths import PathError, canonical_path, encode_path

__all__ = ["DECISION_HEADER", "IdentityHook", "PolicyMiddleware", "RequestContext"]

IdentityHook: TypeAlias = Callable[[Mapping[str, Any], Mapping[str, str]],
                                   Mapping[str, Any] | None | Awaitable[Mapping[str, Any] | None]]
"""``identity(scope, headers)``: the caller's identity (``key``, ``user``, ``team``, ``org``,
``tier``: strings; ``labels``: strings by string) or ``None`` (401); sync or async."""

DEFAULT_MAX_BODY = 32 * 1024 * 1024
"""Request bodies larger than this are refused with 413 (Anthropic's own limit is 32 MB)."""
DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds the middleware waits for the next piece of a request body."""
DEFAULT_OFFLOAD_COST = 100_000
"""Policies with a CEL expression of at least this static cost are evaluated in a thread."""


class PolicyMiddleware:
    """Wrap ``app`` with policy enforcement.

    ``engine``: an :class:`~aigw_policy.Engine`, or an object whose ``current`` attribute is
    the engine to use (a :class:`~aigw_policy.gateway.reload.PolicyHolder`, for hot reload:
    each request keeps the engine it started with). ``keys``: a
    :class:`~aigw_policy.gateway.keys.KeyRing` (``None``: no authentication, credentials pass
    through). ``provider``: force the provider label (``vllm``, ``ollama``). ``observer``:
    called with one event dict per finished request (metrics, logs, spans). ``max_body``:
    larger request bodies are refused with 413 (by their ``Content-Length`` before any byte
    is read, or as a chunked body grows). ``capture_limit``: bytes of an answer kept for
    usage extraction (a stream's usage is read incrementally beyond it; a larger JSON answer
    is passed through and its usage estimated). ``offload_cost``: a policy holding a CEL
    expression whose static worst-case cost reaches this is evaluated in a worker thread,
    so that a costly evaluation never stalls the event loop (0: always; None: never).
    ``body_timeout``: seconds to wait for the next piece of a request body before answering
    408, and the start of the body's deadline, which each piece moves on at
    :data:`~.request_body.MIN_BODY_RATE` (a client trickling its body holds a connection and a
    buffer; None: no limit).
    ``settle_after_answer``: let the response phase run just after the last byte when nothing
    in it can change the answer (:meth:`settles_late`); it relies on the server writing the
    last byte within ``send`` (uvicorn does), else say False.

    Hooks for an application that embeds the middleware (docs/gateway.md, "Middleware hooks"):

    - ``identity``: an :data:`IdentityHook`, ``identity(scope, headers)`` -> the caller's
      identity mapping, or ``None`` for a 401 in the provider's error shape; sync or async
      (a sync hook runs on the event loop: make a hook that blocks async). It gets the scope
      with the canonical path and the request headers (lower-case names, repeated headers
      joined by ``", "``), before the body is read. A result that is not an identity (an
      unknown field, a value that is not a string) is a 500 ``invalid_identity`` naming the
      field; an exception in the hook is a 500 ``identity_hook_failed``, logged on
      ``aigw_policy.gateway`` with the request id, its text never sent to the client.
      ``keys`` and ``identity`` are one or the other (``ValueError``): a hook that also
      accepts gateway keys calls ``keys.lookup(key_from(headers, scope["query_string"]))``.
    - ``exclude``: paths outside the policy and authentication, handed to the app as they
      came (with the canonical path): a collection of exact paths (``"/healthz"``) and
      prefixes ending in ``/`` (``"/static/"``), or a predicate ``(path) -> bool``. Always
      matched against the canonical path, so ``/static/../v1/chat`` is ``/v1/chat``; a path
      that cannot be made canonical is a 400 whatever it starts with.
    - ``strip_credentials``: whether the app receives the client's credential headers
      (``authorization``, ``x-api-key``, ``x-goog-api-key``, ``api-key``) and ``?key=``.
      ``None`` (the default): stripped when the middleware authenticates (``keys`` or
      ``identity``: the credential was for it), passed when it does not (the client's own
      provider key, for the app to forward). ``True`` / ``False``: always / never stripped.
      The policy never sees a credential the middleware authenticated with.
    - ``geoip``: ``geoip(client_ip)`` -> more ``conn`` entries (ngrok's names, dotted:
      ``geo.country_code``, ``client_ip.as.number``), added to what the socket tells; a
      :class:`~aigw_policy.gateway.geoip.GeoIP` over MaxMind DB files, or the embedder's own
      IP intelligence. Called on the event loop: keep it fast (cache it).

    Routing (SPEC §12): a request an ``ai-gateway`` action routes is not handed to ``app``:
    ``router`` (a :class:`~aigw_policy.gateway.routing.Router`, holding the secrets its keys
    resolve from) sends each attempt to the chosen provider and fails over; the client's own
    credential never goes upstream (only the configured key, in the provider's auth style).
    """

    def __init__(self, app: Any, engine: Any, *, keys: KeyRing | None = None, provider: str | None = None,
                 observer: Callable[[dict[str, Any]], None] | None = None, max_body: int = DEFAULT_MAX_BODY,
                 capture_limit: int = 32 * 1024 * 1024, inject_usage: bool = True,
                 offload_cost: int | None = DEFAULT_OFFLOAD_COST,
                 body_timeout: float | None = DEFAULT_BODY_TIMEOUT, identity: IdentityHook | None = None,
                 exclude: Collection[str] | Callable[[str], bool] | None = None,
                 strip_credentials: bool | None = None, router: Any = None, settle_after_answer: bool = True,
                 geoip: Callable[[str], Mapping[str, Any]] | None = None) -> None:
        if keys is not None and identity is not None:
            raise ValueError("give PolicyMiddleware `keys=` or `identity=`, not both: to accept gateway keys "
                             "too, look them up in the hook: `keys.lookup(key_from(headers, scope['query_string']))`")
        if identity is not None and not callable(identity):
            raise TypeError(f"`identity=` is a callable (scope, headers) -> identity mapping or None, sync or "
                            f"async, not {type(identity).__name__}")
        self.app = app
        self._engine = engine
        self.keys = keys
        self.identity = identity
        self._excluded = _exclusion(exclude)
        self._strip = strip_credentials
        self.provider = provider
        self.geoip = geoip
        self.observer = observer
        self.max_body = max_body
        self.capture_limit = capture_limit
        self.inject_usage = inject_usage
        self.offload_cost = offload_cost
        self.body_timeout = body_timeout
        self._costly: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        self._late: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        self.settle_after_answer = settle_after_answer
        self._router = router

    @property
    def router(self) -> Any:
        """What forwards the attempts of requests an ``ai-gateway`` action routes (a
        :class:`~aigw_policy.gateway.routing.Router`; made on first use when not given, with
        secrets from the environment only)."""
        if self._router is None:
            from .routing import Router

            self._router = Router(capture_limit=self.capture_limit)
        return self._router

    async def costly(self, engine: Any) -> bool:
        """Whether ``engine``'s policy is evaluated off the event loop (decided once per
        engine, in a thread: costing a large policy takes a while)."""
        if self.offload_cost is None:
            return False
        found = self._costly.get(engine)
        if found is None:
            found = self._costly[engine] = await asyncio.to_thread(_max_cost, engine) >= self.offload_cost
        return found

    def settles_late(self, engine: Any) -> bool:
        """Whether a forwarded request's response phase runs right after its last byte is
        sent rather than before (``settle_after_answer``): only when it can change nothing the
        client receives (the policy has no ``on response`` rule) and the engine completes
        without I/O (an in-memory limit store, no ledger), so that it runs in the same event
        loop step as the last byte's write and every later request sees it settled
        (docs/gateway.md, "What happens to a request")."""
        if not self.settle_after_answer:
            return False
        found = self._late.get(engine)
        if found is None:
            from ..limits import MemoryStore

            compiled = getattr(engine, "compiled", None)
            found = self._late[engine] = (
                compiled is not None and not getattr(compiled, "response_rules", True)
                and type(getattr(engine, "store", None)) is MemoryStore and getattr(engine, "ledger", True) is None)
        return found

    @property
    def authenticates(self) -> bool:
        """Whether the middleware authenticates callers (``keys`` or ``identity``)."""
        return self.keys is not None or self.identity is not None

    @property
    def strips_credentials(self) -> bool:
        """Whether the app's request loses the client's credential headers and ``?key=``."""
        return self.authenticates if self._strip is None else self._strip

    def excludes(self, path: str) -> bool:
        """Whether the canonical ``path`` is outside the policy (``exclude``); the embedder's
        predicate may raise."""
        return self._excluded is not None and bool(self._excluded(path))

    @property
    def engine(self) -> Any:
        holder = self._engine
        return holder.current if hasattr(holder, "current") else holder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and not self._websocket_excluded(scope):
                await _refuse_websocket(receive, send)  # no policy decides one: never past the gateway
                self._refused_websocket(scope)
                return
            await self.app(scope, receive, send)
            return
        exchange = Exchange(self, self.engine, scope, receive, send)
        if exchange.outside():
            await self.app(exchange.scope, receive, send)
            return
        if usage_api.handles(exchange):  # GET /v1/aigw/limits, /v1/aigw/usage
            await exchange.run(usage_api.answer)  # logged, counted and failing as every exchange does
            return
        await exchange.run()


    def _refused_websocket(self, scope: dict[str, Any]) -> None:
        """A refused websocket gets its decision log line and its count, as every refusal does."""
        if self.observer is None:
            return
        from .request_ids import request_id

        path = scope.get("path")
        event = {"request_id": request_id(), "method": "GET", "path": path[:256] if isinstance(path, str) else None,
                 "verdict": "deny", "status_code": 403, "reason": _WEBSOCKET_REFUSED, "latency_ms": 0.0,
                 "overhead_ms": 0.0}
        try:
            self.observer(event)
        except Exception:  # noqa: BLE001 - observability never breaks a request
            logging.getLogger("aigw_policy.gateway").exception("observer failed")

    def _websocket_excluded(self, scope: dict[str, Any]) -> bool:
        """Whether a websocket's canonical path is one ``exclude`` takes out of the policy."""
        if self._excluded is None:
            return False
        try:
            raw = scope.get("raw_path")
            path = canonical_path(raw.decode("latin-1") if raw else encode_path(scope.get("path", "")))[0]
            return self.excludes(path)
        except Exception:  # noqa: BLE001 - a path that is not canonical, a failing predicate: refused
            return False


async def _refuse_websocket(receive: Any, send: Any) -> None:
    """A websocket the policy cannot decide (no request phase sees its messages): closed
    before it is accepted, which the server answers 403 (ASGI)."""
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008, "reason": _WEBSOCKET_REFUSED})


_WEBSOCKET_REFUSED = "websockets are not served by the policy gateway"


def _exclusion(exclude: Collection[str] | Callable[[str], bool] | None) -> Callable[[str], bool] | None:
    """``exclude=`` as a predicate on the canonical path; a path list that could never match
    as written (not canonical, not a path) or would match everything is refused."""
    if exclude is None or callable(exclude):
        return exclude
    if isinstance(exclude, (str, bytes)) or not isinstance(exclude, Collection):
        raise TypeError("`exclude=` is a list of paths (`[\"/healthz\", \"/static/\"]`) or a predicate "
                        f"(path) -> bool, not a {type(exclude).__name__}")
    exact: set[str] = set()
    prefixes: list[str] = []
    for path in exclude:
        if not isinstance(path, str):
            raise TypeError(f"`exclude=` paths are strings, not {type(path).__name__}: {path!r}")
        if not path.startswith("/"):
            raise ValueError(f"excluded path `{path}` must start with `/`")
        if path == "/":
            raise ValueError("excluding `/` would exclude every path from the policy: leave the middleware out")
        try:
            canonical = canonical_path(encode_path(path))[0]
        except PathError as error:
            raise ValueError(f"excluded path `{path}` can never match a request: {error}") from None
        if canonical != path:
            raise ValueError(f"excluded path `{path}` is not canonical: requests are matched once their path "
                             f"is made canonical, so write `{canonical}`")
        (prefixes.append(path) if path.endswith("/") else exact.add(path))
    starts = tuple(prefixes)
    return lambda path: path in exact or path.startswith(starts)


def _max_cost(engine: Any) -> int:
    """The highest static cost of a CEL text of the engine's policy (0 when unknown)."""
    from ..analysis.cost import costs

    try:
        return max((c.cost for c in costs(engine.policy)), default=0)
    except AttributeError:  # an engine-like object without a policy IR: evaluate on the loop
        return 0
