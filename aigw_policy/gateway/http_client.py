"""The gateway's HTTP/1.1 client to its upstreams: asyncio connections, httptools' parser
(llhttp, the parser of uvicorn's own fast path) and a connection pool, nothing per request
that a proxy does not need (see docs/decisions.md "The upstream client"). Here: the
connections and the pool; the answer as it is read is ``http_answer.py``, the request's bytes
``http_wire.py``.

``serve`` forwards each request as it is and reads the answer back as it comes; it needs one
method, a byte-exact target, the headers it chose, a body it already holds, and the answer's
status, raw headers and body pieces with a timeout between two reads. A general client
(aiohttp, httpx) also builds URL objects, header multidicts, cookie jars, tracing hooks,
redirects, a timer context and a stream reader per request: ~105 us of CPU per exchange here,
against ~20 us for this one.

What it does, and what it guards against:

- connections are kept per origin (scheme, host, port) and reused while the upstream keeps
  them (``Connection: close``, HTTP/1.0 and a body read to the connection's close are not);
  an idle connection the upstream closed is noticed when it closes and never handed out; one
  idle longer than ``idle_timeout`` is closed (by a timer: no request needs to come); at most
  ``max_connections`` are open at once (an idle one is closed to make room, else the request
  waits for one);
- a host's addresses are tried as RFC 8305 says (``aiohappyeyeballs``: the next address 250 ms
  after the last, IPv6 and IPv4 interleaved): one unreachable family costs no whole time-out;
- ``https`` origins are verified against the system's trust store (``ssl`` to pass another
  context), with SNI and ALPN ``http/1.1``;
- a header name that is not a token, or a name or value with CR, LF or NUL, is refused before
  anything is sent (no header injection through a value a policy computed);
- the answer's head is bounded (:data:`MAX_HEAD`); 1xx interim answers are skipped; the body is
  framed by llhttp (``Content-Length``, chunked, or read to the close); reading stops while
  :data:`HIGH_WATER` bytes wait for a slow reader, so a fast upstream cannot fill memory;
- time-outs are :class:`TimeoutError` (to connect, :class:`ConnectTimeout`; to the answer's
  head, between two reads of its body); all else that goes wrong is :class:`UpstreamError`;
- a request with an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) whose
  connection closes before any byte of an answer is sent once more on a new connection
  (RFC 9112 §9.3.1; aiohttp does the same); a POST never is;
- a request whose task is cancelled closes its connection (it is never reused half read).
"""

from __future__ import annotations

import asyncio
import socket
import ssl as _ssl
import time
from collections import deque
from typing import Any

import aiohappyeyeballs
import httptools

from .http_answer import HIGH_WATER, MAX_HEAD, ConnectTimeout, Response, UpstreamError
from .http_wire import Origin, request_head, split_url

