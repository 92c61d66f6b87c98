"""The HTTP server side of ``aigw-policy serve``: uvicorn's httptools protocol (h11 without
httptools) with a header-read timeout, which uvicorn itself does not have (its keep-alive
timer stops at the first byte). The event loop is uvloop's when installed (uvicorn's
``loop="auto"``).

A connection gets ``header_timeout`` seconds, from its opening or from the first byte of its
next request (between two requests it idles as long as uvicorn's ``timeout_keep_alive``), to
send a complete request head; a client that sends nothing, or trickles its
headers a byte at a time (slowloris), is disconnected then. A request head is at most
:data:`MAX_HEAD_BYTES`: past it the connection gets a 431 and is closed (llhttp, unlike h11,
has no bound of its own, so a head of 40 MB was read into memory whole). The body's pace is
watched by :class:`~aigw_policy.gateway.middleware.PolicyMiddleware` (``body_timeout`` and a
minimum rate); an answer takes as long as the upstream does, but a client that leaves it unread
for ``write_timeout`` seconds once the write buffer is full is cut (:class:`_SlowReaders`).

```python
import uvicorn
from aigw_policy.gateway.server import header_timeout_protocol
uvicorn.run(app, http=header_timeout_protocol(10.0))
```
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from .conn_cap import DEFAULT_MAX_CONNECTIONS, Capped
from .http10 import close_delimited
from .parser_refusals import parser_refusal, refused_path
from .pipelined import Pipelined
from .targets import TARGET_AUTHORITY, TARGET_FRAGMENT, PathlessTarget, authority_of, read_absolute_form
from .trailers import BoundedTrailers

__all__ = ["CLIENT_GONE", "CONN_TIMES", "DEFAULT_HEADER_TIMEOUT", "DEFAULT_WRITE_TIMEOUT", "MAX_HEAD_BYTES",
           "MAX_HEAD_FIELDS", "TARGET_AUTHORITY", "ClientGone", "HeadWithBody", "Reporter", "header_timeout_protocol",
           "leave_unfinished", "refusal_event"]

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a request's head (nginx's ``client_header_timeout`` is 60 s;
an API client sends its head at once)."""

DEFAULT_WRITE_TIMEOUT = 60.0
"""Seconds a client may leave an answer unread once the connection's write buffer is full
(asyncio's high-water mark: 64 KiB past what the kernel holds): then the connection is cut,
and the request ends as one whose client left (its upstream call cancelled, its usage settled).
A client that reads nothing held its connection, its upstream stream and one of the upstream
client's connections (512 at most) for as long as it liked: a handful of such clients starved
every other request of upstream connections."""


MAX_HEAD_BYTES = 64 * 1024
"""The most bytes of one request head (request line and headers) a connection may send
(nginx reads heads of up to 4 x 8 KiB by default; h11's own bound is set just above it).
Measured in each read before
the parser sees it, so a larger head is refused however it arrives (in one read or many); a
head that follows another in the same read (pipelining) is bounded by that read."""

MAX_HEAD_FIELDS = 100
"""The most header fields of one request head (Apache's ``LimitRequestFields`` and Envoy's
``max_headers_count`` default): past it, a 431 and the connection closed. Counted as the head's
lines in each read before the parser sees it. Within MAX_HEAD_BYTES a head held ~5,000 fields,
each a Python call of the parser's and an entry every header pass walks: ~3 ms of the loop per
request with no key (0.6 ms for the same bytes in one field)."""

_log = logging.getLogger("aigw_policy.gateway")


