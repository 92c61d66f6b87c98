"""The upstream side of ``aigw-policy serve``: an ASGI app that forwards each request to one
upstream base URL with the gateway's own HTTP/1.1 client
(:class:`~aigw_policy.gateway.http_client.HttpClient`) and streams the answer back as it
arrives (see docs/decisions.md "The upstream client").

It knows nothing of policies: :class:`~aigw_policy.gateway.middleware.PolicyMiddleware` in front of it
decides, rewrites the request and reads the answer. This app only adds the upstream
credentials, maps network failures to provider-shaped 502/504 answers and stops reading the
upstream as soon as the client goes away. The credentials it adds never come back to the
client: an upstream that quotes them (an error naming the key, a redirect's ``Location``)
has them replaced by ``***`` in the answer's headers and body (:mod:`.scrub`).

Content codings: the upstream is offered every coding this process can decode
(:data:`~aigw_policy.providers.encoding.SUPPORTED`), whatever the client accepts, and its
answer is decoded on the way through: the client always receives ``identity`` (which every
client accepts) and whoever reads the answer for usage reads plain JSON or SSE. An answer in
a coding that cannot be decoded is passed through as is only to a client that accepts it
(else 502, ``x-aigw-upstream-error: encoding``).

Malformed answers: an answer is judged before its head is passed on, as each routed attempt
is (:mod:`.answer_read`): a JSON or HTML success read whole, a stream up to its first event.
One that cannot be the API's (:mod:`.malformed`: JSON that does not parse, an HTML page, a body
cut or undecodable before its end, a whole JSON answer to ``stream: true``, a stream to a
request for one JSON body) is answered 502 ``upstream_malformed`` in the client's provider
shape (``x-aigw-upstream-error: malformed``), an error its SDK raises as documented.

Redirects: an upstream's redirect (any 3xx but ``304``) is never passed on (502,
``x-aigw-upstream-error: redirect``): the SDKs follow redirects, so a ``307`` to another host
would have the client send its prompt there, outside the gateway and its accounting.
"""

from __future__ import annotations

import asyncio
import logging
import re
from functools import lru_cache
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ..engine.route_errors import MALFORMED, UPSTREAM_MALFORMED
from ..providers.classify import inference_endpoint
from ..providers.encoding import SUPPORTED, StreamDecoder, codings, decodable
from ..providers.errors import ProviderError
from ..providers.native_paths import native_path
from ..routing.rewrite import ACCOUNT_HEADERS, account_answer_field
from .answer_read import Judged, decoded_chunks, judge
from .api_shape import relabelled, whole_error
from .errors import error_response, wire_api
from .hops import HOP_BY_HOP as FIXED_HOPS
from .hops import hop_by_hop
from .http_client import ConnectTimeout, HttpClient, UpstreamError
from .keys import CREDENTIAL_HEADERS
from .malformed import CUT
from .request_ids import id_headers
from .relay import CUTS, Framer, end_cut, relay
from .stream_end import StreamCheck
from .scrub import AccountIds, Scrubber
from .server import CLIENT_GONE

__all__ = ["ANSWER_DROP", "ANSWER_OWN", "HOP_BY_HOP", "ORIGIN_BOUND", "OFFER", "UpstreamProxy", "is_redirect", "upstream_api"]

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
ANSWER_OWN = frozenset({"date", "server", "x-aigw-decision-id", "x-aigw-upstream-error"})
"""Fields of an upstream's answer the gateway's server writes itself: the upstream's are not
passed on (one ``Date``, RFC 9110 §6.6.1, and no second ``Server``; nginx hides the same
two by default), nor an upstream's own ``x-aigw-decision-id`` or ``x-aigw-upstream-error``,
which a client would take for the gateway's (another gateway behind this one has its own
decision in its own log)."""
ORIGIN_BOUND = frozenset({"alt-svc", "strict-transport-security", "expect-ct", "public-key-pins",
                          "public-key-pins-report-only"})
