"""``PolicyMiddleware``: put an aigw-policy engine in front of any ASGI app.

```python
import aigw_policy as ap
from aigw_policy.asgi import PolicyMiddleware
from aigw_policy.gateway import load_keys

app = PolicyMiddleware(my_llm_app, ap.Engine("policy.aigw"), keys=load_keys("keys.yaml"))
```

For each HTTP request: make the path canonical (ambiguous paths -> 400), authenticate the
key from the headers (when ``keys`` is given; unknown key -> 401) before reading the body,
read the body within ``max_body`` (413) and parse it strictly (400), decide the request
phase (``engine.aevaluate``), answer a denial in the provider's own error shape, or call
the app with the request rewritten by the decision's effects (``set-model``, ``max-tokens``
clamp, request headers, OpenAI ``include_usage`` for streams); stream the app's answer
through chunk by chunk while keeping its usage; then run the response phase and
reconciliation (``engine.acomplete``), which also writes the ledger. Every answer carries
``x-aigw-decision-id``; allowed and limited answers carry ``RateLimit`` headers. The edge
rules are in docs/gateway.md, "Hostile input".
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .gateway.errors import denial, error_response, wire_api
from .gateway.hops import hop_by_hop
from .gateway.keys import CREDENTIAL_HEADERS, KeyRing, key_from
from .gateway.paths import PathError, canonical_path, encode_path, encode_segment, valid_host
from .providers.classify import PROVIDER_HEADER

__all__ = ["DECISION_HEADER", "PolicyMiddleware", "RequestContext"]

DECISION_HEADER = "x-aigw-decision-id"
DEFAULT_MAX_BODY = 32 * 1024 * 1024
"""Request bodies larger than this are refused with 413 (Anthropic's own limit is 32 MB)."""
DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds the middleware waits for the next piece of a request body."""
DEFAULT_OFFLOAD_COST = 100_000
"""Policies with a CEL expression of at least this static cost are evaluated in a thread."""
_STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/ndjson", "application/jsonl")


@dataclass
class RequestContext:
    """What the middleware knows about one request; the wrapped app finds it in
    ``scope["aigw"]`` (and reports ``upstream_error`` / ``disconnected`` back)."""

    request_id: str
    identity: Mapping[str, Any] = field(default_factory=dict)
    decision: Any = None
    upstream_error: str | None = None  # timeout | unreachable | broken
    disconnected: bool = False


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
    408 (a client trickling its body holds a connection and a buffer; None: no limit).
    """

    def __init__(self, app: Any, engine: Any, *, keys: KeyRing | None = None, provider: str | None = None,
                 observer: Callable[[dict[str, Any]], None] | None = None, max_body: int = DEFAULT_MAX_BODY,
                 capture_limit: int = 32 * 1024 * 1024, inject_usage: bool = True,
                 offload_cost: int | None = DEFAULT_OFFLOAD_COST,
                 body_timeout: float | None = DEFAULT_BODY_TIMEOUT) -> None:
        self.app = app
        self._engine = engine
        self.keys = keys
        self.provider = provider
        self.observer = observer
        self.max_body = max_body
        self.capture_limit = capture_limit
        self.inject_usage = inject_usage
        self.offload_cost = offload_cost
        self.body_timeout = body_timeout
        self._costly: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    async def costly(self, engine: Any) -> bool:
        """Whether ``engine``'s policy is evaluated off the event loop (decided once per
        engine, in a thread: costing a large policy takes a while)."""
        if self.offload_cost is None:
            return False
        found = self._costly.get(engine)
        if found is None:
            found = self._costly[engine] = await asyncio.to_thread(_max_cost, engine) >= self.offload_cost
        return found

    @property
    def engine(self) -> Any:
        holder = self._engine
        return holder.current if hasattr(holder, "current") else holder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _Exchange(self, self.engine, scope, receive, send).run()


class _Exchange:
    """One request through the middleware (state kept off the middleware object)."""

    def __init__(self, mw: PolicyMiddleware, engine: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.mw, self.engine, self.scope, self.receive, self.send = mw, engine, scope, receive, send
        self.t0 = time.perf_counter()
        self.t0_ns = time.time_ns()
        self.ctx = RequestContext(f"req-{uuid.uuid4().hex[:20]}")
        self.headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
        self.path_error: str | None = None
        try:
            self.scope = scope = _canonical_scope(scope)
        except PathError as error:
            self.path_error = f"invalid request path: {error}"
        if "host" in self.headers and not valid_host(self.headers["host"]):
            self.path_error = "invalid Host header: a host name or address, with an optional port"
        self.api = wire_api(scope["path"], self.headers)
        self.event: dict[str, Any] = {"request_id": self.ctx.request_id, "method": scope.get("method"),
                                      "path": scope["path"]}
        self.overhead = 0.0  # seconds spent deciding (request and response phase)

    # -- the whole exchange ------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            ev = self.event
            ev["latency_ms"] = round((time.perf_counter() - self.t0) * 1000, 3)
            ev["overhead_ms"] = round(self.overhead * 1000, 3)
            ev["start_ns"] = self.t0_ns
            if self.mw.observer is not None:
                try:
                    self.mw.observer(ev)
                except Exception:  # noqa: BLE001 - observability never breaks a request
                    logging.getLogger("aigw_policy.gateway").exception("observer failed")

    async def _run(self) -> None:
        # the edge, in order: the path, the key, the declared size; the body only after them
        if self.path_error is not None:
            await self._answer(400, self.path_error, None, code="invalid_path", close=self._unread_is_large())
            return
        identity: Mapping[str, Any] = {}
        query = self.scope.get("query_string", b"")
        if self.mw.keys is not None:
            found = self.mw.keys.lookup(key_from(self.headers, query))
            if found is None:
                await self._answer(401, "unknown or missing API key", None, close=self._unread_is_large())
                return
            identity = found
        self.ctx.identity = identity
        self.event["identity"] = identity
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            await self._answer(415, f"request bodies with Content-Encoding `{encoding[:40]}` are not accepted: "
                               "the policy could not read them", None, code="unsupported_content_encoding",
                               close=self._unread_is_large())
            return
        declared = self.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.mw.max_body:
            await self._too_big()
            return
        try:
            body = await self._read_body()
        except TimeoutError:
            await self._answer(408, f"the request body did not arrive within {self.mw.body_timeout:g}s", None,
                               code="body_timeout", close=True)
            return
        if body is None:
            await self._too_big()
            return
        ctype = self.headers.get("content-type", "")
        try:  # a large body parses for a while: in a worker thread, not on the event loop
            body_obj = (_parse_body(body, ctype) if len(body) <= _PARSE_ON_LOOP
                        else await asyncio.to_thread(_parse_body, body, ctype))
        except _BadBody as error:
            await self._answer(error.status, error.message, None, code=error.code)
            return
        request = self._engine_request(identity, body_obj, query)
        from .engine import RequestError

        t = time.perf_counter()
        try:
            decision = await self._decide(request)
        except RequestError as error:
            self.overhead += time.perf_counter() - t
            await self._answer(400, str(error), None, code="invalid_request")
            return
        self.overhead += time.perf_counter() - t
        self.ctx.decision = decision
        self._note(decision)
        if decision.verdict != "allow":
            await self._deny(decision)
            return
        await self._forward(decision, body, body_obj)

    async def _decide(self, request: dict[str, Any]) -> Any:
        """The request phase; in a worker thread when the policy may evaluate for long, so
        that one costly evaluation never stalls the event loop (other requests, /healthz)."""
        if await self.mw.costly(self.engine):
            return await asyncio.to_thread(self.engine.evaluate, request)
        return await self.engine.aevaluate(request)

    def _unread_is_large(self) -> bool:
        """Whether a refused request's body, left unread, may be longer than ``max_body``: then
        the connection closes after the answer. Otherwise it stays open and the server
        discards the rest of the body as it comes (memory stays flat either way), so the
        client, once done sending, reads the answer instead of a reset connection."""
        declared = self.headers.get("content-length", "").strip()
        return not (declared.isdigit() and int(declared) <= self.mw.max_body)

    async def _too_big(self) -> None:
        await self._answer(413, f"the request body is larger than {self.mw.max_body} bytes", None,
                           code="body_too_large", close=True)

    # -- request side ------------------------------------------------------------------------

    async def _read_body(self) -> bytes | None:
        """The whole body, or None past ``max_body`` (counted as it arrives: chunked bodies
        declare no length); TimeoutError when the client pauses longer than ``body_timeout``."""
        buf = bytearray()
        while True:
            message = await asyncio.wait_for(self.receive(), self.mw.body_timeout)
            if message["type"] == "http.disconnect":
                self.ctx.disconnected = True
                break
            buf += message.get("body", b"")
            if len(buf) > self.mw.max_body:
                return None
            if not message.get("more_body", False):
                break
        return bytes(buf)

    def _engine_request(self, identity: Mapping[str, Any], body: Any, query: bytes) -> dict[str, Any]:
        scope = self.scope
        secret = self.mw.keys is not None
        # the client does not choose its own classification: the provider override is the
        # middleware's `provider` (a client's x-aigw-provider would pick prices and rules)
        headers = {k: v for k, v in self.headers.items()
                   if not (secret and k in CREDENTIAL_HEADERS) and k != PROVIDER_HEADER}
        host = self.headers.get("host") or _server(scope)
        qs = _strip_key(query) if secret else query.decode("latin-1")
        path = scope["raw_path"].decode("ascii")  # the canonical path, encoded as on the wire
        url = f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{qs}" if qs else "")
        req: dict[str, Any] = {"id": self.ctx.request_id, "identity": dict(identity),
                               "request": {"method": scope.get("method", "POST"), "url": url, "headers": headers,
                                           "body": body}}
        client = scope.get("client")
        if client:
            req["conn"] = {"client_ip": client[0]}
        if self.mw.provider:
            req["ai"] = {"provider": self.mw.provider}
        return req

    def _rewrite(self, decision: Any, raw: bytes, body: Any) -> tuple[dict[str, Any], bytes]:
        """The scope and body the app sees: the decision's effects applied."""
        effects = decision.effects
        ai = decision.ai
        scope = dict(self.scope)
        path = scope["path"]
        changed = False
        model = effects.get("model")
        clamp = effects.get("max_output_tokens")
        if isinstance(body, dict):
            new = dict(body)
            if model and model.get("to") and "model" in new:
                new["model"] = model["to"]
                changed = True
            if clamp and clamp.get("to") is not None:
                _set_max_tokens(new, ai.get("provider"), ai.get("operation"), path, int(clamp["to"]))
                changed = True
            if self.mw.inject_usage and _wants_usage(ai, new):
                opts = dict(new["stream_options"]) if isinstance(new.get("stream_options"), dict) else {}
                opts["include_usage"] = True
                new["stream_options"] = opts
                changed = True
            if changed:
                raw = json.dumps(new, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        was = f"/models/{model['from']}:" if model and model.get("to") and model.get("from") else None
        if was is not None and was in path:  # Gemini: the model is in the path (one segment)
            wire = encode_path(path).replace(encode_path(was), f"/models/{encode_segment(model['to'])}:")
            scope["path"] = path = path.replace(was, f"/models/{model['to']}:")
            scope["raw_path"] = wire.encode("ascii")
        secret = self.mw.keys is not None
        drop = {"content-length", DECISION_HEADER} | hop_by_hop(self.scope["headers"])
        if secret:
            drop.update(CREDENTIAL_HEADERS)
            scope["query_string"] = _strip_key(scope.get("query_string", b"")).encode("latin-1")
        rh = effects.get("request_headers") or {}
        drop.update(rh.get("remove", []))
        drop.update(rh.get("add", {}))
        headers = [(k, v) for k, v in self.scope["headers"] if k.decode("latin-1").lower() not in drop]
        headers += [(k.encode("latin-1"), str(v).encode("latin-1", "replace")) for k, v in rh.get("add", {}).items()]
        headers.append((b"content-length", str(len(raw)).encode()))
        headers.append((DECISION_HEADER.encode(), self.ctx.request_id.encode()))
        scope["headers"] = headers
        scope["aigw"] = self.ctx
        return scope, raw

    # -- answers -----------------------------------------------------------------------------

    async def _answer(self, status: int, message: str, rule: str | None,
                      extra: list[tuple[bytes, bytes]] | None = None, quota: bool = False, *,
                      code: str | None = None, close: bool = False) -> None:
        """A provider-shaped error; ``quota``: a budget exhausted for its period; ``close``: the
        connection is not kept (a large body is unread: the client cannot go on streaming into it)."""
        body, headers = error_response(self.api, status, message, rule=rule, decision_id=self.ctx.request_id,
                                       quota=quota, code=code)
        self.event.update(verdict="deny", status_code=status, reason=message, rule=rule)
        if close:
            headers = headers + [(b"connection", b"close")]
        await self._send_whole(status, headers + (extra or []), body)

    async def _send_whole(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        headers = headers + [(DECISION_HEADER.encode(), self.ctx.request_id.encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def _deny(self, decision: Any) -> None:
        """The gateway's own answer: a provider-shaped error, or a custom response as written."""
        resp = decision.response or {}
        status = int(resp.get("status_code") or decision.status_code)
        extra = self._limit_headers(decision)
        given = {k.lower(): str(v) for k, v in (resp.get("headers") or {}).items()}
        for k, v in given.items():
            extra = [(a, b) for a, b in extra if a.decode().lower() != k]
            extra.append((k.encode("latin-1"), v.encode("latin-1", "replace")))
        extra += _header_effects(decision, "response_headers")
        if decision.kind == "custom-response":
            body = resp.get("body")
            data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            if "content-type" not in given:
                extra.append((b"content-type", b"text/plain; charset=utf-8"))
            extra.append((b"content-length", str(len(data)).encode()))
            self.event.update(verdict="deny", status_code=status)
            await self._send_whole(status, extra, data)
            return
        wire, message, quota = denial(self.api, decision, status)
        await self._answer(wire, message, decision.rule, extra, quota)
        self.event["reason"] = decision.reason  # the operator's log keeps the whole reason

    def _limit_headers(self, decision: Any) -> list[tuple[bytes, bytes]]:
        headers = decision.effects.get("rate_limit_headers") or {}
        return [(k.lower().encode(), v.encode("latin-1", "replace")) for k, v in headers.items()]

    # -- forwarding --------------------------------------------------------------------------

    async def _forward(self, decision: Any, raw: bytes, body: Any) -> None:
        scope, data = self._rewrite(decision, raw, body)
        ctx = self.ctx
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": data, "more_body": False}
            message = await self.receive()
            if message["type"] == "http.disconnect":
                ctx.disconnected = True
            return message

        status = 0
        resp_headers: list[tuple[bytes, bytes]] = []
        streaming = False
        captured = bytearray()
        overflow: Any = None  # a stream past capture_limit: its usage, read incrementally
        passthrough = False  # a JSON answer past capture_limit: sent on as it comes, usage estimated
        ended = False
        sent_start = False
        limit_headers = self._limit_headers(decision)

        async def start_through() -> None:
            nonlocal sent_start
            out = [(k, v) for k, v in resp_headers if k.lower() != b"content-length"]
            out += limit_headers + _header_effects(decision, "response_headers")
            out.append((DECISION_HEADER.encode(), ctx.request_id.encode()))
            sent_start = True
            await self.send({"type": "http.response.start", "status": status, "headers": out})

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, resp_headers, streaming, overflow, passthrough, ended
            if message["type"] == "http.response.start":
                status = message["status"]
                hop = hop_by_hop(message.get("headers", []))
                resp_headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in hop]
                ctype = _get(resp_headers, b"content-type").lower()
                streaming = any(t in ctype for t in _STREAM_TYPES)
                if streaming:
                    await start_through()
                return
            if message["type"] != "http.response.body":
                await self.send(message)
                return
            chunk = message.get("body", b"")
            if chunk:
                if not passthrough and overflow is None and len(captured) + len(chunk) <= self.mw.capture_limit:
                    captured.extend(chunk)
                elif streaming:
                    if overflow is None:
                        overflow = _overflow(decision, bytes(captured))
                        captured.clear()
                    overflow.feed(chunk)
                elif not passthrough:
                    # too large to parse: never hold back or drop bytes, estimate the usage
                    passthrough = True
                    await start_through()
                    head = bytes(captured)
                    captured.clear()
                    await self.send({"type": "http.response.body", "body": head, "more_body": True})
                if streaming or passthrough:
                    await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not message.get("more_body", False):
                ended = True

        t_up = time.perf_counter()
        try:
            await self.mw.app(scope, receive, send)
        finally:
            self.event["upstream_ms"] = round((time.perf_counter() - t_up) * 1000, 3)
            final = await self._complete(decision, status, resp_headers, captured, overflow, streaming, ended,
                                         passthrough)
        if ctx.disconnected:
            return
        if streaming or passthrough:
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if not sent_start:
            await self._finish_buffered(final, decision, status, resp_headers, bytes(captured), limit_headers)

    async def _complete(self, decision: Any, status: int, headers: list[tuple[bytes, bytes]], captured: bytearray,
                        overflow: Any, streaming: bool, ended: bool, passthrough: bool) -> Any:
        """The response phase and reconciliation, whatever happened to the exchange."""
        ctx = self.ctx
        plain = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        if status == 0:
            # nothing came back: the client left first, or the app failed before answering
            status = 499 if ctx.disconnected else 502
            response: dict[str, Any] = {"status_code": status, "headers": {}, "body": None}
        elif overflow is not None:
            response = {"status_code": status, "headers": plain, "body": _synthetic(overflow, overflow.api)}
        elif passthrough:
            response = {"status_code": status, "headers": plain, "body": None}  # usage: estimated
        elif streaming:
            response = {"status_code": status, "headers": plain, "sse": _text(captured, plain)}
        else:
            text = _text(captured, plain)
            try:
                parsed: Any = json.loads(text) if text else None
            except (ValueError, RecursionError):
                parsed = text
            response = {"status_code": status, "headers": plain, "body": parsed}
        self.event.update(upstream_status=status, stream=streaming, disconnected=ctx.disconnected,
                          upstream_error=ctx.upstream_error, truncated=(streaming or passthrough) and not ended)
        t = time.perf_counter()
        try:
            if await self.mw.costly(self.engine):
                final = await asyncio.to_thread(self.engine.complete, ctx.request_id, response)
            else:
                final = await self.engine.acomplete(ctx.request_id, response)
        finally:
            self.overhead += time.perf_counter() - t
        self._note(final)
        return final

    async def _finish_buffered(self, final: Any, decision: Any, status: int, headers: list[tuple[bytes, bytes]],
                               body: bytes, limit_headers: list[tuple[bytes, bytes]]) -> None:
        if final.verdict != "allow" and final.phase == "on_http_response" and final.kind in ("deny", "custom-response", "error"):
            await self._deny(final)  # a response-phase rule replaced the answer (or failed closed)
            return
        out = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        effects = final.effects.get("response_headers") or {}
        drop = set(effects.get("remove", [])) | set(effects.get("add", {}))
        out = [(k, v) for k, v in out if k.decode("latin-1").lower() not in drop]
        out += limit_headers + _header_effects(final, "response_headers")
        out.append((b"content-length", str(len(body)).encode()))
        out.append((DECISION_HEADER.encode(), self.ctx.request_id.encode()))
        self.event["status_code"] = status
        await self.send({"type": "http.response.start", "status": status, "headers": out})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    def _note(self, decision: Any) -> None:
        ev = self.event
        ev.update(verdict=decision.verdict, status_code=decision.status_code, rule=decision.rule,
                  reason=decision.reason, phase=decision.phase, decided_by=decision.kind)
        ev["decision"] = decision


# -- helpers ---------------------------------------------------------------------------------


def _get(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


def _text(body: bytearray, headers: Mapping[str, str]) -> str:
    """An answer's text for usage and the response phase, its content coding undone (an app
    other than UpstreamProxy may send gzip, br, ... to a client that accepts it)."""
    from .providers import ProviderError
    from .providers.encoding import codings, decode_body

    data = bytes(body)
    if codings(headers.get("content-encoding")):
        try:
            data = decode_body(data, headers.get("content-encoding"))
        except ProviderError:
            pass  # left as is: usage is then estimated
    return data.decode("utf-8", "replace")


def _server(scope: Mapping[str, Any]) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    return f"{host}:{port}" if port else str(host)


def _strip_key(query: bytes | str) -> str:
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if "key=" not in text:
        return text
    return urlencode([(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k != "key"])


def _header_effects(decision: Any, name: str) -> list[tuple[bytes, bytes]]:
    add = (decision.effects.get(name) or {}).get("add") or {}
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1", "replace")) for k, v in add.items()]


def _wants_usage(ai: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    from .providers import PROVIDERS

    if PROVIDERS.get(ai.get("provider"), "openai") != "openai" or not ai.get("stream"):
        return False
    if ai.get("operation") not in ("chat", "completion"):
        return False
    opts = body.get("stream_options")
    return not (isinstance(opts, dict) and opts.get("include_usage"))


def _set_max_tokens(body: dict[str, Any], provider: Any, operation: Any, path: str, value: int) -> None:
    from .providers import PROVIDERS

    api = PROVIDERS.get(provider, "openai")
    if api == "anthropic":
        body["max_tokens"] = value
    elif api == "gemini":
        config = dict(body["generationConfig"]) if isinstance(body.get("generationConfig"), dict) else {}
        config["maxOutputTokens"] = value
        body["generationConfig"] = config
    elif api == "ollama" and path.startswith("/api/"):
        options = dict(body["options"]) if isinstance(body.get("options"), dict) else {}
        options["num_predict"] = value
        body["options"] = options
    elif operation == "responses":
        body["max_output_tokens"] = value
    elif operation == "chat":
        if "max_tokens" in body and "max_completion_tokens" not in body:
            body["max_tokens"] = value
        else:
            body["max_completion_tokens"] = value
    else:
        body["max_tokens"] = value


def _overflow(decision: Any, head: bytes) -> Any:
    """An incremental usage reader for a stream too long to keep whole."""
    from .providers import PROVIDERS, StreamUsage

    ai = decision.ai
    acc = StreamUsage(PROVIDERS.get(ai.get("provider"), "openai"), input_estimate=int(ai.get("input_tokens") or 0),
                      model=ai.get("model") or None)
    acc.feed(head)
    return acc


def _synthetic(acc: Any, api: str) -> Any:
    """A JSON body the engine reads back as the usage an overflowing stream reported."""
    u = acc.finish()
    if u.source != "provider":
        return None  # the engine estimates from the request
    if api == "anthropic":
        fresh = u.input_tokens - u.cached_input_tokens - u.cache_creation_input_tokens
        return {"model": u.model, "usage": {"input_tokens": fresh, "output_tokens": u.output_tokens,
                                            "cache_read_input_tokens": u.cached_input_tokens,
                                            "cache_creation_input_tokens": u.cache_creation_input_tokens}}
    if api == "gemini":
        return {"modelVersion": u.model, "usageMetadata": {
            "promptTokenCount": u.input_tokens, "candidatesTokenCount": u.output_tokens - u.reasoning_tokens,
            "thoughtsTokenCount": u.reasoning_tokens, "cachedContentTokenCount": u.cached_input_tokens,
            "totalTokenCount": u.total_tokens}}
    return {"model": u.model, "usage": {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                                        "total_tokens": u.total_tokens,
                                        "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
                                        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens}}}


def _canonical_scope(scope: dict[str, Any]) -> dict[str, Any]:
    """``scope`` with its path made canonical (:mod:`aigw_policy.gateway.paths`): the policy
    decides on ``path`` and the app forwards ``raw_path``, the same path encoded."""
    raw = scope.get("raw_path")
    try:
        text = raw.decode("ascii") if raw is not None else encode_path(scope["path"])
    except UnicodeDecodeError:
        raise PathError("the path has a byte that is not ASCII") from None
    decoded, encoded = canonical_path(text)
    if decoded == scope["path"] and raw == encoded.encode("ascii"):
        return scope
    return {**scope, "path": decoded, "raw_path": encoded.encode("ascii")}


class _BadBody(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        self.code, self.message, self.status = code, message, status


_PARSE_ON_LOOP = 256 * 1024
"""Bodies up to this size are parsed on the event loop (well under a millisecond)."""
MAX_JSON_ITEMS = 1_000_000
"""A body with more comma-separated items is refused (413) before it is parsed: parsed, tiny
items cost ~25x their bytes (`[{},{},...]`: 28 MiB of text is 700 MiB of objects). Commas
inside strings count too; a million is ~4x the text of a 1M-token context."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _BadBody("duplicate_json_key", f"the request body has the key `{key[:80]}` twice: "
                               "which one counts depends on the parser, so it is refused")
            seen.add(key)
    return out


_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    raise _BadBody("invalid_json", f"the request body has `{name}`, which is not JSON")


def _parse_body(body: bytes, content_type: str) -> Any:
    """The request body as the policy sees it: JSON when it is JSON (duplicate keys, NaN and
    nesting past :data:`~aigw_policy.env.request.MAX_DEPTH` refused), else text. A body
    that claims to be JSON (or says nothing of its type) and does not parse is refused: an
    upstream with a more lenient parser would read fields the policy never saw."""
    if not body:
        return None
    if len(body) > MAX_JSON_ITEMS and body.count(b",") >= MAX_JSON_ITEMS:
        raise _BadBody("json_too_many_items", f"the request body has more than {MAX_JSON_ITEMS:,} items "
                       "(commas), more than a request needs", 413)
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        if _SURROGATE_ESCAPE.search(body):  # `\ud800` unpaired: not Unicode, parsers differ on it
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise _BadBody("invalid_json", "the request body has an unpaired surrogate escape (`\\ud800`)") from None
    except RecursionError:
        raise _BadBody("json_too_deep", "the request body is nested too deeply to read") from None
    except ValueError as error:
        media = content_type.split(";", 1)[0].strip().lower()
        if not media or media == "text/plain" or media.endswith(("/json", "+json")):
            where = f" ({error.msg} at line {error.lineno} column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
            raise _BadBody("invalid_json", f"the request body is not valid JSON{where}") from None
        return body.decode("utf-8", "replace")


def _max_cost(engine: Any) -> int:
    """The highest static cost of a CEL text of the engine's policy (0 when unknown)."""
    from .analysis.cost import costs

    try:
        return max((c.cost for c in costs(engine.policy)), default=0)
    except AttributeError:  # an engine-like object without a policy IR: evaluate on the loop
        return 0
