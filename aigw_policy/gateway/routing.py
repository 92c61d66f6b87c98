"""Routed requests (SPEC §12): the failover loop over ``engine.aattempt`` and the upstream
side of each attempt.

For a decision that routes (``decision.route``), :func:`route` asks the engine for the first
step and loops: :class:`~aigw_policy.routing.model.Next` -> :meth:`Router.send` builds the
upstream request (:func:`~aigw_policy.routing.rewrite.upstream_request`: the attempt's model,
dropped params, merged body/headers/query, the key's secret in the provider's auth style; the
client's body bytes are replayed for each attempt), waits at most ``attempt.timeout_s`` for
the answer (a JSON answer whole, a stream up to its first event: keep-alives before it are
read on, and a first event that is an error is the attempt's failure,
:mod:`.first_event`) and reports an
:class:`~aigw_policy.routing.model.AttemptOutcome`; :class:`Serve` -> that answer is streamed
to the client through the exchange (usage, response phase, ``acomplete``);
:class:`Finished` -> the gateway answers ``decision.response``.

An upstream's redirect (a 3xx but ``304``) is a failed attempt, as a connection error is: the
gateway follows none, and none reaches the client (whose SDK would follow it, prompt and all).

Nothing has reached the client before the answer is served, so a failover never mixes two
answers; once a byte is out there is no switching: a stream the upstream cuts after that
ends with an error event in the provider's own stream format (OpenAI and Gemini
``data: {"error": ...}``, Anthropic ``event: error``).

The attempt's key never reaches the client through the upstream: an upstream that quotes the
key it was sent (an error body saying which key it refused, a redirect's ``Location`` with
``?key=``, an echoing test server) has it replaced by ``***`` in the headers and the body served
(:class:`~aigw_policy.gateway.scrub.Scrubber`, across chunk boundaries), and in the log lines
about the attempt; so have the secrets the provider's ``base_url`` holds (a query credential,
a ``user:pass@`` and the ``Basic`` value sent of it: :func:`~.scrub.url_secrets`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.route_errors import MALFORMED
from ..providers.encoding import StreamDecoder, decodable
from ..providers.errors import ProviderError
from ..routing.model import Attempt, AttemptOutcome, Finished, Next, Serve
from ..routing.rewrite import account_answer_field, upstream_request
from ..redact import account_ids
from ..routing.secrets import Secrets
from .answer_read import decoded_chunks, judge
from .api_shape import relabelled, whole_error
from .first_event import stream_error
from .hops import hop_by_hop
from .http_client import ConnectTimeout, HttpClient, Response, UpstreamError
from .malformed import CUT
from .proxy import ANSWER_DROP, OFFER, client_watch, is_redirect
from .relay import CUTS, Framer, end_cut, relay
from .stream_end import StreamCheck
from .scrub import Scrubber, url_secrets

if TYPE_CHECKING:
    from .exchange import Exchange

__all__ = ["Answer", "Framer", "Router", "route"]

_log = logging.getLogger("aigw_policy.gateway")

@dataclass
class Answer:
    """An upstream answer read up to where the outcome is known: ``prefix`` (the whole body,
    or a stream's first chunk), ``rest`` (the remaining chunks, None when read whole)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    prefix: bytes
    rest: AsyncIterator[bytes] | None
    response: Response  # let go by `aclose`
    streaming: bool
    scrubs: tuple[Scrubber, ...] = ()
    """The scrubbers of the attempt's key and its ``base_url``'s secrets (see :mod:`.scrub`)."""
    check: StreamCheck | None = None
    """A stream of an API whose events are JSON (:mod:`.stream_end`): it ends at one that is not
    (:class:`~.relay.NotJSONEvent`), and ends with an error event when it ends before its end
    (:class:`~.relay.Unfinished`)."""

    async def aclose(self) -> None:
        _close(self.response)


class Router:
    """Sends attempts upstream with the gateway's HTTP/1.1 client (the client of the
    single-upstream proxy too, :class:`~aigw_policy.gateway.proxy.UpstreamProxy`). ``secrets``:
    where ``${secrets.get(...)}`` keys resolve; ``client``: an
    :class:`~aigw_policy.gateway.http_client.HttpClient` (else one is made on first use and
    closed by :meth:`aclose`);
    ``connect_timeout``: seconds to connect, at most (never more than the attempt's own
    timeout); ``capture_limit``: bytes of a JSON answer read before it is served (the rest
    then follows as it comes). An answer is decoded here (every coding the upstream was
    offered, :data:`~aigw_policy.providers.encoding.SUPPORTED`), as the proxy decodes."""

    def __init__(self, secrets: Secrets | None = None, *, client: HttpClient | None = None, connect_timeout: float = 5.0,
                 max_connections: int = 512, capture_limit: int = 32 * 1024 * 1024) -> None:
        self.secrets = secrets if secrets is not None else Secrets()
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.capture_limit = capture_limit
        self._client = client

    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(max_connections=self.max_connections)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, attempt: Attempt, scope: dict[str, Any], data: bytes, parsed: Any, *,
                   passthrough: bool = False, wants: bool | None = None) -> tuple[AttemptOutcome, Answer | None]:
        """Forward ``attempt`` (the client's request as the policy's effects left it: ``scope``
        and ``data``) and wait, within ``attempt.timeout_s``, for enough of the answer to
        judge it. The outcome, and the answer when there is one to serve or replay.
        ``passthrough``: an attempt without a key sends the client's own credential (the
        middleware does not authenticate clients); ``wants``: whether the request asked for a
        stream (:func:`~aigw_policy.gateway.answer_read.wants_stream`; an answer of the other
        form is malformed)."""
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        try:
            secret = self.secrets.resolve(attempt.key.value) if attempt.key is not None else None
            req = upstream_request(scope.get("method", "POST"), scope["raw_path"].decode("latin-1"),
                                   scope.get("query_string", b""), headers, data, attempt, secret, parsed=parsed,
                                   passthrough=passthrough)
        except ValueError as error:  # a secret set nowhere, a provider without base_url: not reachable
            _log.error("attempt %d to provider `%s` cannot be sent: %s", attempt.number, attempt.provider.id, error)
            return AttemptOutcome(error="connect", latency_ms=0.0), None
        limit = attempt.timeout_s
        try:
            wire = [(k.encode("latin-1"), _wire(v)) for k, v in req.headers] + OFFER
        except UnicodeEncodeError:  # a header name no HTTP field can have: the attempt cannot be sent
            _log.error("attempt %d to provider `%s` has a header name that is not latin-1", attempt.number,
                       attempt.provider.id)
            return AttemptOutcome(error="connect", latency_ms=0.0), None
        t0 = time.perf_counter()
        response = None
        ttft = head_ms = label = None
        try:
            async with asyncio.timeout(limit):
                response = await self.client().request(req.method, req.url, wire, req.content,
                                                       connect_timeout=min(self.connect_timeout, limit),
                                                       read_timeout=limit)
                head_ms = _ms(t0)  # the answer's status line and headers arrived
                if not 100 <= response.status <= 599:  # no HTTP status: a broken upstream, as the proxy says
                    raise UpstreamError(f"the upstream answered with status {response.status}, which HTTP "
                                        "does not define")
                if is_redirect(response.status):  # the SDKs follow one: never to the client (see proxy)
                    raise UpstreamError(f"the upstream answered with a redirect ({response.status}), which the "
                                        "gateway does not follow nor pass on")
                encoding = response.header("content-encoding")
                ctype = (response.header("content-type") or "").lower()
                # a read of a stored response or completion is no inference call: its answer is
                # not judged by the API of its path (`.../chat/completions/{id}/messages` is no
                # Anthropic message), as the proxy judges no read
                success = 200 <= response.status < 300
                label = relabelled(req.url, ctype, wants) if success and not req.read else None
                ctype = label or ctype
                chunks = decoded_chunks(response, StreamDecoder(encoding) if decodable(encoding) else None)
                read = await judge(chunks, response.status, ctype, req.url, wants, limit=self.capture_limit,
                                   shape=not req.read, arrived=lambda: response.at_eof)
                if read.streaming:
                    ttft = _ms(t0)
        except TimeoutError as error:
            _close(response)
            if isinstance(error, ConnectTimeout) and self.connect_timeout < limit:
                # no connection within connect_timeout, the attempt's own time not run out: the
                # provider could not be reached (`connect`), as a refused connection; it says
                # nothing of how fast it answers, and the time left is the next candidate's
                _log.warning("attempt %d to provider `%s`: %s", attempt.number, attempt.provider.id,
                             _hidden(str(error), secret, attempt.provider.base_url))
                return AttemptOutcome(error="connect", latency_ms=_ms(t0)), None
            return AttemptOutcome(error="timeout", latency_ms=_ms(t0)), None
        except (UpstreamError, ProviderError) as error:  # unreachable, cut, or a body that does not decode
            _log.warning("attempt %d to provider `%s`: %s", attempt.number, attempt.provider.id,
                         _hidden(str(error), secret, attempt.provider.base_url))
            _close(response)
            if head_ms is not None and 100 <= response.status <= 599 and not is_redirect(response.status):
                # its head came, then the body broke (cut, or a coding that does not decode): an
                # answer that arrived malformed, not an upstream that could not be reached
                why = CUT if isinstance(error, UpstreamError) else "an answer whose body does not decode"
                return _malformed(why, head_ms, _ms(t0), response), None
            return AttemptOutcome(error="connect", latency_ms=_ms(t0)), None
        except BaseException:  # cancelled (the client left, shutdown): the connection is not kept half read
            _close(response)
            raise
        why, prefix, rest, streaming, framing = read.why, read.prefix, read.rest, read.streaming, read.framing
        if why is not None:
            _log.warning("attempt %d to provider `%s`: %s", attempt.number, attempt.provider.id, why)
            _close(response)
            return _malformed(why, head_ms, _ms(t0), response), None
        plain = _plain(response)
        scrubs = _scrubs(secret, attempt.provider.base_url)
        # what the answer says goes into the decision (an all-failed answer lists each attempt's
        # error message, which may quote the key it was sent): without the key
        judged = _whole(scrubs, prefix) if response.status >= 400 or streaming else prefix
        status, said = response.status, _parsed(judged) if response.status >= 400 else None
        if streaming and (failed := stream_error(judged, framing)) is not None:  # a 200 whose first event is an error
            status, said = failed
        elif not streaming and rest is None and (failed := whole_error(response.status, prefix)) is not None:
            # a 200 whose body is an error and nothing else: failed with the status it says, and
            # served (when that is no trigger) with it, so that the SDK raises its own error
            status, said = failed
            said = _parsed(_whole(scrubs, prefix))
        outcome = AttemptOutcome(status, latency_ms=_ms(t0), time_to_first_token_ms=ttft, headers=plain, body=said,
                                 time_to_first_byte_ms=head_ms)
        drop = ANSWER_DROP | hop_by_hop(response.raw_headers)
        # the answer to a credential not the client's (the route's key; none, behind --keys)
        # describes the operator's account and deployment: not passed on
        private = secret is not None or not passthrough
        if decodable(encoding):
            drop |= {"content-encoding"}
        out = [(k, v) for k, v in response.raw_headers if (name := k.lower().decode("latin-1")) not in drop
               and not (private and account_answer_field(name))]
        if label is not None:  # the answer's type said nothing of it: the API's (api_shape.relabelled)
            out = [(k, v) for k, v in out if k.lower() != b"content-type"] + [(b"content-type", label.encode())]
        if scrubs:
            out = [(k, _whole(scrubs, v)) for k, v in out]
        if secret is not None and status >= 400:  # served as it is (not a failover trigger)
            prefix = account_ids(prefix)  # type: ignore[assignment]
        # served, the rest may be quiet as long as one attempt may (its own time was cut to
        # what the total left: that bounds the attempts, not an answer being served)
        response.wait_at_most(attempt.idle_s if attempt.idle_s is not None else limit)
        return outcome, Answer(response.status if streaming else status, out, prefix, rest, response, streaming, scrubs,
                               StreamCheck.of(req.url, framing) if streaming else None)


