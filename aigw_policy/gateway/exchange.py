"""One request through :class:`~aigw_policy.gateway.middleware.PolicyMiddleware`: the edge
checks in order (path, caller, declared size, body), the request phase, the denial or the
forwarding with the decision's effects, the answer streamed through, the response phase."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..engine import RequestError
from ..engine.action_helpers import inferred_content_type
from ..providers.classify import PROVIDER_HEADER, READS
from ..providers.parsed_json import MISSING, take
from .answer_read import wants_stream
from .captured import answer_text, header_value, overflow_usage, streamed, usage_body
from .conn import conn_of, connection_reads, http_version, server_name, timestamp_of
from .effects import (KEY_IN_PATH, effect, header_effects, key_in_path, model_in_path, rewritten_body, rewritten_target,
                      secret_holders, strip_key, unjudged_models)
from ..ledger.errors import LedgerError
from .errors import (LEDGER_UNAVAILABLE, aigw_object, denial, error_response, no_long_retry, routed_error, wire_api,
                     with_extra)
from .hops import CLIENT_SAYS, SAYS_PREFIXES, hop_by_hop, union_once
from .injected_usage import HideInjectedUsage
from .keys import CREDENTIAL_HEADERS, key_from, valid_identity
from .head import ALLOWED_METHODS, judge_head
from .paths import PathError
from .form_body import query_model_problem
from .request_body import MIN_BODY_RATE, BadBody, body_code, body_coding, parse_body, read_body, receive_within
from .request_ids import DECISION_HEADER, id_headers, request_id
from .routing import route, unreachable_internal
from .server import CONN_TIMES

if TYPE_CHECKING:
    from .middleware import PolicyMiddleware

__all__ = ["DECISION_HEADER", "Exchange", "RequestContext", "receive_within", "request_id"]

_log = logging.getLogger("aigw_policy.gateway")

_PARSE_ON_LOOP = 256 * 1024
"""Bodies up to this size are parsed on the event loop (well under a millisecond)."""
_DECISION = DECISION_HEADER.encode()
_OWN_REQUEST = frozenset({"content-length", DECISION_HEADER}) | CLIENT_SAYS  # the gateway's to write, or nobody's
_OWN_CREDENTIALS = _OWN_REQUEST.union(CREDENTIAL_HEADERS)
_LENGTH = frozenset({"content-length"})
_UNSEEN = frozenset(CREDENTIAL_HEADERS) | {PROVIDER_HEADER}  # of a caller the middleware authenticates
_PROVIDER_ONLY = frozenset({PROVIDER_HEADER})  # the client never chooses its own classification


@dataclass
class RequestContext:
    """What the middleware knows about one request; the wrapped app finds it in
    ``scope["aigw"]`` (and reports ``upstream_error`` / ``disconnected`` back). ``identity``
    is the caller's, from ``keys`` or the ``identity`` hook (``{}`` without either)."""

    request_id: str
    identity: Mapping[str, Any] = field(default_factory=dict)
    decision: Any = None
    upstream_error: str | None = None  # timeout | unreachable | broken | malformed
    disconnected: bool = False
    wants_stream: bool | None = None  # the request asked for a stream (answer_read.wants_stream)