def refusal(status: int, message: str, code: str, target: bytes = b"", report: Reporter | None = None,
            more: tuple[tuple[bytes, bytes], ...] = (), log: bool = True) -> bytes:
    """The whole answer (head and body) to a request the server protocol refuses before any
    app sees it (a head too large, bytes that are not HTTP/1.1): in the provider's error
    shape of the request target when it was read (else OpenAI's), with a request id of its own
    in ``x-aigw-decision-id``, ``x-request-id`` and ``request-id`` (also in the operator's log
    line), and ``connection: close``. ``report`` gets the refusal as an event
    (:func:`refusal_event`), for the decision log and the metrics."""
    from .errors import error_response, wire_api
    from .request_ids import DECISION_HEADER, id_headers, request_id

    rid = request_id()
    path = refused_path(target)
    body, headers = error_response(wire_api(path, {}), status, message, decision_id=rid, code=code)
    from email.utils import formatdate

    headers += id_headers(rid) + [(DECISION_HEADER.encode(), rid.encode()), (b"connection", b"close"),
                                  (b"date", formatdate(usegmt=True).encode()), *more]
    phrase = HTTPStatus(status).phrase.encode()
    head = b"HTTP/1.1 %d %s\r\n" % (status, phrase) + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    if log:
        _log.warning("refused a request before reading it (%s, request %s): %s", code, rid, message)
    if report is not None:
        _report(report, refusal_event(rid, status, code, message, path))
    return head + b"\r\n" + body


Reporter = Callable[[dict[str, Any]], None]
"""Told of each request (or request head) the server protocol ends before any app sees it: an
event as :class:`~aigw_policy.gateway.metrics.Observer` takes them (``Gateway.server_event``)."""


def refusal_event(rid: str | None, status: int | None, code: str, message: str, path: str = "") -> dict[str, Any]:
    """The event of a request the server protocol ended: ``status`` None when no answer was
    sent (the head did not arrive in time: the connection was closed). ``path`` is the
    target's path as it came (no query: it may hold a ``key=``), at most 256 characters."""
    return {"request_id": rid, "method": None, "path": path[:256] or None,
            "verdict": "deny" if status is not None else "closed", "status_code": status, "reason": message,
            "decided_by": "server", "code": code, "latency_ms": 0.0, "overhead_ms": 0.0}


def _report(report: Reporter, event: dict[str, Any]) -> None:
    try:
        report(event)
    except Exception:  # noqa: BLE001 - observability never breaks the protocol
        _log.exception("reporting a refusal of the server protocol failed")


CLIENT_GONE = "aigw.client_gone"
"""The scope extension (``scope["extensions"][CLIENT_GONE]``) through which these protocols
tell a request's app that its client went away: a :class:`ClientGone`."""


class ClientGone:
    """One request's word that its client went away, from the server protocol itself: what
    its ``receive`` would say with an ``http.disconnect`` (the connection lost before the
    answer was complete), without a task waiting on ``receive`` to hear it.
    :class:`~aigw_policy.gateway.proxy.UpstreamProxy` watches the client this way when the
    server offers it (one callback, no task and no wake-ups per request; docs/gateway.md,
    "Seventh pass"), else with a task on ``receive``."""

    __slots__ = ("_callback", "gone")

    def __init__(self) -> None:
        self._callback: Any = None
        self.gone = False

    def watch(self, callback: Any) -> None:
        """Call ``callback()`` once the client is gone: at once if it already is; ``None``
        stops watching."""
        self._callback = callback
        if callback is not None and self.gone:
            self.fire()

    def fire(self) -> None:
        """The client is gone (the protocol calls this): tell the watcher, once."""
        self.gone = True
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


_LINE_MAX = 16_384
"""How much of a head's first reads is held to find its request line (the 431's path)."""