def _plain(response: Response) -> dict[str, str]:
    """The answer's header fields by lower-cased name, repeated fields joined with ``, ``."""
    plain: dict[str, str] = {}
    for k, v in response.raw_headers:
        name, value = k.decode("latin-1").lower(), v.decode("latin-1")
        plain[name] = f"{plain[name]}, {value}" if name in plain else value
    return plain


def _malformed(why: str, head_ms: float | None, latency_ms: float, response: Response) -> AttemptOutcome:
    """The outcome of an answer that came but cannot be the API's (:mod:`.malformed`): what it
    was, as an error body, for the all-failed answer and the debugging trace, with the status
    line and header fields it came with (the trace's ``response``)."""
    return AttemptOutcome(error=MALFORMED, latency_ms=latency_ms, time_to_first_byte_ms=head_ms,
                          body={"error": {"message": why}}, headers=_plain(response), answered=response.status)


def _wire(value: str) -> bytes:
    """A header value's bytes: the client's bytes (read as latin-1 on the way in) go out as
    they came, as the proxy sends them; a value of the policy's own that latin-1 cannot hold
    goes out as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _hidden(text: str, secret: str | None, base_url: str | None = None) -> str:
    """``text`` (an error's message) without the attempt's key nor its ``base_url``'s secrets."""
    for one in (secret, *url_secrets(base_url or "")):
        text = text.replace(one, "***") if one else text
    return text


def _scrubs(secret: str | None, base_url: str | None) -> tuple[Scrubber, ...]:
    """The scrubbers of an attempt's answer: its key's, its ``base_url``'s secrets'."""
    return tuple(scrub for one in (secret, *url_secrets(base_url or "")) if (scrub := Scrubber.of(one)) is not None)


def _whole(scrubs: tuple[Scrubber, ...], data: bytes) -> bytes:
    for scrub in scrubs:
        data = scrub.whole(data)
    return data


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")[:4096]


def _close(response: Response | None) -> None:
    """Let an answer go: its connection back to the pool when it was read to the end, else closed."""
    if response is not None:
        response.release()


def served_app(answer: Answer, api: str, ctx: Any) -> Any:
    """An ASGI app that gives the exchange ``answer`` (already opened upstream) as if it came
    from the upstream now, so that the exchange streams it through as any other (the proxy's
    way, :mod:`.relay`: whole events, and a stream cut after its first byte ends with an error
    event in its own format)."""
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # the request body, already sent upstream
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
            scrubs = list(answer.scrubs)
            frames = Framer(answer.headers) if answer.streaming else None
            copier = asyncio.ensure_future(relay(answer.prefix, answer.rest, send, scrubs, frames,
                                                 check=answer.check))
            done, _ = await asyncio.wait({copier, gone}, return_when=asyncio.FIRST_COMPLETED)
            if copier not in done:
                copier.cancel()
                await asyncio.gather(copier, return_exceptions=True)
                ctx.disconnected = True
                return
            error = copier.exception()
            if error is None:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if not isinstance(error, CUTS):
                raise error
            await end_cut(error, api, frames, send, ctx)
        finally:
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)
            await answer.aclose()

    return app