class Exchange:
    """One request through the middleware (state kept off the middleware object)."""

    def __init__(self, mw: PolicyMiddleware, engine: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.mw, self.engine, self.scope, self.receive, self.send = mw, engine, scope, receive, send
        self.t0 = time.perf_counter()
        self.t0_ns = time.time_ns()
        self.ctx = RequestContext(request_id())
        self.headers: dict[str, str] = {}
        self._names: list[str] = []  # the request's header names, lower case, in order (_rewrite's filter)
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            self._names.append(name)
            value = v.decode("latin-1")
            self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
        # path_error: why the head is refused (None: it is not), edge: the status and code it gets (.head)
        scope, self.path_error, self.edge = judge_head(scope, self.headers)
        self.scope = scope
        self.event: dict[str, Any] = {"request_id": self.ctx.request_id, "method": scope.get("method"),
                                      "path": scope["path"]}
        self.overhead = 0.0  # seconds spent deciding (request and response phase)
        self.request: dict[str, Any] = {}  # what the engine decided on (an overflowing stream is read in its format)
        self._upstream_headers: list[tuple[bytes, bytes]] | None = None  # _kept_headers(), once the caller is known
        self.failed: tuple[str, str] | None = None  # an embedder's hook failed: (code, message), a 500
        self.secret: str | None = None  # the gateway key the client sent: kept from upstream and policy
        self._holders: frozenset[str] = frozenset()  # the headers holding it (effects.secret_holders)
        self._reads = (True, True)  # whether the policy reads conn.*, and req.* (req.version, req.ts.*): _engine_request

    @functools.cached_property
    def api(self) -> str:
        """The error dialect the client speaks (:func:`~aigw_policy.gateway.errors.wire_api`):
        read only when the gateway answers itself or routes, so worked out then."""
        return wire_api(self.scope["path"], self.headers)

    # -- the whole exchange ------------------------------------------------------------------

    def outside(self) -> bool:
        """Whether the request's canonical path is excluded from the policy (``exclude``); a
        request whose path is not canonical never is. A failing predicate is logged and the
        exchange answers 500 (``failed``)."""
        if self.path_error is not None:
            return False
        try:
            return self.mw.excludes(self.scope["path"])
        except Exception:  # noqa: BLE001 - the embedder's code: logged, never shown to the client
            _log.exception("the `exclude` predicate of PolicyMiddleware failed (request %s)", self.ctx.request_id)
            self.failed = ("exclude_failed", "the gateway could not route this request (its `exclude` "
                           "predicate failed; the operator's log has the error)")
            return False

    async def run(self, answer: Any = None) -> None:  # answer(exchange): what answers instead of _run (usage_api)
        try:
            await (self._run() if answer is None else answer(self))
        except Exception as error:
            if not await self._failed_unexpectedly(error):
                raise
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
            close = self.edge[0] == 505 or self.edge[1] == "invalid_http" or self._unread_is_large()  # framing unsure
            allow = [(b"allow", ", ".join(ALLOWED_METHODS).encode())] if self.edge[0] == 405 else None
            await self._answer(self.edge[0], self.path_error, None, allow, code=self.edge[1], close=close)
            return
        if self.failed is not None:
            await self._answer(500, self.failed[1], None, code=self.failed[0], close=self._unread_is_large())
            return
        query = self.scope.get("query_string", b"")
        identity = await self._identify(query)
        if identity is None:
            return
        self.ctx.identity = identity
        self.event["identity"] = identity
        coded = body_coding(self.headers)
        if coded is not None:
            await self._answer(415, f"request bodies with {coded[:60]} are not accepted: the policy could not read "
                               "them", None, code="unsupported_content_encoding", close=self._unread_is_large())
            return
        declared = self.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > self.mw.max_body:
            await self._too_big()
            return
        # what needs no body, worked out while it comes (httpx writes a request's head and body apart)
        request = self._engine_request(identity, None, query)
        self._upstream_headers = self._kept_headers()
        try:
            body, gone = await read_body(self.receive, self.mw.max_body, self.mw.body_timeout)
            if gone:  # the client left (or its framing was refused) before its body's end: nothing decided nor sent
                self.event.update(verdict="closed", reason="the client left before its request body was whole")
                return
        except TimeoutError:
            await self._answer(408, f"the request body stalled: a pause over {self.mw.body_timeout:g}s, or under "
                               f"{MIN_BODY_RATE:g} bytes/s on average", None, code="body_timeout", close=True)
            return
        if body is None:
            await self._too_big()
            return
        if self._reads[1]:
            request.setdefault("req", {}).setdefault("ts", {})["body_received"] = timestamp_of(time.time_ns())
        ctype = self.headers.get("content-type", "")
        try:  # a large body parses for a while: in a worker thread, not on the event loop (the key looked for too)
            body_obj = (parse_body(body, ctype, self.scope["method"], self.secret) if len(body) <= _PARSE_ON_LOOP
                        else await asyncio.to_thread(parse_body, body, ctype, self.scope["method"], self.secret))
        except BadBody as error:
            # a body on a method that has none ends its connection: a proxy may have read it as a request (CL.0)
            await self._answer(error.status, error.message, None, code=body_code(error.code, self.engine),
                               close=error.close)
            return
        if query and (problem := query_model_problem(query, body_obj, self.scope["method"], ctype,
                                                     self.scope["path"])) is not None:
            await self._answer(400, problem, None, code=body_code("invalid_request", self.engine))
            return
        request["request"]["body"] = body_obj
        self.request = request
        t = time.perf_counter()
        try:
            decision = await self._decide(request)
        except RequestError as error:
            self.overhead += time.perf_counter() - t
            await self._answer(400, str(error), None, code=body_code("invalid_request", self.engine))
            return
        self.overhead += time.perf_counter() - t
        self.ctx.decision = decision
        self.note(decision)
        if decision.verdict != "allow":
            await self.deny(decision)
            return
        try:
            scope, data, parsed = self._rewrite(decision, body, body_obj)
        except PathError as error:  # a `url-rewrite` made a path the gateway would refuse
            await self._settle_failed()  # allowed, then not sent: its reservation released
            return await self._answer(500, f"rule `{decision.rule}` rewrote the URL to a path that cannot be "
                                      f"forwarded: {error}", decision.rule, code="policy_error")
        self.ctx.wants_stream = wants_stream(decision, parsed)
        if getattr(decision, "route", None) is not None:  # an `ai-gateway` action chose where it goes
            await route(self, decision, scope, data, parsed)
            return
        if forwarded := effect(decision, "forward"):  # `forward-internal`: ngrok's internal endpoint (502)
            await self.forward(decision, scope, data, unreachable_internal(str(forwarded["url"])))
            return
        if (unjudged := unjudged_models(parsed)) is not None:  # the upstream would choose among them, unjudged
            await self._settle_failed(400)  # (allowed, then not sent: its reservation released)
            return await self._answer(400, unjudged, None, code="unjudged_models")
        await self.forward(decision, scope, data, self.mw.app)

    async def _failed_unexpectedly(self, error: Exception) -> bool:
        """An error of the gateway's own code (or the engine's) before the answer began: logged with
        its traceback and the request id, answered 500 ``gateway_error`` in the provider's shape with
        that id (never the error's text, nor the server's plain-text 500 that has no id). The ledger
        failing (no durable intent: nothing is forwarded) is a 503 ``ledger_unavailable`` to retry,
        logged without a traceback. False when an answer had begun (the server then closes)."""
        rid, down = self.ctx.request_id, isinstance(error, LedgerError)
        if down:
            _log.error("the usage ledger failed on request %s: %s", rid, error)
        else:
            _log.exception("the gateway failed on request %s", rid)
        if self.ctx.decision is not None and self.ctx.decision.verdict == "allow":
            await self._settle_failed()
        try:
            await (self._answer(503, LEDGER_UNAVAILABLE, None, [(b"retry-after", b"1")], code="ledger_unavailable")
                   if down else self._answer(500, f"the gateway failed on this request; the operator's log has the "
                                             f"error (request {rid})", None, code="gateway_error", close=True))
        except Exception:  # noqa: BLE001 - an answer had begun: the original error stands
            return False
        self.event["verdict"] = "error"
        return True

    async def _settle_failed(self, status: int = 500) -> None:
        """An allowed request the gateway failed on (or refused) before sending it: completed as a ``status``
        so that its reservation is released and its ledger record final, not left pending. One the engine
        completed already (or never knew) is left as it is."""
        response = {"status_code": status, "headers": {}, "body": None}
        try:
            final = await self.engine.acomplete(self.ctx.request_id, response)
        except Exception:  # noqa: BLE001 - already completed, or the engine failing too: logged above
            return
        self.note(final)

    async def _identify(self, query: bytes) -> Mapping[str, Any] | None:
        """The caller's identity (``keys``, the ``identity`` hook, or none asked: ``{}``), or
        None once the refusal is answered (401; 500 when the hook fails)."""
        mw = self.mw
        if mw.keys is not None:
            self.secret = key_from(self.headers, query)
            self._holders = secret_holders(self.headers, self.secret)
            found = mw.keys.lookup(self.secret)
            if found is None:
                await self._answer(401, "unknown or missing API key", None, close=self._unread_is_large())
            elif (masked := key_in_path(self.scope["path"], self.secret)) is not None:  # logged, sent: refused
                self.event["path"] = masked
                await self._answer(400, KEY_IN_PATH, None, code="invalid_path", close=self._unread_is_large())
                return None
            return found
        close = self._unread_is_large()
        if mw.identity is None:
            return {}
        try:
            given = mw.identity(self.scope, MappingProxyType(self.headers))
            if inspect.isawaitable(given):
                given = await given
        except Exception:  # noqa: BLE001 - the embedder's code: logged, never shown to the client
            _log.exception("the identity hook of PolicyMiddleware failed (request %s)", self.ctx.request_id)
            await self._answer(500, "the gateway could not identify the caller (its identity hook failed; "
                               "the operator's log has the error)", None, code="identity_hook_failed", close=close)
            return None
        if given is None:
            await self._answer(401, "the request is not authenticated", None, code="unauthenticated", close=close)
            return None
        try:
            return valid_identity(given)
        except ValueError as error:
            _log.error("the identity hook of PolicyMiddleware returned a bad identity (request %s): %s",
                       self.ctx.request_id, error)
            await self._answer(500, str(error), None, code="invalid_identity", close=close)
            return None

    async def _decide(self, request: dict[str, Any]) -> Any:
        """The request phase; in a worker thread when the policy may evaluate for long, so
        that one costly evaluation never stalls the event loop (other requests, /healthz)."""
        if await self.mw.costly(self.engine):
            return await asyncio.to_thread(self.engine.evaluate, request)
        return await self.engine.aevaluate(request)

    def _unread_is_large(self) -> bool:
        """Whether a refused request's unread body may exceed ``max_body``, or is a read's (CL.0: review30): then the
        connection closes after the answer; else the server discards the body as it comes (memory stays flat)."""
        declared = self.headers.get("content-length", "").strip()
        return not (declared.isascii() and declared.isdigit() and int(declared) <= self.mw.max_body
                    and (not int(declared) or self.scope["method"].upper() not in READS))

    async def _too_big(self) -> None:
        await self._answer(413, f"the request body is larger than {self.mw.max_body} bytes", None,
                           code="body_too_large", close=True)

    # -- request side ------------------------------------------------------------------------

    def _engine_request(self, identity: Mapping[str, Any], body: Any, query: bytes) -> dict[str, Any]:
        scope = self.scope
        secret = self.mw.authenticates  # the credential was for the middleware: not the policy's to read
        # nor does the client choose its own classification (x-aigw-provider would pick prices and rules)
        holders = self._holders
        unseen = union_once(_UNSEEN if secret else _PROVIDER_ONLY, holders, holders)
        headers = {k: v for k, v in self.headers.items() if k not in unseen}
        host = self.headers.get("host") or server_name(scope)
        qs = strip_key(query, self.secret) if secret else query.decode("latin-1")
        path = scope["raw_path"].decode("ascii")  # the canonical path, encoded as on the wire
        url = f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{qs}" if qs else "")
        req: dict[str, Any] = {"id": self.ctx.request_id, "identity": dict(identity),
                               "request": {"method": scope.get("method", "POST"), "url": url, "headers": headers,
                                           "body": body}}
        # ngrok's conn.* and req.version / req.ts.*: only for a policy some text of which reads them
        reads_conn, extras = self._reads = connection_reads(self.engine)
        if extras:
            version = http_version(scope)
            if version:
                req["req"] = {"version": version}
        client = scope.get("client")
        if client and reads_conn:
            req["conn"] = conn = conn_of(client, scope.get("server"))
            if self.mw.geoip is not None:
                conn.update(self.mw.geoip(client[0]))
        times = (scope.get("extensions") or {}).get(CONN_TIMES)
        if times is not None:  # serve's protocol: when the connection opened, when the head came
            if reads_conn:
                req.setdefault("conn", {})["ts"] = {"start": timestamp_of(times[0])}
            if extras:
                req.setdefault("req", {})["ts"] = {"header_received": timestamp_of(times[1])}
        if self.mw.provider:
            req["ai"] = {"provider": self.mw.provider}
        return req

    def _kept_headers(self) -> list[tuple[bytes, bytes]]:
        """The request's headers the app may get whatever the decision, in order: not the hop-by-hop ones, the
        length and decision id, the credentials it strips, what the client says of its address (.hops), nor a
        name with `_` (a CGI-style upstream reads `x_real_ip` as `X-Real-IP`: nginx's default drops them)."""
        strips = self.mw.strips_credentials
        drop = union_once(hop_by_hop(self.scope["headers"]), _OWN_CREDENTIALS if strips else _OWN_REQUEST, strips)
        holders = self._holders
        # the names as __init__ lower-cased them (canonical_scope keeps the header list)
        return [kv for kv, n in zip(self.scope["headers"], self._names, strict=True)  # (CLIENT_SAYS is in drop)
                if n not in drop and not n.startswith(SAYS_PREFIXES) and n not in holders and "_" not in n]

    def _rewrite(self, decision: Any, raw: bytes, body: Any) -> tuple[dict[str, Any], bytes, Any]:
        """The scope and body the app sees, the decision's effects applied, and that body
        parsed (what ``raw`` or its rewrite holds: routing builds each attempt from it).
        Each effect is read alone (:func:`~.effects.effect`)."""
        scope = dict(self.scope)
        path = scope["path"]
        model = effect(decision, "model")
        if isinstance(body, dict):
            new, injected = rewritten_body(decision, body, path, self.mw.inject_usage)
            if injected:
                self.send = HideInjectedUsage(self.send)  # the client did not ask for the usage chunk
            if new is not None:
                raw = json.dumps(new, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                body = new
        moved = model_in_path(path, model["from"], model["to"]) if model and model.get("to") and model.get(
            "from") else None
        if moved is not None:  # Gemini, Vertex AI, Bedrock: the model is in the path (one segment)
            scope["path"] = path = moved[0]
            scope["raw_path"] = moved[1].encode("ascii")
        rewritten = effect(decision, "url")
        if rewritten:  # `url-rewrite`: the path and query the upstream gets (raises PathError)
            scope["path"], scope["raw_path"], scope["query_string"] = rewritten_target(rewritten["to"])
        if self.mw.strips_credentials:
            scope["query_string"] = strip_key(scope.get("query_string", b""), self.secret).encode("latin-1")
        rh = effect(decision, "request_headers") or {}
        headers = self._upstream_headers if self._upstream_headers is not None else self._kept_headers()
        if rh:
            drop = set(rh.get("remove", ()))
            drop.update(rh.get("add", {}))
            if drop:
                headers = [(k, v) for k, v in headers if k.decode("latin-1").lower() not in drop]
            headers = headers + [(k.encode("latin-1"), str(v).encode("latin-1", "replace"))
                                 for k, v in rh.get("add", {}).items()]
        else:
            headers = list(headers)
        headers.append((b"content-length", str(len(raw)).encode()))
        headers.append((_DECISION, self.ctx.request_id.encode()))
        scope["headers"] = headers
        scope["aigw"] = self.ctx
        return scope, raw, body

    # -- answers -----------------------------------------------------------------------------

    async def _answer(self, status: int, message: str, rule: str | None,
                      extra: list[tuple[bytes, bytes]] | None = None, quota: bool = False, *,
                      code: str | None = None, close: bool = False, aigw: dict[str, Any] | None = None) -> None:
        """A provider-shaped error; ``quota``: a budget exhausted for its period; ``close``: the
        connection is not kept (a large body is unread: the client cannot go on streaming into it)."""
        body, headers = error_response(self.api, status, message, rule=rule, decision_id=self.ctx.request_id,
                                       quota=quota, code=code, aigw=aigw)
        self.event.update(verdict="deny", status_code=status, reason=message, rule=rule)
        if close:
            headers = headers + [(b"connection", b"close")]
        await self._send_whole(status, with_extra(headers, extra), body)

    async def _send_whole(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """An answer the gateway makes itself, with its request id: ``x-aigw-decision-id``, and
        ``x-request-id`` / ``request-id`` (where the SDKs read it) unless a policy's own
        ``custom-response`` set them."""
        rid = self.ctx.request_id
        headers = headers + id_headers(rid, headers) + [(_DECISION, rid.encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def deny(self, decision: Any) -> None:
        """The gateway's own answer: a provider-shaped error, or a custom response as written."""
        resp = decision.response or {}
        status = int(resp.get("status_code") or decision.status_code)
        extra = self._limit_headers(decision)
        given = {k.lower(): str(v) for k, v in (resp.get("headers") or {}).items()}
        for k, v in given.items():
            extra = [(a, b) for a, b in extra if a.decode().lower() != k]
            extra.append((k.encode("latin-1"), v.encode("latin-1", "replace")))
        extra += header_effects(decision, "response_headers")
        if decision.kind in ("custom-response", "route-error", "redirect"):  # a body as written, or in the API's shape
            body, shaped = routed_error(self.api, status, resp.get("body")) if decision.kind == "route-error" \
                else (resp.get("body"), [])
            extra += shaped
            data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            if "content-type" not in given:  # a redirect's empty body (a custom-response's decision names it)
                extra.append((b"content-type", inferred_content_type(data.decode("utf-8")).encode()))
            extra.append((b"content-length", str(len(data)).encode()))
            self.event.update(verdict="deny", status_code=status)
            await self._send_whole(status, extra, data)
            return
        wire, message, quota = denial(self.api, decision, status)
        if decision.kind == "store" and wire == 503 and "retry-after" not in given:
            extra.append((b"retry-after", b"1"))  # the store's failure is passing (ledger_unavailable's too)
        if decision.kind == "error" and wire >= 500 and not quota:
            # a rule that failed closed fails the same way again: the SDKs' retries of a 5xx (two, backed off) would repeat it
            extra.append((b"x-should-retry", b"false"))
        await self._answer(wire, message, decision.rule, extra, quota, aigw=aigw_object(decision, quota))
        self.event["reason"] = decision.reason  # the operator's log keeps the whole reason

    def _limit_headers(self, decision: Any) -> list[tuple[bytes, bytes]]:
        headers = effect(decision, "rate_limit_headers") or {}
        return [(k.lower().encode(), v.encode("latin-1", "replace")) for k, v in headers.items()]

    # -- forwarding --------------------------------------------------------------------------

    async def forward(self, decision: Any, scope: dict[str, Any], data: bytes, app: Any) -> None:
        """Call ``app`` (the upstream side) with the request as the policy rewrote it
        (``scope``, ``data``), stream its answer to the client, then run the response phase."""
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
        limits: list[list[tuple[bytes, bytes]]] = []

        def limit_headers() -> list[tuple[bytes, bytes]]:  # made once, in the upstream's wait (below)
            if not limits:
                limits.append(self._limit_headers(decision))
            return limits[0]

        # the exchange's first wait is the upstream's answer: the headers are made then, not
        # before the request leaves (~5-10 us a request); an app that never waits, on demand
        early = asyncio.get_running_loop().call_soon(limit_headers)

        async def start_through() -> None:
            nonlocal sent_start
            out = [(k, v) for k, v in resp_headers if k.lower() != b"content-length"]
            out += limit_headers() + header_effects(decision, "response_headers")
            out.append((_DECISION, ctx.request_id.encode()))
            sent_start = True
            await self.send({"type": "http.response.start", "status": status, "headers": out})

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, resp_headers, streaming, overflow, passthrough, ended
            if message["type"] == "http.response.start":
                status = message["status"]
                hop = hop_by_hop(message.get("headers", []))
                resp_headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in hop]
                if status >= 408:  # one the SDKs retry: never after a wait of hours (errors.no_long_retry)
                    resp_headers = no_long_retry(status, resp_headers)
                ctype = header_value(resp_headers, b"content-type").lower()
                streaming = streamed(ctype, status, self.scope["path"])
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
                        overflow = overflow_usage(decision, bytes(captured), self.request)
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
            await app(scope, receive, send)
        except Exception:
            # the upstream side failed (an embedder's app, a bug): recorded as the engine
            # sees it (no answer: 502; a JSON answer cut: truncated) and, when no byte is out,
            # answered as a cut answer is (502 `broken`, the request id, never the error's text)
            early.cancel()
            self.event["upstream_ms"] = round((time.perf_counter() - t_up) * 1000, 3)
            _log.exception("the upstream side of request %s failed", ctx.request_id)
            ctx.upstream_error = ctx.upstream_error or "broken"
            await self._complete(decision, status, resp_headers, captured, overflow, streaming, ended, passthrough)
            if sent_start or ctx.disconnected:
                raise
            await self._send_cut()
            return
        except BaseException:
            early.cancel()
            self.event["upstream_ms"] = round((time.perf_counter() - t_up) * 1000, 3)
            await self._complete(decision, status, resp_headers, captured, overflow, streaming, ended, passthrough)
            raise
        early.cancel()
        self.event["upstream_ms"] = round((time.perf_counter() - t_up) * 1000, 3)
        made = limit_headers()  # before the response phase, whatever the app did (an app that never waits)
        # the upstream broke or went quiet before its answer's end: never an end the client would
        # take for a whole answer (a stream is left unfinished, the server closes the connection)
        cut = not ended and status != 0 and ctx.upstream_error is not None
        if not ctx.disconnected and self.mw.settles_late(self.engine):
            await self._answer_then_settle(decision, status, resp_headers, captured, overflow, streaming, ended,
                                           passthrough, sent_start, made, cut)
            return
        final = await self._complete(decision, status, resp_headers, captured, overflow, streaming, ended,
                                     passthrough)
        if ctx.disconnected:
            return
        if streaming or passthrough:
            if not cut:
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if not sent_start:
            await self._finish_buffered(final, decision, status, resp_headers, bytes(captured), made, cut)

    async def _answer_then_settle(self, decision: Any, status: int, headers: list[tuple[bytes, bytes]],
                                  captured: bytearray, overflow: Any, streaming: bool, ended: bool, passthrough: bool,
                                  sent_start: bool, limit_headers: list[tuple[bytes, bytes]], cut: bool) -> None:
        """The last byte first, then the response phase at once, with no await in between
        (:meth:`PolicyMiddleware.settles_late`: no response rule can change the answer and the
        engine settles synchronously): every request the event loop runs after the last byte
        was written, the client's next one included, sees the counters settled."""
        body = bytes(captured)
        try:
            if streaming or passthrough:
                if not cut:
                    await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            elif cut:
                await self._send_cut()
            elif not sent_start:
                await self._send_buffered(decision, status, headers, body, limit_headers)
        finally:
            response = self._response(status, headers, captured, overflow, streaming, ended, passthrough)
            t = time.perf_counter()
            try:
                final = self.engine.complete(self.ctx.request_id, response)
            finally:
                self.overhead += time.perf_counter() - t
            self.note(final)
            if not (streaming or passthrough or sent_start or cut):
                self.event["status_code"] = status

    async def _complete(self, decision: Any, status: int, headers: list[tuple[bytes, bytes]], captured: bytearray,
                        overflow: Any, streaming: bool, ended: bool, passthrough: bool) -> Any:
        """The response phase and reconciliation, whatever happened to the exchange."""
        response = self._response(status, headers, captured, overflow, streaming, ended, passthrough)
        t = time.perf_counter()
        try:
            if await self.mw.costly(self.engine):
                final = await asyncio.to_thread(self.engine.complete, self.ctx.request_id, response)
            else:
                final = await self.engine.acomplete(self.ctx.request_id, response)
        finally:
            self.overhead += time.perf_counter() - t
        self.note(final)
        return final

    def _response(self, status: int, headers: list[tuple[bytes, bytes]], captured: bytearray, overflow: Any,
                  streaming: bool, ended: bool, passthrough: bool) -> dict[str, Any]:
        """The answer as the response phase reads it (and the event's account of the exchange)."""
        ctx = self.ctx
        plain = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        if not 100 <= status <= 599:
            # nothing came back (the client left first, or the app failed before answering), or
            # a status HTTP does not define (an app behind the middleware): no answer to read
            status = 499 if ctx.disconnected else 502
            response: dict[str, Any] = {"status_code": status, "headers": {}, "body": None}
        elif overflow is not None:
            response = {"status_code": status, "headers": plain, "body": usage_body(overflow, overflow.api)}
        elif passthrough:
            response = {"status_code": status, "headers": plain, "body": None}  # usage: estimated
        elif streaming:
            response = {"status_code": status, "headers": plain, "sse": answer_text(captured, plain)}
        else:
            text = answer_text(captured, plain)
            parsed: Any = take(text)  # the upstream side's parse of this very text, when it made one
            if parsed is MISSING:
                try:
                    parsed = json.loads(text) if text else None
                except (ValueError, RecursionError):
                    parsed = text
            response = {"status_code": status, "headers": plain, "body": parsed}
        self.event.update(upstream_status=status, stream=streaming, disconnected=ctx.disconnected,
                          upstream_error=ctx.upstream_error, truncated=status != 0 and not ended,
                          upstream_request_id=plain.get("x-request-id") or plain.get("request-id"))
        return response

    async def _finish_buffered(self, final: Any, decision: Any, status: int, headers: list[tuple[bytes, bytes]],
                               body: bytes, limit_headers: list[tuple[bytes, bytes]], cut: bool) -> None:
        if final.verdict != "allow" and final.phase == "on_http_response" and final.kind in ("deny", "custom-response", "error"):
            await self.deny(final)  # a response-phase rule replaced the answer (or failed closed)
            return
        if cut:
            await self._send_cut()
            return
        self.event["status_code"] = status
        await self._send_buffered(final, status, headers, body, limit_headers)

    async def _send_cut(self) -> None:
        """In place of a whole answer the upstream cut (or let go quiet) before its end: a
        provider-shaped 502 (504), never the part that came, which would look whole."""
        kind = self.ctx.upstream_error or "broken"
        status, message = ((504, "the upstream went quiet before the end of its answer") if kind == "timeout"
                           else (502, "the upstream cut its answer before its end"))
        body, headers = error_response(self.api, status, message, decision_id=self.ctx.request_id)
        self.event["status_code"] = status
        await self._send_whole(status, headers + [(b"x-aigw-upstream-error", kind.encode())], body)

    async def _send_buffered(self, decision: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                             limit_headers: list[tuple[bytes, bytes]]) -> None:
        """A whole answer with ``decision``'s response headers."""
        effects = effect(decision, "response_headers") or {}
        drop = _LENGTH.union(effects.get("remove", ()), effects.get("add", ())) if effects else _LENGTH
        out = [(k, v) for k, v in headers if k.decode("latin-1").lower() not in drop]
        out += limit_headers + header_effects(decision, "response_headers")
        length = str(len(body))
        if not body and self.scope["method"] == "HEAD":  # the length a GET's body would have (RFC 9110 §9.3.2)
            said = header_value(headers, b"content-length").strip()
            length = said if said.isascii() and said.isdigit() else length
        out.append((b"content-length", length.encode("latin-1")))
        out.append((_DECISION, self.ctx.request_id.encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": out})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    def note(self, decision: Any) -> None:
        ev = self.event
        ev.update(verdict=decision.verdict, status_code=decision.status_code, rule=decision.rule,
                  reason=decision.reason, phase=decision.phase, decided_by=decision.kind)
        ev["decision"] = decision