def _head_end(tail: bytes, data: bytes) -> int:
    """How many bytes of ``data`` belong to the head being read: up to the blank line that ends
    it (CRLF CRLF, or LF LF as llhttp also takes), ``tail`` being the last bytes of the head's
    previous reads; all of ``data`` when it does not end there."""
    joined = tail + data
    ends = [i + n for i, n in ((joined.find(b"\r\n\r\n"), 4), (joined.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) - len(tail) if ends else len(data)


_UNFINISHED: contextvars.ContextVar[bool] = contextvars.ContextVar("aigw_unfinished", default=False)
_UVICORN_UNFINISHED = "ASGI callable returned without completing response."
_UVICORN_REPLACED = frozenset({
    "Invalid HTTP request received.",  # :func:`refusal` logs it, with its request id and the parser's reason
    "Unsupported upgrade request.",  # an `Upgrade` (h2c, websocket) is ignored: hop-by-hop, never an error
    "No supported WebSocket library detected. Please use \"pip install 'uvicorn[standard]'\", or install "
    "'websockets' or 'wsproto' manually.",  # advice that would open websockets, which serve refuses
})


def leave_unfinished() -> None:
    """Say that the running request's answer is left unfinished on purpose: its upstream cut
    it, and the client must see the cut (the connection closed without the body's end), never
    an end that would pass for a whole answer. uvicorn then logs an error of its own ("ASGI
    callable returned without completing response."); the protocols of this module drop that
    one line for such a request, whose own warning already says what happened. Called in the
    request's task (uvicorn logs in it, after the app returns: the mark is in its context)."""
    _UNFINISHED.set(True)


class _QuietCut(logging.LoggerAdapter):  # type: ignore[type-arg]
    """uvicorn's request-cycle logger, without its complaint about an answer left unfinished
    on purpose (:func:`leave_unfinished`); every other record as it was."""

    @property
    def level(self) -> int:  # uvicorn reads it (is TRACE on?)
        return int(self.logger.level)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg == _UVICORN_UNFINISHED and _UNFINISHED.get():
            return
        if msg in _UVICORN_REPLACED:
            return
        self.logger.log(level, msg, *args, **kwargs)


class _Unfinished:
    """The protocol's logger, which uvicorn hands each request cycle, as :class:`_QuietCut`
    (a mixin of the protocol classes below), and its refusal of a request that is not HTTP/1.1
    as :func:`refusal` words it (uvicorn's own is a plain-text 400 with no request id)."""

    logger: Any
    transport: Any
    report: Reporter | None = None  # header_timeout_protocol's `report`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _QuietCut(self.logger, {})

    def send_400_response(self, msg: str) -> None:
        self._cut(*parser_refusal((getattr(self, "scope", None) or {}).get("method")))

    def _cut(self, status: int, message: str, code: str) -> None:
        """Answer ``status`` (:func:`refusal`) and close: the request in progress, if any, ends."""
        cycle = getattr(self, "cycle", None)
        if cycle is not None and not cycle.response_complete:
            # the parser refused what followed a head it had passed on (a chunk that is no chunk, a
            # `Transfer-Encoding: identity` llhttp refuses only once the head is read): that request is
            # gone with the connection now, before its app's first `receive` in this same step, which
            # had it served with what body had come (an empty one went upstream, answered to nobody)
            cycle.disconnected = True
            cycle.message_event.set()
            gone = getattr(self, "_gone", None)
            if gone is not None:
                gone.fire()
        self.transport.write(refusal(status, message, code, getattr(self, "url", b"") or b"", self.report))
        self.transport.close()


def header_timeout_protocol(seconds: float, report: Reporter | None = None,
                            write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
                            max_connections: int | None = DEFAULT_MAX_CONNECTIONS) -> type[asyncio.Protocol]:
    """A uvicorn HTTP/1.1 protocol class (for ``uvicorn.Config(http=...)``) that closes a
    connection whose request head is not complete ``seconds`` after it was awaited: uvicorn's
    httptools protocol (llhttp, in C) when httptools is installed, else its h11 one.
    ``report`` is told of every request it ends before an app sees it (a 400 ``invalid_http``,
    a 431, a head that did not arrive in time), as an event (:func:`refusal_event`): ``serve``
    passes ``Gateway.server_event``, so they get a decision log line and metrics. A client
    that leaves ``write_timeout`` seconds of its answer unread once the write buffer is full
    is cut (:data:`DEFAULT_WRITE_TIMEOUT`; None: never). At most ``max_connections`` client
    connections are open at once (:mod:`~.conn_cap`; None: no cap)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is not installed
        return _h11_protocol(seconds, report, write_timeout, max_connections)
    return _httptools_protocol(HttpToolsProtocol, seconds, report, write_timeout, max_connections)


class _Timer:
    """The header timer of one connection (a mixin of the protocol classes below).

    One timer per connection, not one per request: arming sets a deadline, and the timer, when
    it fires, closes the connection only if a head is still awaited past its deadline; a
    deadline set since it was scheduled sends it on to that deadline, no head awaited lets it
    lapse. On a keep-alive connection a request then costs no timer handle at all (one per
    ``header_timeout`` seconds at most) instead of one created and cancelled per request:
    the connection closes at the same moment as with a fresh timer per arming (checked
    against that plain timer in tests/gateway/test_fast_paths.py)."""

    header_timeout: float
    loop: asyncio.AbstractEventLoop
    transport: Any
    report: Reporter | None
    _header_timer: asyncio.TimerHandle | None = None
    _head_deadline: float | None = None  # loop time by which the awaited head must be whole; None: none awaited

    _head_bytes = 0  # of the head awaited, read so far
    _head_lines = 0  # its line ends so far (the request line's, each field's)
    _head_tail = b""  # its last bytes (a blank line may span two reads)
    _head_start = b""  # its first read (held, not copied; grown while it has no whole request line)
    _idle = False  # a kept-alive connection between two requests: the next head's time starts at its first byte

    def _rest(self) -> None:
        """An answer is complete and the connection kept: it idles for as long as the server's
        keep-alive allows (uvicorn's own timer, ``timeout_keep_alive``), and the next request's
        head gets ``header_timeout`` from its first byte on (:meth:`_wake`)."""
        self._head_deadline = None
        self._head_bytes = 0
        self._head_lines = 0
        self._head_tail = b""
        self._idle = True

    def _wake(self) -> None:
        """The first bytes after an idle spell: the head they begin is awaited from now."""
        self._idle = False
        self._arm()

    def _arm(self) -> None:
        self._head_bytes = 0
        self._head_lines = 0
        self._head_tail = b""
        self._head_deadline = deadline = self.loop.time() + self.header_timeout
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(deadline, self._expire)

    def _over_bound(self, data: bytes) -> bool:
        """Whether this read takes the awaited head past MAX_HEAD_BYTES (then it is answered
        431 and closed): measured before the parser sees it, up to the head's end."""
        if self._head_deadline is None or self.transport.is_closing():
            return False  # no head awaited: body bytes, or the head ended in an earlier read
        start = data if self._head_bytes == 0 else self._head_start
        if self._head_bytes and len(start) < _LINE_MAX and b"\n" not in start:
            start += data  # (a request line spread over reads: rare)
        end = _head_end(self._head_tail, data)
        lines = self._head_lines + data.count(b"\n", 0, end)  # the request line's, the fields', the blank one
        if self._head_bytes + end > MAX_HEAD_BYTES or lines > MAX_HEAD_FIELDS + 2:
            self._stop()
            # the target, from the request line, however the head was split into reads
            first = start.split(b"\n", 1)[0].split(b" ", 2)
            target = first[1] if len(first) > 2 else b""
            why = (f"the request head is larger than {MAX_HEAD_BYTES} bytes" if lines <= MAX_HEAD_FIELDS + 2
                   else f"the request head has more than {MAX_HEAD_FIELDS} header fields")
            self.transport.write(refusal(431, why, "request_header_fields_too_large", target, self.report))
            self.transport.close()
            return True
        self._head_lines = lines
        self._head_bytes += len(data)
        self._head_tail = (self._head_tail + data)[-3:]
        self._head_start = start
        return False

    def _disarm(self) -> None:
        """The head arrived: no head awaited (the timer, if any, lapses when it fires)."""
        self._head_deadline = None
        self._head_start = b""  # (not held while the connection lives)

    def _stop(self) -> None:
        """No head awaited and no timer left (the connection is closing)."""
        self._head_deadline = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        deadline = self._head_deadline
        if deadline is None:
            return  # no head awaited: the timer lapses
        if self.loop.time() < deadline:  # armed again since: on to the new deadline
            self._header_timer = self.loop.call_at(deadline, self._expire)
            return
        self._head_deadline = None
        if not self.transport.is_closing():
            if self._head_bytes and self.report is not None:  # a head begun, not finished: a slowloris
                _report(self.report, refusal_event(None, None, "header_timeout", "the request head did not arrive "
                                                   f"within {self.header_timeout:g}s: the connection was closed"))
            self.transport.close()


class _SlowReaders:
    """The write timer of one connection (a mixin of the protocol classes below): armed when
    the transport pauses writing (the client stopped reading), stopped when it resumes; past
    ``write_timeout`` the connection is aborted. No cost for a client that keeps reading: the
    transport pauses only once its buffer is full."""

    write_timeout: float | None = DEFAULT_WRITE_TIMEOUT
    loop: asyncio.AbstractEventLoop
    transport: Any
    report: Reporter | None
    _write_timer: asyncio.TimerHandle | None = None

    def pause_writing(self) -> None:
        super().pause_writing()  # type: ignore[misc]
        if self._write_timer is None and self.write_timeout is not None:
            self._write_timer = self.loop.call_later(self.write_timeout, self._unread)

    def resume_writing(self) -> None:
        self._stop_writing()
        super().resume_writing()  # type: ignore[misc]

    def _stop_writing(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _unread(self) -> None:
        self._write_timer = None
        message = f"the client read nothing of its answer for {self.write_timeout:g}s: the connection was cut"
        _log.warning("%s", message)
        if self.report is not None:
            _report(self.report, refusal_event(None, None, "write_timeout", message))
        self.transport.abort()  # connection_lost: the request's client is gone (ClientGone, http.disconnect)


class _Departures:
    """Each request's :class:`ClientGone` (a mixin of the protocol classes below): given to the
    app in its scope, fired when the connection is lost while that request's answer is not
    complete, exactly when uvicorn's ``receive`` of the request would turn to
    ``http.disconnect`` (it marks only the newest request of the connection, and so does
    this)."""

    cycle: Any
    _gone: ClientGone | None = None  # the newest request's

    def _offer(self, cycle: Any) -> None:
        """Give ``cycle``'s request (its task not started yet) a ClientGone in its scope."""
        self._gone = gone = ClientGone()
        scope = cycle.scope
        scope["extensions"] = {**(scope.get("extensions") or {}), CLIENT_GONE: gone}

    def _lost(self, cycle: Any) -> None:
        """After uvicorn's ``connection_lost``: fire the newest request's ClientGone if uvicorn
        marked it disconnected."""
        if cycle is not None and cycle.disconnected and self._gone is not None:
            self._gone.fire()


class _Ends:
    """What both protocols do when an answer is complete and when the connection is lost,
    around uvicorn's own (first among the protocol classes' bases: ``super()`` is the other
    mixins, then uvicorn's protocol)."""

    cycle: Any

    def on_response_complete(self) -> None:
        # rest first: a pipelined request (parsed in here under h11, later under llhttp)
        # arms the timer itself
        self._rest()  # type: ignore[attr-defined]
        super().on_response_complete()  # type: ignore[misc]
        self._spare()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()  # type: ignore[attr-defined]
        self._stop_writing()  # type: ignore[attr-defined]
        self._unspare()  # type: ignore[attr-defined]
        cycle = self.cycle
        super().connection_lost(exc)  # type: ignore[misc]
        self._lost(cycle)  # type: ignore[attr-defined]


class _Capped(Capped):
    """:class:`~.conn_cap.Capped` with its refusal: a 503 ``too_many_connections`` written as
    the connection is made (before its request is read, so it holds no descriptor longer),
    ``Retry-After: 1``, and the connection closed."""

    report: Reporter | None

    def _full(self) -> None:
        self._stop()  # type: ignore[attr-defined]  # (_Timer's)
        message = (f"the gateway has {self.max_connections} client connections open, each with a request in "
                   "progress: retry")
        self.transport.write(refusal(503, message, "too_many_connections", b"", self.report,
                                     ((b"retry-after", b"1"),), log=False))
        self.transport.close()


_UPGRADE_WITH_BODY = ("a request with `Connection: upgrade` and `Upgrade` cannot have a body here (the parser "
                      "would read it as the upgraded protocol's bytes): send it without `Upgrade`")


# NO_WEBSOCKETS: Neither protocol upgrades a connection to a websocket, whatever library is installed
# (``websockets`` comes with google-genai): no policy decides a websocket's messages, so one is
# never opened. A handshake is a plain HTTP/1.1 ``GET``, judged and forwarded without its
# hop-by-hop ``Upgrade`` (under llhttp the connection's last request). With ``websockets`` installed,
# uvicorn took the handshake for one: under llhttp the head was lost (the trailer filter empties
# the header list uvicorn reads the upgrade from again) and the request answered with a
# traceback in the log and a 400; under h11 it was handed to the app as a websocket scope, closed
# with an uncoded 403.


def _refusing(message: str, target: bytes, report: Reporter | None) -> Any:
    """An ASGI app answering :func:`refusal`'s 400 ``invalid_http`` (``message``): a request
    the protocol refuses after its head was parsed, answered in its turn among pipelined ones."""
    async def refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
        answer = refusal(400, message, "invalid_http", target, report)
        head, _, body = answer.partition(b"\r\n\r\n")
        fields = [line.split(b": ", 1) for line in head.split(b"\r\n")[1:]]
        headers = [(k, v) for k, v in fields if k != b"date"]  # (uvicorn writes its own)
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return refuse


def _declares_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request head (uvicorn's lower-cased names) declares a body: a
    ``Transfer-Encoding``, or a ``Content-Length`` other than 0 (llhttp checked its digits)."""
    return any(name == b"transfer-encoding" or (name == b"content-length" and value.strip(b" \t0"))
               for name, value in headers)


def _httptools_protocol(base: Any, seconds: float, reporter: Reporter | None = None,
                        write_seconds: float | None = DEFAULT_WRITE_TIMEOUT,
                        cap: int | None = DEFAULT_MAX_CONNECTIONS) -> type[asyncio.Protocol]:
    from httptools import parse_url as _parse_url

    class HeaderTimeoutHttpTools(_Ends, _Unfinished, _Timer, _SlowReaders, _Departures, _Capped,
                                 BoundedTrailers, Pipelined, base):  # type: ignore[misc, valid-type]
        header_timeout = seconds
        write_timeout = write_seconds
        max_connections = cap
        max_trailer_bytes, max_trailer_fields = MAX_HEAD_BYTES, MAX_HEAD_FIELDS
        report = staticmethod(reporter) if reporter is not None else None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            self._opened_ns = time.time_ns()
            super().connection_made(transport)
            self._arm()
            self._admit(self._full)

        _upgraded = False  # llhttp took the request being served for an upgrade: nothing after it is parsed

        def _should_upgrade_to_ws(self) -> bool:  # never a websocket: served as plain HTTP/1.1 (NO_WEBSOCKETS)
            return False

        def data_received(self, data: bytes) -> None:
            if self._is_spare:
                self._taken()
            if self._upgraded or self.flooded:
                return  # what follows an upgrade request (or a full pipeline) is never parsed: the connection closes
            if self._idle:
                self._wake()
            if not self._over_bound(data):
                super().data_received(data)
                if (self._in_chunk or self._too_many) and self.trailers_over(len(data)):
                    self._cut(431, "the request's trailer fields pass a head's bounds "
                              f"({MAX_HEAD_BYTES // 1024} KiB, {MAX_HEAD_FIELDS} fields)",
                              "request_header_fields_too_large")

        def on_headers_complete(self) -> None:  # a request head arrived whole
            if self.flooded:
                return  # (a request past the pipeline's bound: nothing of it is kept)
            if self.url[:1] not in (b"/", b"*") and b"://" in self.url:  # uvicorn fails on one with no path
                if _parse_url(self.url).path is None:
                    raise PathlessTarget("an absolute-form request target with no path")
            self._disarm()
            if self.expect_100_continue and self.parser.get_http_version() == "1.0":
                self.expect_100_continue = False  # no 1xx to an HTTP/1.0 client (RFC 9110 §15.2; h11 sends none)
            app = None
            if self.parser.should_upgrade():
                self._upgraded = True
                if _declares_body(self.headers):  # its body, skipped by llhttp, cannot be read: refused in turn
                    app, self.app = self.app, _refusing(_UPGRADE_WITH_BODY, self.url, self.report)
            try:
                super().on_headers_complete()
            finally:
                if app is not None:
                    self.app = app
            # a chunked body's trailer fields come through on_header too, and uvicorn appends
            # them to the list that is the scope's headers: in one read with the head, a
            # client's trailer became a header the policy, X-Forwarded-For and the upstream saw
            # (past a proxy in front that filters the head's). They go to a list nobody reads.
            self.headers = []
            cycle = self.cycle
            if self.url[:1] not in (b"/", b"*") and cycle is not None:  # absolute-form: `POST http://h/v1/...`
                cycle.scope[TARGET_AUTHORITY] = authority_of(self.url)
            if b"#" in self.url and cycle is not None:  # a fragment (llhttp drops it from the path): refused in turn
                cycle.scope[TARGET_FRAGMENT] = True
            if cycle is not None and cycle.transport is self.transport:  # a new request
                cycle.transport = HeadWithBody(self.transport, self.loop)
                self._offer(cycle)
                cycle.scope["extensions"][CONN_TIMES] = (self._opened_ns, time.time_ns())
                if cycle.scope["http_version"] == "1.0":  # no chunks: the close ends an answer of no length
                    close_delimited(cycle)
                if self._upgraded:  # served as plain HTTP/1.1, and the connection's last
                    cycle.keep_alive = False

    return HeaderTimeoutHttpTools


CONN_TIMES = "aigw.conn_times"
"""The scope extension (``scope["extensions"][CONN_TIMES]``) through which these protocols
give a request's app when its connection opened and when its head was read whole (wall-clock
nanoseconds since the epoch): ngrok's ``conn.ts.start`` and ``req.ts.header_received``."""




class HeadWithBody:
    """The transport one request's answer is written to: its first write (the answer's head)
    is held until the next one (the first piece of the body) or the end of the event loop's
    current step, whichever comes first, so that an answer sent whole goes out in one write
    (one segment, one wake-up of the client) instead of two. The bytes and their order are
    unchanged, and a streamed answer's head still leaves at once (the step ends when the
    exchange waits for the upstream). A write after the connection closed is dropped, as
    asyncio's own transports drop it: uvloop's raises, and a client that half-closed its side
    after pipelining requests made each answer a "gateway failed" traceback in the log. It has
    what uvicorn's request cycle calls on its transport: ``write``, ``close``, ``is_closing``."""

    __slots__ = ("_transport", "_loop", "_held", "_first")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        held = self._held
        self._held = None
        if self._transport.is_closing():  # the client's connection closed (its EOF, a reset) before
            return  # connection_lost tells the cycle: nobody to write to (uvloop raises, asyncio drops)
        if held is None:
            self._transport.write(data)
        else:
            self._transport.writelines((held, data))

    def flush(self) -> None:
        """Write the held head, if any (on a transport still open)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return bool(self._transport.is_closing())


def _h11_protocol(seconds: float, reporter: Reporter | None = None,
                  write_seconds: float | None = DEFAULT_WRITE_TIMEOUT,
                  cap: int | None = DEFAULT_MAX_CONNECTIONS) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from .h11_chunks import chunk_fault
    from .h11_lines import strict

    class HeaderTimeoutH11(_Ends, _Unfinished, _Timer, _SlowReaders, _Departures, _Capped, H11Protocol):  # type: ignore[misc]
        header_timeout = seconds
        write_timeout = write_seconds
        max_connections = cap
        report = staticmethod(reporter) if reporter is not None else None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # h11's own bound on an unfinished head (uvicorn's default: 16 KiB) above ours: a head
            # over MAX_HEAD_BYTES is our 431 however it arrives; h11's 400 at 16 KiB, or ours,
            # had depended on how the head was split into reads
            import h11

            self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES + 1)
            # what llhttp refuses of a head that h11 took (a bare LF, obs-fold, ...), refused alike (serve30)
            strict(self.conn)

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            self._opened_ns = time.time_ns()
            super().connection_made(transport)
            self._arm()
            self._admit(self._full)

        def _should_upgrade_to_ws(self) -> bool:  # never a websocket: served as plain HTTP/1.1 (NO_WEBSOCKETS)
            return False

        def data_received(self, data: bytes) -> None:
            if self._is_spare:
                self._taken()
            if self._idle:
                self._wake()
            if not self._over_bound(data):  # h11's own bound sees only heads still incomplete
                super().data_received(data)
                # a chunk-size line llhttp refuses as it reads it, h11 waited on (serve29)
                if (fault := chunk_fault(self.conn, len(data))) is not None and not self.transport.is_closing():
                    self._cut(400, f"the request is not valid HTTP/1.1: {fault}", "invalid_http")

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request head arrived whole
                self._disarm()
                if self.cycle is not None:
                    scope = self.cycle.scope
                    read_absolute_form(scope)  # its path, as llhttp's protocol reads it
                    if b"#" in scope["raw_path"] or b"#" in scope["query_string"]:  # a fragment (h11 keeps it)
                        scope[TARGET_FRAGMENT] = True
                    self._offer(self.cycle)

    return HeaderTimeoutH11