async def _disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def route(exchange: Exchange, decision: Any, scope: dict[str, Any], data: bytes, parsed: Any) -> None:
    """Drive a routed request's attempts to its answer (see the module's docstring)."""
    engine = exchange.engine
    rid = exchange.ctx.request_id
    router: Router = exchange.mw.router
    tried: list[dict[str, Any]] = exchange.event.setdefault("attempts", [])
    step = await engine.aattempt(rid, None)
    answer: Answer | None = None
    try:
        while isinstance(step, Next):
            if answer is not None:  # a failed attempt's answer, read whole: let it go
                await answer.aclose()
                answer = None
            sent = await _watched(router.send(step.attempt, scope, data, parsed, wants=exchange.ctx.wants_stream,
                                              passthrough=not exchange.mw.strips_credentials), exchange)
            where = _where(step.attempt)
            if sent is None:  # the client closed the request: no more attempts, nobody to answer
                tried.append({**where, "status": None, "error": "client_closed"})
                exchange.ctx.disconnected = True
                step = await engine.aattempt(rid, AttemptOutcome(error="client_closed"))
                break
            outcome, answer = sent
            tried.append({**where, "status": outcome.status_code, "error": outcome.error})
            step = await engine.aattempt(rid, outcome)
        if isinstance(step, Serve) and answer is None and exchange.ctx.disconnected:
            await exchange.forward(decision, scope, data, _closed)  # completed as one the client closed (499)
            return
        if isinstance(step, Serve) and answer is not None:
            served, answer = answer, None
            await exchange.forward(decision, scope, data, served_app(served, exchange.api, exchange.ctx))
            await _broke_after_serving(engine, step.attempt, exchange.ctx.upstream_error)
            return
        final = step.decision if isinstance(step, Finished) else None
    finally:
        if answer is not None:
            await answer.aclose()
    if final is None:  # Serve without an answer: the engine's contract broken
        raise RuntimeError("the engine served an attempt that has no answer")
    exchange.ctx.decision = final
    exchange.note(final)
    await exchange.deny(final)


