"""The gateway's HTTP/1.1 client to its upstreams: asyncio connections, httptools' parser
(llhttp, the parser of uvicorn's own fast path) and a connection pool, nothing per request
that a proxy does not need (see docs/decisions.md "The upstream client").

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
import base64
import re
import socket
import ssl as _ssl
import time
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohappyeyeballs
import httptools

from .._version import __version__

__all__ = ["HIGH_WATER", "MAX_HEAD", "ConnectTimeout", "HttpClient", "Response", "UpstreamError"]

MAX_HEAD = 256 * 1024
"""Bytes of an answer's status line and headers read at most (aiohttp allows 8190 per line)."""
HIGH_WATER = 256 * 1024
"""Bytes of an answer's body buffered for a reader that has not taken them before the
connection stops reading (it reads again once they are taken)."""

_USER_AGENT = f"aigw-policy/{__version__}".encode()
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_NAMES = re.compile(_TOKEN + rb"(?:\n" + _TOKEN + rb")*")
_METHOD = re.compile(_TOKEN)
_VALUE_BAD = re.compile(rb"[\x00\r]")
_TARGET_BAD = re.compile(rb"[\x00-\x20\x7f]")
_OWS = (b" ", b"\t")
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_VERSIONS = frozenset({"1.1", "1.0"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_ORIGINS = 1024
_SMALL = 1024  # body pieces this short are gathered while they wait for the reader


class UpstreamError(Exception):
    """The upstream could not be reached, closed or broke the connection before the answer's
    end, or answered with something that is not HTTP/1.x."""


class ConnectTimeout(TimeoutError):
    """No connection within ``connect_timeout``: to the router, a connection failure (docs/routing.md)."""


class _Origin:
    """Where a URL's requests go: the pool key, the socket's address, TLS, the ``host`` header."""

    __slots__ = ("key", "host", "port", "tls", "host_header", "auth")

    def __init__(self, scheme: str, authority: str) -> None:
        shown = f"{scheme}://{authority.rpartition('@')[2]}"  # never the userinfo's password in an error
        try:
            parts = urlsplit(f"{scheme}://{authority}")
        except ValueError as error:  # `[::1` (urllib's message holds no userinfo)
            raise UpstreamError(f"not an http(s) URL: `{shown}` ({error})") from None
        if scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"not an http(s) URL: `{shown}`")
        try:
            port = parts.port
        except ValueError as error:
            raise UpstreamError(f"not an http(s) URL: {error}") from None
        self.tls = scheme == "https"
        self.host = parts.hostname
        default = 443 if self.tls else 80
        self.port = port if port is not None else default
        self.key = (scheme, self.host, self.port)
        host = f"[{self.host}]" if ":" in self.host else self.host
        if port is not None and port != default:
            host = f"{host}:{port}"
        self.host_header = host.encode("idna") if not host.isascii() else host.encode()
        self.auth = None
        if parts.username is not None:  # http://user:pass@host: Basic credentials, as aiohttp sends them
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.auth = b"Basic " + base64.b64encode(pair)


class Response:
    """An answer whose head has arrived: ``status``, ``raw_headers`` (as received, order and
    case kept) and its body by :meth:`chunk`. :meth:`release` (read to its end: the
    connection goes back to the pool) or :meth:`close` it."""

    __slots__ = ("status", "raw_headers", "_conn", "_pieces", "_buffered", "_done", "_error", "_waiter",
                 "_read_timeout", "_head", "_head_bytes", "_framed", "_no_body", "_reusable", "_interim", "_loop")

    def __init__(self, conn: _Connection, read_timeout: float | None, no_body: bool,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.status = 0
        self._loop = loop  # its waits' (asked once per request: get_running_loop() is a getpid system call)
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._conn: _Connection | None = conn
        self._pieces: deque[bytes | bytearray] = deque()  # bytearray: small pieces gathered
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._read_timeout = read_timeout
        self._head = False
        self._head_bytes = 0
        self._framed = False  # Content-Length or Transfer-Encoding: the body does not end at the close
        self._no_body = no_body  # an answer to HEAD
        self._reusable = False
        self._interim = False

    def wait_at_most(self, seconds: float | None) -> None:
        """From now on, wait at most ``seconds`` for each read of the body (None: forever)."""
        self._read_timeout = seconds

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), ``None`` when absent."""
        want = name.lower().encode()
        for k, v in self.raw_headers:
            if k.lower() == want:
                return v.decode("latin-1")
        return None

    @property
    def at_eof(self) -> bool:
        """Whether the body was read to its end."""
        return self._done and not self._pieces

    async def chunk(self) -> bytes:
        """What arrived of the body since the last call (waiting for something), ``b""`` at
        its end. :class:`TimeoutError` when nothing arrives for the read time-out,
        :class:`UpstreamError` when the connection breaks first."""
        if not self._pieces:
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            await self._wait()
            if not self._pieces:
                if self._error is not None:
                    raise self._error
                return b""
        pieces = self._pieces
        piece = pieces.popleft() if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        data = piece if type(piece) is bytes else bytes(piece)  # a bytearray: small pieces gathered by on_body
        if self._buffered > HIGH_WATER and self._conn is not None:
            self._conn.resume()
        self._buffered = 0
        return data

    def release(self) -> None:
        """Let the answer go: its connection back to the pool when it was read to its end and
        the upstream keeps it open, else closed."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._done and self._reusable and self._error is None:
                conn.idle()
            else:
                conn.close()

    def close(self) -> None:
        """Let the answer go and close its connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def _wait(self) -> None:
        loop = self._loop
        waiter = self._waiter = loop.create_future()
        timer = None if self._read_timeout is None else loop.call_later(self._read_timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if not self._done and self._error is None:
            self._error = error
            self._wake()

    # httptools' callbacks (through the connection)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._done:
            raise UpstreamError("the upstream sent more than its answer")
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD:
            raise UpstreamError(f"the answer's head is longer than {MAX_HEAD} bytes")
        if self._head:  # a chunked body's trailer: not a header of the answer (aiohttp drops them too)
            return
        if value[-1:] in _OWS:  # llhttp strips the leading whitespace only (RFC 9110 §5.5: both)
            value = value.rstrip(b" \t")
        self.raw_headers.append((name, value))
        if len(name) in (14, 17):
            lower = name.lower()
            if lower == b"content-length" or (lower == b"transfer-encoding" and value.lower().endswith(b"chunked")):
                self._framed = True

    def on_headers_complete(self, conn: _Connection) -> None:
        if self._done:
            raise UpstreamError("the upstream sent more than its answer")
        status = conn.parser.get_status_code()
        if status == 101:
            raise UpstreamError("the upstream switched protocols")
        if conn.parser.get_http_version() not in _VERSIONS:  # llhttp takes any major version
            raise UpstreamError(f"the upstream answered in HTTP/{conn.parser.get_http_version()}")
        if 100 <= status < 200:  # interim (101 refused above): the answer proper follows
            self._head_bytes += 17  # its status line and blank line, at least: endless 1xx heads are bounded too
            if self._head_bytes > MAX_HEAD:
                raise UpstreamError(f"the answer's head is longer than {MAX_HEAD} bytes (with its interim answers)")
            self.raw_headers = []
            self._framed = False
            self._interim = True
            return
        self.status = status
        self._head = True
        if self._no_body:  # an answer to HEAD: its announced body (a length, chunks) never comes
            self._done = True
            self._reusable = _keeps_alive(conn.parser.get_http_version(), self.raw_headers)
            conn.renew()  # llhttp would wait for that body: the next answer gets a parser of its own
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._done:  # a body after a HEAD answer's head
            raise UpstreamError("the upstream sent more than its answer")
        pieces = self._pieces
        if len(pieces) < 64 or len(body) > _SMALL:
            pieces.append(body)
        else:  # many small pieces wait for a reader: gathered, a bytes object each would hold ~40x their size
            last = pieces[-1]
            if type(last) is bytearray and len(last) < _SMALL * 4:
                last += body
            else:
                pieces.append(bytearray(body))
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def on_message_complete(self, conn: _Connection) -> None:
        if self._interim:
            self._interim = False
            return
        if not self._done:
            self._done = True
            self._reusable = conn.parser.should_keep_alive()
            conn.answered()
            self._wake()

    def on_lost(self, error: BaseException | None) -> None:
        if self._done or self._error is not None:
            return
        if self._head and not self._framed and not self._interim:  # read to the close: this is its end
            self._done = True
            self._wake()
            return
        where = "its answer's end" if self._head else "answering"
        cause = f" ({type(error).__name__}: {error})" if error is not None else ""
        self._fail(UpstreamError(f"the upstream closed the connection before {where}{cause}"))


def _keeps_alive(version: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an answer's connection stays open after it (RFC 9112 §9.3): HTTP/1.1 unless
    ``Connection`` says ``close``, HTTP/1.0 only if it says ``keep-alive``; for an answer with
    no body, where llhttp's own test (which also asks how the body ends) does not apply."""
    tokens = {t.strip().lower() for k, v in headers if k.lower() == b"connection" for t in v.split(b",")}
    if version == "1.1":
        return b"close" not in tokens
    return b"keep-alive" in tokens and b"close" not in tokens


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("the upstream sent nothing within the read time-out"))


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
        self._origins: dict[str, _Origin] = {}
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
        origin, target = self._split(url)
        head = _head(method, target, origin, headers, body)
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

    def _split(self, url: str) -> tuple[_Origin, bytes]:
        scheme, sep, rest = url.partition("://")
        if not sep:
            first, slash, rest = url[:200].partition("/")
            raise UpstreamError(f"not an absolute URL: `{first.rpartition('@')[2]}{slash}{rest}`")
        cut = len(rest)
        for mark in "/?#":
            i = rest.find(mark)
            if 0 <= i < cut:
                cut = i
        authority, target = rest[:cut], rest[cut:]
        if target.startswith("#"):
            target = ""
        target = target.partition("#")[0]
        if not target.startswith("/"):
            target = "/" + target
        origin = self._origins.get(scheme + "://" + authority)
        if origin is None:
            origin = _Origin(scheme.lower(), authority)
            if len(self._origins) >= _MAX_ORIGINS:
                self._origins.clear()
            self._origins[scheme + "://" + authority] = origin
        try:  # a raw path read as latin-1 goes out as it came
            raw = target.encode("latin-1")
        except UnicodeEncodeError:
            raw = target.encode("utf-8")
        if _TARGET_BAD.search(raw):
            raise ValueError("the request target has a space or a control character")
        return origin, raw

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

    async def _acquire(self, origin: _Origin, timeout: float | None, wait: float | None) -> _Connection:
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

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
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


