"""``PolicyMiddleware``: put an aigw-policy engine in front of any ASGI app.

```python
import aigw_policy as ap
from aigw_policy.asgi import PolicyMiddleware
from aigw_policy.gateway import load_keys

app = PolicyMiddleware(my_llm_app, ap.Engine("policy.aigw"), keys=load_keys("keys.yaml"))
```

For each HTTP request: authenticate the key (when ``keys`` is given; unknown key -> 401),
decide the request phase (``engine.aevaluate``), answer a denial in the provider's own error
shape, or call the app with the request rewritten by the decision's effects (``set-model``,
``max-tokens`` clamp, request headers, OpenAI ``include_usage`` for streams); stream the
app's answer through chunk by chunk while keeping its usage; then run the response phase
and reconciliation (``engine.acomplete``), which also writes the ledger. Every answer
carries ``x-aigw-decision-id``; allowed and limited answers carry ``RateLimit`` headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .gateway.errors import denial, error_response, wire_api
from .gateway.keys import CREDENTIAL_HEADERS, KeyRing, key_from

__all__ = ["DECISION_HEADER", "PolicyMiddleware", "RequestContext"]

DECISION_HEADER = "x-aigw-decision-id"
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
    larger request bodies are refused with 413. ``capture_limit``: bytes of a streamed
    answer kept for usage extraction (usage is estimated beyond it).
    """

    def __init__(self, app: Any, engine: Any, *, keys: KeyRing | None = None, provider: str | None = None,
                 observer: Callable[[dict[str, Any]], None] | None = None, max_body: int = 32 * 1024 * 1024,
                 capture_limit: int = 32 * 1024 * 1024, inject_usage: bool = True) -> None:
        self.app = app
        self._engine = engine
        self.keys = keys
        self.provider = provider
        self.observer = observer
        self.max_body = max_body
        self.capture_limit = capture_limit
        self.inject_usage = inject_usage

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
        body, too_big = await self._read_body()
        if too_big:
            await self._answer(413, f"the request body is larger than {self.mw.max_body} bytes", None)
            return
        identity: Mapping[str, Any] = {}
        query = self.scope.get("query_string", b"")
        if self.mw.keys is not None:
            found = self.mw.keys.lookup(key_from(self.headers, query))
            if found is None:
                await self._answer(401, "unknown or missing API key", None)
                return
            identity = found
        self.ctx.identity = identity
        self.event["identity"] = identity
        body_obj: Any = body.decode("utf-8", "replace") if body else None
        if body:
            try:
                body_obj = json.loads(body)
            except ValueError:
                pass
        request = self._engine_request(identity, body_obj, query)
        from .engine import RequestError

        t = time.perf_counter()
        try:
            decision = await self.engine.aevaluate(request)
        except RequestError as error:
            self.overhead += time.perf_counter() - t
            await self._answer(400, str(error), None)
            return
        self.overhead += time.perf_counter() - t
        self.ctx.decision = decision
        self._note(decision)
        if decision.verdict != "allow":
            await self._deny(decision)
            return
        await self._forward(decision, body, body_obj)

    # -- request side ------------------------------------------------------------------------

    async def _read_body(self) -> tuple[bytes, bool]:
        buf = bytearray()
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.ctx.disconnected = True
                break
            buf += message.get("body", b"")
            if len(buf) > self.mw.max_body:
                return b"", True
            if not message.get("more_body", False):
                break
        return bytes(buf), False

    def _engine_request(self, identity: Mapping[str, Any], body: Any, query: bytes) -> dict[str, Any]:
        scope = self.scope
        secret = self.mw.keys is not None
        headers = {k: v for k, v in self.headers.items() if not (secret and k in CREDENTIAL_HEADERS)}
        host = self.headers.get("host") or _server(scope)
        qs = _strip_key(query) if secret else query.decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}" + (f"?{qs}" if qs else "")
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
        if model and model.get("to") and model.get("from") and f"/models/{model['from']}:" in path:
            path = path.replace(f"/models/{model['from']}:", f"/models/{model['to']}:")
            scope["path"] = path
            scope["raw_path"] = path.encode("utf-8")
        secret = self.mw.keys is not None
        drop = {"content-length"}
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
                      extra: list[tuple[bytes, bytes]] | None = None, quota: bool = False) -> None:
        body, headers = error_response(self.api, status, message, rule=rule, decision_id=self.ctx.request_id,
                                       quota=quota)
        self.event.update(verdict="deny", status_code=status, reason=message, rule=rule)
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
        overflow: Any = None
        ended = False
        sent_start = False
        limit_headers = self._limit_headers(decision)

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, resp_headers, streaming, overflow, ended, sent_start
            if message["type"] == "http.response.start":
                status = message["status"]
                resp_headers = list(message.get("headers", []))
                ctype = _get(resp_headers, b"content-type").lower()
                streaming = any(t in ctype for t in _STREAM_TYPES)
                if streaming:
                    out = [(k, v) for k, v in resp_headers if k.lower() != b"content-length"]
                    out += limit_headers + _header_effects(decision, "response_headers")
                    out.append((DECISION_HEADER.encode(), ctx.request_id.encode()))
                    sent_start = True
                    await self.send({"type": "http.response.start", "status": status, "headers": out})
                return
            if message["type"] != "http.response.body":
                await self.send(message)
                return
            chunk = message.get("body", b"")
            if chunk:
                if overflow is None and len(captured) + len(chunk) <= self.mw.capture_limit:
                    captured.extend(chunk)
                else:
                    if overflow is None:
                        overflow = _overflow(decision, bytes(captured))
                        captured.clear()
                    overflow.feed(chunk)
                if streaming:
                    await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not message.get("more_body", False):
                ended = True

        t_up = time.perf_counter()
        try:
            await self.mw.app(scope, receive, send)
        finally:
            self.event["upstream_ms"] = round((time.perf_counter() - t_up) * 1000, 3)
            final = await self._complete(decision, status, resp_headers, captured, overflow, streaming, ended)
        if ctx.disconnected:
            return
        if streaming:
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if not sent_start:
            await self._finish_buffered(final, decision, status, resp_headers, bytes(captured), limit_headers)

    async def _complete(self, decision: Any, status: int, headers: list[tuple[bytes, bytes]], captured: bytearray,
                        overflow: Any, streaming: bool, ended: bool) -> Any:
        """The response phase and reconciliation, whatever happened to the exchange."""
        ctx = self.ctx
        plain = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        if status == 0:
            # nothing came back: the client left first, or the app failed before answering
            status = 499 if ctx.disconnected else 502
            response: dict[str, Any] = {"status_code": status, "headers": {}, "body": None}
        elif overflow is not None:
            response = {"status_code": status, "headers": plain, "body": _synthetic(overflow, overflow.api)}
        elif streaming:
            response = {"status_code": status, "headers": plain, "sse": _text(captured, plain)}
        else:
            text = _text(captured, plain)
            try:
                parsed: Any = json.loads(text) if text else None
            except ValueError:
                parsed = text
            response = {"status_code": status, "headers": plain, "body": parsed}
        self.event.update(upstream_status=status, stream=streaming, disconnected=ctx.disconnected,
                          upstream_error=ctx.upstream_error, truncated=streaming and not ended)
        t = time.perf_counter()
        try:
            final = await self.engine.acomplete(ctx.request_id, response)
        finally:
            self.overhead += time.perf_counter() - t
        self._note(final)
        return final

    async def _finish_buffered(self, final: Any, decision: Any, status: int, headers: list[tuple[bytes, bytes]],
                               body: bytes, limit_headers: list[tuple[bytes, bytes]]) -> None:
        if final.verdict != "allow" and final.phase == "on_http_response" and final.kind in ("deny", "custom-response"):
            await self._deny(final)  # a response-phase rule replaced the upstream's answer
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