_LATE = {"timeout": "timeout", "broken": MALFORMED, "unfinished": MALFORMED, "malformed": MALFORMED}
"""How a served answer broke (:func:`~.relay.end_cut`) as the live metrics count it."""


async def _broke_after_serving(engine: Any, attempt: Attempt, how: str | None) -> None:
    """A served answer the upstream cut, ended short or let go quiet (after its first event:
    no failover) is an error of its provider, model and key in the live metrics, as a failed
    attempt is (``AttemptOutcome.late``: not another request), so that a strategy reading
    ``error_rate`` sees a provider whose streams break mid-way. Before (route30) it counted
    as a success."""
    metrics = getattr(engine, "route_metrics", None)
    if how in _LATE and metrics is not None:
        outcome = AttemptOutcome(error=_LATE[how], late=True)  # type: ignore[arg-type]
        await metrics.arecord(attempt, outcome, time.time())


def _where(attempt: Attempt) -> dict[str, Any]:
    """Where an attempt went, for the decision log's ``aigw.route.attempts``: the provider, the
    model and the key's id (``api_keys[].id`` or a short hash of its text, never the secret),
    so that a key or model that keeps failing behind a successful failover shows."""
    return {"provider": attempt.provider.id, "model": attempt.model,
            "key_id": attempt.key.id if attempt.key is not None else None}