"""Fields of an upstream's answer that state a policy of the upstream's origin (where else it is
served, that it and its subdomains take HTTPS only, which keys it pins): passed on, they would
state it of the gateway's origin (OpenAI's ``alt-svc: h3=":443"`` sent HTTP/3 clients to UDP 443
of the gateway's host; its ``strict-transport-security: ...; includeSubDomains`` pinned HTTPS on
every subdomain of the operator's domain in a browser)."""
ANSWER_DROP = HOP_BY_HOP | ANSWER_OWN | FIXED_HOPS | ORIGIN_BOUND
"""An answer's fields never passed on (the proxy's and the router's), when its ``Connection``
names no others (most answers)."""
_log = logging.getLogger("aigw_policy.gateway")
OFFER = [(b"accept-encoding", ", ".join(SUPPORTED).encode())]
"""What the upstream is offered (the proxy's and the router's): every coding this process decodes."""
_DROP = frozenset(h.encode() for h in HOP_BY_HOP) | {b"accept-encoding"}  # of the client's request headers


_MODELS = re.compile(r"/models(?:/[^/]+)?/?$")
"""A model list or one model's card (``GET /v1/models``, ``/v1beta/models/gemini-2.5-flash``)."""


class UpstreamProxy:
    """``UpstreamProxy("https://api.openai.com", auth={"openai": {"authorization": "Bearer ..."}})``.

    ``auth``: per provider API (``openai``, ``anthropic``, ``gemini``), the headers sent in
    place of the client's credentials (which are never forwarded when ``auth`` is given).
    The upstream gets only the credentials of *its* provider: the one ``provider`` names
    (``--provider``), else the one its host is known as (``api.openai.com``, ...); an upstream
    of neither kind (a router, a self-hosted server) gets, for each request, the credentials
    of the API that request speaks. ``timeout``: seconds to connect and between two reads
    from the upstream (a stream that goes quiet that long is cut). ``client``: an
    :class:`~aigw_policy.gateway.http_client.HttpClient` to use (else one is made on first use
    and closed by :meth:`aclose` or the ASGI lifespan shutdown). The client keeps no cookies:
    one an answer sets goes to the client who asked, never with another client's request.
    ``capture_limit``: bytes of a JSON answer read (to judge it) before its head is sent; a
    longer one is passed on unjudged.
    """

    def __init__(self, upstream: str, *, auth: Mapping[str, Mapping[str, str]] | None = None,
                 provider: str | None = None, timeout: float = 60.0, connect_timeout: float = 5.0,
                 client: HttpClient | None = None, max_connections: int = 512,
                 capture_limit: int = 32 * 1024 * 1024) -> None:
        self.upstream, self._query, url_secrets = _base_and_query(upstream)
        self.auth = {api: [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
                     for api, headers in (auth or {}).items()}
        names = {k for headers in self.auth.values() for k, _ in headers}
        if auth is not None:
            names.update(h.encode() for h in (*CREDENTIAL_HEADERS, *ACCOUNT_HEADERS))  # the client's account: not with ours
        self._auth_names = frozenset(names)
        # the operator's account and deployment, which the answers to its credential describe
        # (rewrite.account_answer_field): not the client's to see
        self._private = auth is not None
        # the secret of each credential (`Bearer sk-...`: the token), what an answer must not quote
        self._secrets = {api: [v.rpartition(b" ")[2] for _, v in headers] for api, headers in self.auth.items()}
        self._url_scrubs = [scrub for secret in url_secrets if (scrub := Scrubber.of(secret)) is not None]
        self.provider_api = upstream_api(upstream, provider)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.capture_limit = capture_limit
        self._client = client

    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(max_connections=self.max_connections)
        return self._client

    def lends(self, method: str, path: str) -> bool:
        """Whether a request goes with the operator's credential (``auth``): an inference API
        (:func:`~aigw_policy.providers.classify.inference_endpoint`) or a read of the model
        list. Anything else (the organization's files, batches, fine-tunes, stored
        completions, Realtime client secrets) goes without it, so the provider refuses it: the
        key is lent for what the policy and the ledger see (docs/gateway.md, "Upstream
        credentials"). (``inference_endpoint`` remembers its answer per request line.)"""
        return inference_endpoint(method, path) or _models_read({"method": method, "path": path})

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        ctx = scope.get("aigw")
        body = bytearray()
        whole: bytes | None = None  # the body in one message (as the middleware hands it): not copied
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            piece = message.get("body", b"")
            if not body and not message.get("more_body", False) and type(piece) is bytes:
                whole = piece
                break
            body += piece
            if not message.get("more_body", False):
                break
        headers = [(name, v) for k, v in scope["headers"]
                   if (name := k.lower()) not in _DROP and name not in self._auth_names]
        # by the path alone: a client header (`anthropic-version`) must not pick whose key goes
        api = self.provider_api or _credential_api(scope["path"])
        if self.auth and self.lends(scope.get("method", "POST"), scope["path"]):
            headers += self.auth.get(api, [])
        headers += OFFER
        scrubs = [scrub for secret in self._secrets.get(api, ()) if (scrub := Scrubber.of(secret)) is not None]
        scrubs += self._url_scrubs
        qs = scope.get("query_string", b"")
        url = self.upstream + (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if qs or self._query:
            url += "?" + "&".join(q for q in (self._query, qs.decode("latin-1")) if q)
        watch = client_watch(scope, receive)
        try:
            await self._exchange(scope, url, headers, bytes(body) if whole is None else whole, send, ctx, scrubs)
        except asyncio.CancelledError:
            if not watch.left:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            if ctx is not None:
                ctx.disconnected = True
        finally:
            watch.stop()

    async def _exchange(self, scope: dict[str, Any], url: str, headers: list[tuple[bytes, bytes]], body: bytes,
                        send: Any, ctx: Any, scrubs: list[Scrubber]) -> None:
        """Send the request upstream and stream its answer to the client, in the request's own
        task (a client that goes away cancels it: :class:`_ClientWatch`); ``scrubs``: the
        credentials sent, taken out of the answer."""
        try:
            response = await self.client().request(scope["method"], url, headers, body,
                                                   connect_timeout=self.connect_timeout, read_timeout=self.timeout)
        except TimeoutError as error:
            if not isinstance(error, ConnectTimeout):
                await self._fail(send, ctx, scope, 504, "timeout", "the upstream did not answer in time")
                return
            # no connection within connect_timeout: unreachable, as a routed attempt's is (`connect`)
            _log.warning("%s", error)
            await self._fail(send, ctx, scope, 502, "unreachable", "the upstream could not be reached")
            return
        except UpstreamError as error:
            _log.warning("%s", error)  # the error says what could not be reached and why (never a URL's userinfo)
            await self._fail(send, ctx, scope, 502, "unreachable", "the upstream could not be reached")
            return
        complete = False
        try:
            if not 100 <= response.status <= 599:  # no HTTP status: a broken upstream
                await self._fail(send, ctx, scope, 502, "status",
                                 f"the upstream answered with status {response.status}, which HTTP does not define")
                return
            if is_redirect(response.status):
                _log.warning("the upstream answered with a redirect (%d), which the gateway does not pass on",
                             response.status)
                await self._fail(send, ctx, scope, 502, "redirect",
                                 f"the upstream answered with a redirect ({response.status}), which the gateway "
                                 "does not follow nor pass on")
                return
            encoding = response.header("content-encoding")
            coded = codings(encoding)
            decode = bool(coded) and decodable(encoding)
            if coded and not decode and not _accepts(_header(scope, b"accept-encoding"), coded):
                await self._fail(send, ctx, scope, 502, "encoding",
                                 f"the upstream answered in a content-encoding the gateway cannot decode "
                                 f"(`{', '.join(coded)}`)")
                return
            named = hop_by_hop(response.raw_headers)  # with the names Connection lists
            drop = ANSWER_DROP if named is FIXED_HOPS else ANSWER_DROP | named
            if decode:
                drop |= {"content-encoding"}
            out = [(k, v) for k, v in response.raw_headers if (name := k.lower().decode("latin-1")) not in drop
                   and not (self._private and account_answer_field(name))]
            if scope["method"] == "HEAD" and not decode:  # the length a GET would have: the only one it says
                out += [(k, v) for k, v in response.raw_headers if k.lower() == b"content-length"][:1]
            wants = getattr(ctx, "wants_stream", None)
            ctype = (response.header("content-type") or "").lower()
            # an inference call is judged by its API as a routed one (not a read: `GET
            # /v1/chat/completions` lists stored completions, no completion)
            api = inference_endpoint(scope["method"], scope["path"])
            # a success whose type says nothing of it: read, judged and served as its API's (as routed)
            label = relabelled(url, ctype, wants) if api and 200 <= response.status < 300 else None
            if label is not None:
                ctype = label
                out = [(k, v) for k, v in out if k.lower() != b"content-type"] + [(b"content-type", label.encode())]
            for scrub in scrubs:
                out = [(k, scrub.whole(v)) for k, v in out]
            chunks = decoded_chunks(response, StreamDecoder(encoding) if decode else None)
            # judged before its head goes (one code path with the router's attempts)
            read = await self._judged(scope, url, response.status, ctype, wants, chunks, send, ctx,
                                      opaque=bool(coded) and not decode, shape=api,
                                      arrived=lambda: response.at_eof, whole=None if decode else response.arrived)
            if read is None:
                return
            status = response.status
            if api and not read.streaming and read.rest is None and (failed := whole_error(status, read.prefix)):
                status = failed[0]  # a 200 that is an error object and nothing else: served with its status
            if self._private and (status >= 400 or _models_read(scope)):
                # an error, or the model list, read with the operator's key: without its account's
                # ids (a fine-tuned model's `owned_by: org-...`, "... in organization org-...")
                scrubs = [*scrubs, AccountIds()]
            await send({"type": "http.response.start", "status": status, "headers": out})
            complete = await self._pump(read, out, scope, send, ctx, scrubs,
                                        check=StreamCheck.of(url, read.framing) if api and read.streaming else None)
        finally:
            if complete:
                response.release()  # read to the end: the connection goes back to the pool
            else:
                response.close()

    async def _judged(self, scope: dict[str, Any], url: str, status: int, ctype: str, wants: bool | None,
                      chunks: AsyncIterator[bytes], send: Any, ctx: Any, *, opaque: bool,
                      shape: bool, arrived: Callable[[], bool] | None = None,
                      whole: Callable[[int], bytes | None] | None = None) -> Judged | None:
        """The answer read as far as it is judged (:func:`~aigw_policy.gateway.answer_read.judge`,
        as each routed attempt is); None when it failed and the client was answered instead: a
        malformed answer (502 ``upstream_malformed``), a body cut or undecodable before
        anything was sent (502 too), or a silence past the timeout (504). ``opaque``: a body in
        a coding not decoded (not judged). ``ctype``: the answer's type (lower case; the API's
        when its own said nothing, :func:`~.api_shape.relabelled`); ``wants``: whether the
        request asked for a stream; ``shape``: an inference call, whose success that is another
        API's answer is malformed here too (:mod:`.api_shape`): no SDK of that API reads it;
        ``arrived``, ``whole``: whether the whole body has come, and that body (:func:`~.answer_read.judge`)."""
        try:
            read = await judge(chunks, status, ctype, url, wants, limit=self.capture_limit,
                               opaque=opaque or scope["method"] == "HEAD", shape=shape, arrived=arrived,
                               whole=whole)
        except TimeoutError:
            await self._fail(send, ctx, scope, 504, "timeout", "the upstream did not answer in time")
            return None
        except (UpstreamError, ProviderError) as error:
            read = Judged(False, "", b"", None, CUT if isinstance(error, UpstreamError)
                          else "an answer whose body does not decode")
        if read.why is None:
            return read
        _log.warning("the upstream's answer is malformed: %s", read.why)
        await self._fail(send, ctx, scope, 502, MALFORMED, f"the upstream's answer is malformed: {read.why}",
                         code=UPSTREAM_MALFORMED)
        return None

    async def _pump(self, read: Judged, headers: list[tuple[bytes, bytes]], scope: dict[str, Any], send: Any,
                    ctx: Any, scrubs: list[Scrubber], *, check: StreamCheck | None = None) -> bool:
        """Pass the upstream body on (what was ``read`` to judge it, then the rest; a stream a
        whole event at a time) as the router passes a served attempt's on (:mod:`.relay`),
        until the end or a read error (a stream then ends with an error event in its own
        format, and the client's answer is left unfinished); whether the body was read to its
        end. (The client's disconnect cancels it, see :class:`_ClientWatch`.)"""
        frames = Framer(headers) if read.streaming else None
        try:
            await relay(read.prefix, read.rest, send, scrubs, frames, check=check)
        except CUTS as error:
            plain = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            await end_cut(error, wire_api(scope["path"], plain), frames, send, ctx)
            return False
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True

    async def _fail(self, send: Any, ctx: Any, scope: dict[str, Any], status: int, kind: str, message: str, *,
                    code: str | None = None) -> None:
        if ctx is not None:
            ctx.upstream_error = kind
        rid = ctx.request_id if ctx is not None else None
        plain = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body, hdrs = error_response(wire_api(scope["path"], plain), status, message, decision_id=rid, code=code)
        hdrs.append((b"x-aigw-upstream-error", kind.encode()))
        if rid is not None:  # the gateway's own answer: its request id where the SDKs read one
            hdrs += id_headers(rid)
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


# The providers' own API hosts: their upstream gets only that provider's credentials.
_HOSTS = {"api.openai.com": "openai", "api.anthropic.com": "anthropic",
          "generativelanguage.googleapis.com": "gemini"}
_HOST_SUFFIXES = {".openai.azure.com": "openai"}


@lru_cache(maxsize=1024)  # a pure function of the path, asked by every exchange (~14,000 instructions)
def _credential_api(path: str) -> str:
    """Whose ``upstream_auth`` entry a request to ``path`` gets at an upstream of no known host:
    its wire format's own (``anthropic``, ``gemini``), else ``openai``'s (a Bedrock, Cohere or
    Ollama request has no entry of its own; docs/gateway.md, "Upstream credentials"). Claude on
    Vertex AI is Google's (its errors are Anthropic's shape, its credentials Google's)."""
    native = native_path(path)
    if native is not None and native.vendor == "vertex_ai-anthropic":
        return "gemini"
    wire = wire_api(path, {})
    return wire if wire in ("anthropic", "gemini") else "openai"


def _models_read(scope: dict[str, Any]) -> bool:
    """Whether a request reads the model list or one model's card (the one read besides
    inference that the operator's credential is lent for: :meth:`UpstreamProxy.lends`)."""
    return scope.get("method") in ("GET", "HEAD") and _MODELS.search(scope["path"]) is not None


def is_redirect(status: int) -> bool:
    """Whether an answer's ``status`` sends the client elsewhere (every 3xx but ``304 Not
    Modified``, which sends it nowhere): never passed on by the proxy nor the router.

    >>> is_redirect(307), is_redirect(304), is_redirect(200)
    (True, False, False)
    """
    return 300 <= status < 400 and status != 304


def upstream_api(upstream: str, provider: str | None = None) -> str | None:
    """The provider API an upstream speaks (``openai``, ``anthropic``, ``gemini``): the one
    ``provider`` belongs to, else the one its host is known as; ``None`` for any other host.

    >>> upstream_api("https://api.anthropic.com/"), upstream_api("http://10.0.0.7:8000", "vllm")
    ('anthropic', 'openai')
    >>> upstream_api("http://127.0.0.1:4000") is None
    True
    """
    from urllib.parse import urlsplit

    from ..providers import PROVIDERS

    if provider is not None:
        return PROVIDERS.get(provider)
    host = (urlsplit(upstream).hostname or "").lower().rstrip(".")
    if host in _HOSTS:
        return _HOSTS[host]
    return next((api for suffix, api in _HOST_SUFFIXES.items() if host.endswith(suffix)), None)


def _accepts(accept: str, coded: list[str]) -> bool:
    """Whether an ``Accept-Encoding`` value accepts every coding in ``coded`` (RFC 9110 §12.5.3)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        name, _, params = part.strip().lower().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            weights[name.strip()] = q
    return all(weights.get(c, weights.get("*", 0.0)) > 0 for c in coded)


def _header(scope: dict[str, Any], name: bytes) -> str:
    """A request header's values (joined by ``, ``), ``""`` when absent."""
    return ", ".join(v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name)


def client_watch(scope: dict[str, Any], receive: Any) -> _ClientWatch | _GoneWatch:
    """Cancel the current task when the client goes away (``left``), until ``stop``: by the
    server's word when it gives one (``scope["extensions"]["aigw.client_gone"]``), else by a
    task on ``receive``."""
    gone = (scope.get("extensions") or _NONE).get(CLIENT_GONE)
    return _ClientWatch(receive) if gone is None else _GoneWatch(gone)


class _ClientWatch:
    """Cancels the task that made it when the client goes away (``left``), until ``stop``:
    one watching task per exchange, and the upstream request and the copy of its answer run
    in the request's own task. A cancel the watch asked for lands on an await of that task
    before ``stop`` (callbacks run only while the task waits); one asked for after ``stop``
    is never made."""

    def __init__(self, receive: Any) -> None:
        self.task = asyncio.current_task()
        self.left = False
        self._active = True
        self._watcher = asyncio.ensure_future(_disconnect(receive))
        self._watcher.add_done_callback(self._done)

    def _done(self, watcher: asyncio.Future[None]) -> None:
        if self._active and not watcher.cancelled() and watcher.exception() is None:
            self.left = True
            assert self.task is not None
            self.task.cancel()

    def stop(self) -> None:
        self._active = False
        self._watcher.cancel()


class _GoneWatch:
    """:class:`_ClientWatch` with no task: the server protocol's :class:`~aigw_policy.gateway.server.ClientGone`
    calls back when the client goes away (when ``receive`` would say ``http.disconnect``),
    and the request's task is cancelled then, until ``stop``. Same ``left`` and ``stop``;
    checked against the task watch in tests/gateway/test_fast_paths.py."""

    __slots__ = ("task", "left", "_gone")

    def __init__(self, gone: Any) -> None:
        self.task = asyncio.current_task()
        self.left = False
        self._gone = gone
        gone.watch(self._leave)

    def _leave(self) -> None:
        self.left = True
        assert self.task is not None
        self.task.cancel()

    def stop(self) -> None:
        self._gone.watch(None)


_NONE: Mapping[str, Any] = {}


async def _disconnect(receive: Any) -> None:
    """Returns when the client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _base_and_query(upstream: str) -> tuple[str, str, list[str]]:
    """``--upstream`` as the base a request's path is appended to, the query that goes before
    the request's own (``?key=...``: Gemini's key as a parameter; it was glued before the path),
    and the secrets it holds, which an answer must not quote: its password, as written and
    decoded, the ``Basic`` value sent of it (:class:`~.http_wire.Origin`), and its
    credential-like parameters (:func:`~aigw_policy.redact.redact` hides the same in logs).

    >>> _base_and_query("http://u:pw-123456@h/b/?key=AIza-1234&v=1")
    ('http://u:pw-123456@h/b', 'key=AIza-1234&v=1', ['pw-123456', 'AIza-1234', 'dTpwdy0xMjM0NTY='])
    """
    from urllib.parse import urlsplit, urlunsplit

    from .scrub import url_secrets

    try:
        parts = urlsplit(upstream)
    except ValueError:  # the client refuses it when used (its message holds no userinfo)
        return upstream.rstrip("/"), "", []
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
    secrets = list(url_secrets(upstream))
    return base, parts.query, secrets
