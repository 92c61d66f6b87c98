"""The ``aigw-policy serve`` application: policy middleware + upstream proxy + ``/metrics``.

```python
from aigw_policy.gateway import Gateway
app = Gateway(policy="policy.aigw", upstream="https://api.openai.com", keys=load_keys("keys.yaml"),
              store="sqlite:/var/lib/aigw/limits.db", ledger="sqlite:/var/lib/aigw/usage.db")
# any ASGI server: uvicorn.run(app, host="127.0.0.1", port=8080)
```
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import signal
from typing import Any

from ..engine import Engine
from ..routing.secrets import Secrets
from .supplied import basic_auth_rules, unsupplied_readers, warning
from .keys import KeyRing
from .metrics import Observer
from .middleware import PolicyMiddleware
from .proxy import UpstreamProxy
from .reload import PolicyHolder
from .routing import Router, key_values, no_upstream

__all__ = ["Gateway"]

GATEWAY_MAX_DONE = 256
"""Completed decisions the gateway's engine remembers (``Engine(max_done=...)``; an embedder's
default is 4,096). The gateway completes each request once, within its exchange; kept longer,
4,096 decisions of a few dozen objects each made the garbage collector walk ~80,000 objects
more in its middle and full collections: ~6% of ``serve``'s CPU (docs/gateway.md)."""


class Gateway:
    """An ASGI app. ``policy``: the policy file (watched every ``watch`` seconds, 0: only on
    SIGHUP). ``upstream``: the provider's base URL. ``keys``: a :class:`KeyRing` or ``None``
    (no authentication). ``store`` / ``ledger``: URLs or objects. ``upstream`` may be None
    when the policy routes with an ``ai-gateway`` action (a request it does not route is then
    a 502 ``no_upstream``); ``secrets``: where the action's ``${secrets.get(...)}`` keys
    resolve (default: ``AIGW_SECRET_*`` environment variables), checked at every (re)load.
    ``geoip``: ``conn`` entries for a client address (a :class:`~.geoip.GeoIP`); without it a
    (re)loaded policy whose rules read ngrok's geo or AS variables is warned of in the log.
    Live routing metrics are kept beside the limits (:func:`~aigw_policy.routing.metrics.route_metrics_for`). Serves ``GET /metrics``
    (Prometheus) and ``GET /healthz``; everything else goes through the policy.

    Edge limits (docs/gateway.md, "Hostile input"): ``max_body`` (bytes, 413 past it),
    ``body_timeout`` (seconds between two pieces of a request body, 408), ``metrics_token``
    (``/metrics`` then wants ``Authorization: Bearer <token>``; None: open)."""

    def __init__(self, *, policy: str | os.PathLike[str], upstream: str | None = None, keys: KeyRing | None = None,
                 store: Any = "memory:", ledger: Any = None, prices: Any = None, provider: str | None = None,
                 timeout: float = 60.0, connect_timeout: float = 5.0, watch: float = 1.0,
                 logger: logging.Logger | None = None, decision_logger: logging.Logger | None = None,
                 sighup: bool = True, cache_dir: str | None = None, max_body: int | None = None,
                 body_timeout: float | None = None, metrics_token: str | None = None,
                 secrets: Secrets | None = None, geoip: Any = None) -> None:
        from ..engine.cooldown import Cooldowns
        from ..limits import from_url
        from ..providers import PriceBook
        from ..routing.metrics import route_metrics_for
        from ..routing.owners import owners_for

        self.logger = logger or logging.getLogger("aigw_policy.gateway")
        self.store = from_url(store) if isinstance(store, str) else store
        if isinstance(ledger, str):
            from ..ledger import Ledger

            ledger = Ledger(ledger)
        self.ledger = ledger
        if ledger is not None and keys is not None:  # a key a client sent as its model is not written
            ledger.mask = keys.masked_record
        book = prices if isinstance(prices, PriceBook) else PriceBook.from_mapping(prices) if prices else PriceBook()
        self.observer = Observer(logger=decision_logger or logging.getLogger("aigw_policy.gateway.decisions"),
                                 prices=book, paths=keys.masked if keys is not None else None,
                                 texts=keys.masked_text if keys is not None else None)

        self.secrets = secrets if secrets is not None else Secrets()
        self.route_metrics = route_metrics_for(self.store)
        self.owners = owners_for(self.store)  # kept across reloads: a response queued before one is read after
        self.router = Router(self.secrets, connect_timeout=connect_timeout)
        self.cooldowns = Cooldowns()  # kept across reloads: a key rate limited before one still is after

        def make_engine(doc: Any) -> Any:
            self.secrets.check(key_values(doc))  # a key whose secret is set nowhere: not this policy
            engine = Engine(doc, store=self.store, ledger=self.ledger, prices=book, cache_dir=cache_dir,
                            route_metrics=self.route_metrics, max_done=GATEWAY_MAX_DONE,
                            response_owners=self.owners, cooldowns=self.cooldowns)
            readers = unsupplied_readers(engine.compiled, geoip is not None)
            if readers:
                self.logger.warning("%s", warning(readers, geoip is not None))
            if keys is not None and (blind := basic_auth_rules(engine.compiled)):
                self.logger.warning("rule%s %s: `basic-auth` never sees a credential here: with a keys file, the "
                                    "credential headers are the gateway key's and are hidden from the policy, so "
                                    "every request it meets is refused 401", "s" if len(blind) > 1 else "",
                                    ", ".join(f"`{r}`" for r in blind))
            return engine

        self.holder = PolicyHolder(policy, make_engine, logger=self.logger, on_reload=self.observer.reload)
        self.upstream = upstream
        self.proxy: Any = no_upstream if upstream is None else UpstreamProxy(
            upstream, auth=keys.upstream_auth if keys is not None else None, provider=provider, timeout=timeout,
            connect_timeout=connect_timeout)
        limits: dict[str, Any] = {"max_body": max_body} if max_body is not None else {}
        if body_timeout is not None:
            limits["body_timeout"] = body_timeout
        self._metrics_token = f"Bearer {metrics_token}".encode("latin-1") if metrics_token else None
        self.middleware = PolicyMiddleware(self.proxy, self.holder, keys=keys, provider=provider,
                                           observer=self.observer, router=self.router, geoip=geoip, **limits)
        self.watch = watch
        self.sighup = sighup
        self._tasks: list[asyncio.Task[Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "http":
            path = scope["path"]
            if path in _OWN or ("metrics" in path or "healthz" in path) and (path := _own(scope)):
                await self._internal(scope, path, send)
                return
        await self.middleware(scope, receive, send)

    async def _internal(self, scope: dict[str, Any], path: str, send: Any) -> None:
        method = scope.get("method")
        reply = _Reply(send, method == "HEAD", scope["headers"])
        if method not in ("GET", "HEAD"):
            await reply(405, "text/plain", f"{path} answers GET and HEAD\n".encode(), ((b"allow", b"GET, HEAD"),))
            return
        if path == "/metrics" and self._metrics_token is not None:
            given = next((v for k, v in scope["headers"] if k.lower() == b"authorization"), b"")
            if not hmac.compare_digest(given, self._metrics_token):
                await reply(401, "text/plain", b"/metrics wants the metrics token: Authorization: Bearer ...\n")
                return
        if path == "/healthz":
            # nothing of the host (the policy's path, the upstream, versions): anyone may ask
            body = json.dumps({"status": "ok", "policy_version": self.holder.version}).encode()
            ctype = "application/json"
        else:
            found = self.observer.metrics_text()
            if found is None:
                await reply(501, "text/plain", b"prometheus-client is not installed\n")
                return
            body, ctype = found
        await reply(200, ctype, body)

    def server_event(self, event: dict[str, Any]) -> None:
        """A request the server protocol ended before this app saw it (a 400 ``invalid_http``,
        a 431, a head that did not arrive in time; :func:`~.server.refusal_event`): logged and
        counted as every request is (``header_timeout_protocol(..., report=app.server_event)``)."""
        self.observer(event)

    async def startup(self) -> None:
        if self.watch and self.watch > 0:
            self._tasks.append(asyncio.ensure_future(self.holder.watch(self.watch)))
        if self.sighup and hasattr(signal, "SIGHUP"):
            loop = asyncio.get_running_loop()
            try:
                loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, self.holder.reload))
            except (RuntimeError, ValueError, NotImplementedError):
                pass  # not the main thread: file watching only

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.upstream is not None:
            await self.proxy.aclose()
        await self.router.aclose()
        aclose_metrics = getattr(self.route_metrics, "aclose", None)
        if aclose_metrics is not None:
            await aclose_metrics()
        elif hasattr(self.route_metrics, "close"):
            self.route_metrics.close()
        aclose_owners = getattr(self.owners, "aclose", None)
        if aclose_owners is not None:
            await aclose_owners()
        elif hasattr(self.owners, "close"):
            self.owners.close()
        aclose = getattr(self.store, "aclose", None)
        if aclose is not None:  # its last try at queued settlements, then its connections
            try:
                await aclose()
            except Exception:  # noqa: BLE001 - shutting down: say so, go on closing the ledger
                self.logger.warning("the limit store did not close cleanly", exc_info=True)
        if self.ledger is not None:
            await asyncio.to_thread(self.ledger.close)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:  # noqa: BLE001
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