async def _watched(sending: Any, exchange: Exchange) -> tuple[AttemptOutcome, Answer | None] | None:
    """An attempt, given up (None) if the client goes away before it is judged: the upstream
    call is cancelled and its connection closed (``Router.send``)."""
    watch = client_watch(exchange.scope, exchange.receive)
    try:
        return await sending  # type: ignore[no-any-return]
    except asyncio.CancelledError:
        if not watch.left:
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
        return None
    finally:
        watch.stop()


async def _closed(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The upstream side of a request whose client left during an attempt: no answer."""


def ai_gateway_configs(policy: Any) -> list[Any]:
    """The ``ai-gateway`` action configs of a policy (IR), in document order."""
    return [a.config for rule in policy.phase("on_http_request") for a in rule.actions if a.type == "ai-gateway"]


def key_values(policy: Any) -> list[str]:
    """Every ``providers[].api_keys[].value`` of the policy's ``ai-gateway`` actions, as written."""
    return [k.value for config in ai_gateway_configs(policy) for p in config.providers or ()
            for k in p.api_keys or ()]


async def no_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The upstream of a gateway with no ``--upstream``: a request no ``ai-gateway`` action
    routed has nowhere to go (502 ``no_upstream``, in the client's provider shape)."""
    from .errors import error_response, wire_api
    from .request_ids import id_headers

    if scope["type"] != "http":
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    ctx = scope.get("aigw")
    if ctx is not None:
        ctx.upstream_error = "no_upstream"
    body, hdrs = error_response(wire_api(scope["path"], headers), 502,
                                "no upstream for this request: no ai-gateway action routed it and the gateway "
                                "has no --upstream", decision_id=ctx.request_id if ctx else None, code="no_upstream")
    if ctx is not None:
        hdrs += id_headers(ctx.request_id)
    await send({"type": "http.response.start", "status": 502, "headers": hdrs})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def unreachable_internal(url: str) -> Any:
    """The upstream of a request a ``forward-internal`` action sent to ngrok's internal endpoint
    ``url``: ``serve`` has no such endpoint, so it answers 502 ``internal_endpoint`` (in the
    client's provider shape; the URL, the policy's own topology, only in the operator's log),
    and the response phase runs on that answer."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        from .errors import error_response, wire_api
        from .request_ids import id_headers

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ctx = scope.get("aigw")
        if ctx is not None:
            ctx.upstream_error = "internal_endpoint"
        rid = ctx.request_id if ctx else None
        _log.warning("request %s: a forward-internal action sent it to `%s`, an ngrok internal endpoint, which "
                     "serve cannot reach", rid, url[:200])
        body, hdrs = error_response(wire_api(scope["path"], headers), 502,
                                    "the policy sent this request to an ngrok internal endpoint, which this gateway "
                                    "cannot reach", decision_id=rid, code="internal_endpoint")
        if ctx is not None:
            hdrs += id_headers(ctx.request_id)
        await send({"type": "http.response.start", "status": 502, "headers": hdrs})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app