def _head(method: str, target: bytes, origin: _Origin, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """The request's line and header block, every name and value checked."""
    names = b"\n".join([k for k, _ in headers])
    if headers and (not _NAMES.fullmatch(names) or names.count(b"\n") != len(headers) - 1):
        raise ValueError("a request header's name is not an HTTP token")
    values = b"\n".join([v for _, v in headers])
    if _VALUE_BAD.search(values) or values.count(b"\n") != max(len(headers) - 1, 0):
        raise ValueError("a request header's value has CR, LF or NUL")
    if not _METHOD.fullmatch(method.encode("latin-1", "replace")):
        raise ValueError(f"not an HTTP method: `{method[:40]}`")
    lines = [b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (method.encode(), target, origin.host_header)]
    lower = b"\n" + names.lower() + b"\n"
    if b"\nhost\n" in lower or b"\ncontent-length\n" in lower or b"\ntransfer-encoding\n" in lower:
        raise ValueError("`host`, `content-length` and `transfer-encoding` are the client's to write")
    lines += [k + b": " + v + b"\r\n" for k, v in headers]
    if b"\nuser-agent\n" not in lower:
        lines.append(b"user-agent: " + _USER_AGENT + b"\r\n")
    if origin.auth is not None and b"\nauthorization\n" not in lower:
        lines.append(b"authorization: " + origin.auth + b"\r\n")
    if body or method in _BODY_METHODS:
        lines.append(b"content-length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    return b"".join(lines)