__all__ = ["HIGH_WATER", "MAX_HEAD", "ConnectTimeout", "HttpClient", "Response", "UpstreamError"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class _Connection(asyncio.Protocol):
    """One connection to an upstream; the :class:`Response` it is reading, if any."""

    def __init__(self, pool: HttpClient, key: tuple[str, str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.closed = False
        self.received = False  # any byte of the answer to the request it carries
        self.since = 0.0
        self._paused = False

    # asyncio

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None or response._done:  # bytes nobody asked for: the connection is not sane
            self.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:  # a callback's own error is its context
            cause = error.__context__
            response._fail(cause if isinstance(cause, UpstreamError)
                           else UpstreamError(f"the upstream's answer is not HTTP/1.x ({error})"))
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        if self.response is not None:
            self.response.on_lost(exc)

    # httptools

    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.on_header(name, value)  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        self.response.on_headers_complete(self)  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        self.response.on_body(body)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        self.response.on_message_complete(self)  # type: ignore[union-attr]

    # the pool's

    def renew(self) -> None:
        """A parser of its own for the connection's next answer (this one's, done with an
        answer to HEAD, would read the next answer as that answer's body). Bytes after the
        HEAD answer's head in the same read still reach the old parser, which refuses them
        (``more than its answer``): the connection is then closed, never reused."""
        self.parser = httptools.HttpResponseParser(self)

    def answered(self) -> None:
        """The answer is whole: reading goes on (a paused connection would never see its close)."""
        self.resume()

    def pause(self) -> None:
        if not self._paused and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def idle(self) -> None:
        self.response = None
        if self.closed:
            return
        self.since = time.monotonic()
        self.pool._idle(self)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool._forget(self)
            if self.transport is not None:
                self.transport.close()


def _time_out(waiter: asyncio.Future[None], wait: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no connection to the upstream came free within {wait:g} s"))



class HttpClient:
    """``HttpClient(max_connections=512)``; ``await client.request("POST", url, headers, body,
    connect_timeout=5, read_timeout=60)`` gives a :class:`Response` once the answer's head
    arrived; ``await client.close()`` closes every connection.

    ``ssl``: the context for ``https`` upstreams (default: the system's trust store, verified);
    ``idle_timeout``: seconds an unused connection is kept."""

    def __init__(self, *, max_connections: int = 512, ssl: _ssl.SSLContext | None = None,
                 idle_timeout: float = 15.0) -> None:
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._ssl = ssl
        self._origins: dict[str, Origin] = {}
        self._idle_by: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._sweep_at: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of its connections

    async def request(self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes, *,
                      connect_timeout: float | None = None, read_timeout: float | None = None) -> Response:
        """Send ``method url`` with ``headers`` (names as given) and ``body``; the answer once
        its head arrived (interim 1xx answers skipped). ``url``'s path and query are sent byte
        for byte. Adds ``host``, ``content-length`` when there is a body (or the method is
        POST, PUT or PATCH) and ``user-agent`` when none is given (``headers`` with a ``host``,
        ``content-length`` or ``transfer-encoding`` of their own are refused: two framings of
        one request are how requests are smuggled). :class:`ValueError` for a
        header that cannot be sent, :class:`TimeoutError` (to connect, ``connect_timeout``; to
        the answer's head, ``read_timeout``) and :class:`UpstreamError` for the rest."""
        if self._closed:
            raise UpstreamError("the client is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None and self._open:
                raise RuntimeError("the client's connections belong to another event loop")
            self._loop = loop
            if self._sweep_at is not None:  # a timer of the old loop
                self._sweep_at.cancel()
                self._sweep_at = None
        origin, target = split_url(url, self._origins)
        head = request_head(method, target, origin, headers, body)
        retry = method in _IDEMPOTENT
        while True:
            conn = await self._acquire(origin, connect_timeout, read_timeout)
            response = Response(conn, read_timeout, method == "HEAD", loop)
            conn.response = response
            conn.received = False
            try:
                if len(body) > 65536:
                    conn.transport.writelines((head, body))
                else:
                    conn.transport.write(head + body)
                if conn.closed:  # gone since it was taken: as if it closed before answering
                    response.on_lost(None)
                while not response._head:
                    if response._error is not None:
                        raise response._error
                    await response._wait()
            except UpstreamError:
                response.close()
                if retry and not conn.received:  # closed unanswered: once more (RFC 9112 §9.3.1, as aiohttp)
                    retry = False
                    continue
                raise
            except BaseException:
                response.close()
                raise
            return response

    async def close(self) -> None:
        """Close every connection; the client can no longer be used."""
        self._closed = True
        if self._sweep_at is not None:
            self._sweep_at.cancel()
            self._sweep_at = None
        for conn in list(self._open):
            if conn.response is not None:  # its reader is told: a body read to the close would seem whole
                conn.response._fail(UpstreamError("the client is closed"))
            conn.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # the transports' close callbacks run

    # the pool


    def _reuse(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle_by.get(key)
        if not idle:
            return None
        expired = time.monotonic() - self.idle_timeout
        while idle:
            conn = idle.pop()  # the most recently used: the likeliest to be alive
            if conn.closed or conn.transport.is_closing() or conn.since < expired:
                conn.close()
            else:
                return conn
        return None

    async def _acquire(self, origin: Origin, timeout: float | None, wait: float | None) -> _Connection:
        """An idle connection to ``origin``, else a new one once fewer than
        ``max_connections`` are open (an idle one to another origin is closed to make room).
        A turn is awaited ``wait`` seconds at most (:class:`TimeoutError`): the time a request
        is given for its answer's head, queue included; every connection held by answers that
        do not end (clients reading nothing, endless streams) had the queue wait forever."""
        if self._closed:  # a retry after close(): not sent again
            raise UpstreamError("the client is closed")
        while True:
            conn = self._reuse(origin.key)
            if conn is not None:
                return conn
            if len(self._open) < self.max_connections:
                return await self._connect(origin, timeout)
            oldest = min((q[0] for q in self._idle_by.values() if q), key=lambda c: c.since, default=None)
            if oldest is not None:
                oldest.close()
                continue
            loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            self._waiters.append(waiter)
            # (not asyncio.wait_for: on 3.11 it swallows a cancellation that comes once the turn is given)
            late = None if wait is None else loop.call_later(wait, _time_out, waiter, wait)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake_one()  # woken, then cancelled before it ran: the turn goes on
                raise
            finally:
                if late is not None:
                    late.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if self._closed:
                raise UpstreamError("the client is closed")

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = _Connection(self, origin.key)
        self._open.add(conn)
        ctx = None
        if origin.tls:
            ctx = self._ssl if self._ssl is not None else _default_context()
        try:
            async with asyncio.timeout(timeout):
                infos = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
                sock = await aiohappyeyeballs.start_connection(infos, happy_eyeballs_delay=0.25, interleave=1)
                try:
                    await loop.create_connection(lambda: conn, sock=sock, ssl=ctx,
                                                 server_hostname=origin.host if ctx is not None else None)
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError:
            self._forget(conn)
            conn.closed = True
            raise ConnectTimeout(f"no connection to the upstream within {timeout} s") from None
        except (OSError, _ssl.SSLError, ValueError) as error:
            self._forget(conn)
            conn.closed = True
            raise UpstreamError(f"the upstream could not be reached ({type(error).__name__}: {error})") from None
        except BaseException:
            self._forget(conn)
            if conn.transport is not None:
                conn.transport.close()
            conn.closed = True
            raise
        if conn.closed:  # by the upstream at once, or by close() while it was being made
            conn.transport.close()
            raise UpstreamError("the client is closed" if self._closed else "the upstream closed the connection at once")
        return conn

    def _idle(self, conn: _Connection) -> None:
        if self._closed:
            conn.close()
            return
        idle = self._idle_by.get(conn.key)
        if idle is None:
            idle = self._idle_by[conn.key] = deque()
        idle.append(conn)
        if self._sweep_at is None:
            self._sweep_at = asyncio.get_running_loop().call_later(self.idle_timeout, self._sweep)
        self._wake_one()

    def _sweep(self) -> None:
        """Close the connections idle longer than ``idle_timeout`` (oldest first in each
        origin's queue); again when the next one would be."""
        self._sweep_at = None
        now = time.monotonic()
        expired = now - self.idle_timeout
        oldest = None
        for key, idle in list(self._idle_by.items()):
            while idle and idle[0].since <= expired:
                idle.popleft().close()
            if idle:
                oldest = idle[0].since if oldest is None else min(oldest, idle[0].since)
            else:
                del self._idle_by[key]
        if oldest is not None and not self._closed:
            self._sweep_at = asyncio.get_running_loop().call_later(oldest - expired, self._sweep)

    def _forget(self, conn: _Connection) -> None:
        if conn in self._open:
            self._open.discard(conn)
            idle = self._idle_by.get(conn.key)
            if idle and conn in idle:
                idle.remove(conn)
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


_CONTEXT: _ssl.SSLContext | None = None


def _default_context() -> _ssl.SSLContext:
    """The system's trust store, hostnames checked, ALPN ``http/1.1`` (made once)."""
    global _CONTEXT
    if _CONTEXT is None:
        ctx = _ssl.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
        _CONTEXT = ctx
    return _CONTEXT