_OWN = frozenset(("/metrics", "/healthz"))
"""The gateway's own paths: answered by it for every method and every spelling of the path
(``//metrics``, ``/x/../healthz``, ``/metrics/``), never forwarded. Before serve23 only a
``GET`` of the path as written was: ``HEAD /metrics`` and ``//metrics`` went through the policy
to the upstream, whose own ``/metrics`` (vLLM's, TGI's) answered through the gateway."""


def _own(scope: dict[str, Any]) -> str:
    """The gateway's own path ``scope`` names in another spelling (its canonical path, a
    trailing ``/`` aside), or ``""``; a path that cannot be made canonical is the
    middleware's to refuse."""
    from .paths import PathError, canonical_scope

    try:
        path = str(canonical_scope(scope)["path"]).rstrip("/")
    except PathError:
        return ""
    return path if path in _OWN else ""


class _Reply:
    """``/healthz`` and ``/metrics``: the gateway's own answers carry a request id as every
    other does (no decision is made nor logged for them), and are never stored by a cache in
    front (a stale health, or the metrics past their token). A ``HEAD`` gets the head alone;
    a request that declared a body (never read) gets ``connection: close``."""

    __slots__ = ("_send", "_head", "_close")

    def __init__(self, send: Any, head: bool, headers: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self._head = head
        self._close = any(k == b"transfer-encoding" or (k == b"content-length" and v.strip(b" \t0"))
                          for k, v in headers)

    async def __call__(self, status: int, ctype: str, body: bytes,
                       more: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        from .request_ids import DECISION_HEADER, id_headers, request_id

        rid = request_id()
        close = ((b"connection", b"close"),) if self._close else ()
        await self._send({"type": "http.response.start", "status": status,
                          "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode()),
                                      (b"cache-control", b"no-store"), (DECISION_HEADER.encode(), rid.encode()),
                                      *id_headers(rid), *more, *close]})
        await self._send({"type": "http.response.body", "body": b"" if self._head else body, "more_body": False})
