"""An upstream's answer as the gateway's HTTP/1.1 client reads it (``gateway/http_client.py``
holds the connections and the pool): its head bounded, its body framed by llhttp and taken
piece by piece with a time-out between two reads, and the errors a reader is given."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .http_client import _Connection

__all__ = ["HIGH_WATER", "MAX_FIELDS", "MAX_HEAD", "ConnectTimeout", "Response", "UpstreamError", "keeps_alive"]

MAX_HEAD = 64 * 1024
"""Bytes of an answer's status line and headers read at most (aiohttp allows 8190 per line):
the bound the gateway sets on its clients' heads (``server.MAX_HEAD_BYTES``), near Envoy's
60 KiB. A larger head is a broken answer (502, or a failed attempt), not one to pass on: the
SDKs' own parsers refuse it (Node's 16 KiB, httpx's 100 KiB), an opaque error to the client.
serve25: it was 256 KiB, and a 200 KiB header went through."""
MAX_FIELDS = 100
"""Header fields of an answer read at most (aiohttp takes 128, Envoy 100): Python's
``http.client`` (urllib, requests) refuses an answer of more than 100."""
HIGH_WATER = 256 * 1024
"""Bytes of an answer's body buffered for a reader that has not taken them before the
connection stops reading (it reads again once they are taken)."""

_OWS = (b" ", b"\t")
_NO_CODING = frozenset((b"chunked", b"identity", b""))
"""The transfer codings of an answer the gateway passes on: the chunking (llhttp undoes it) and
none. ``Transfer-Encoding: gzip, chunked`` had llhttp undo the chunks only, and the gzip bytes
went to the client unlabelled (``transfer-encoding`` is hop-by-hop, and no
``content-encoding`` said what they were), past the key scrubber and the usage reader, which
read text: an error body quoting the upstream key reached the client, compressed (serve30)."""
_VERSIONS = frozenset({"1.1", "1.0"})
_SMALL = 1024  # body pieces this short are gathered while they wait for the reader


class UpstreamError(Exception):
    """The upstream could not be reached, closed or broke the connection before the answer's
    end, or answered with something that is not HTTP/1.x."""


class ConnectTimeout(TimeoutError):
    """No connection within ``connect_timeout``: to the router, a connection failure (docs/routing.md)."""


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
        """The value of header ``name`` (any case), ``None`` when absent; the values of several
        fields of that name joined by ``, ``, as RFC 9110 §5.3 combines them and the client
        reads them. Two ``content-encoding: gzip`` fields were read as one ``gzip`` (the first):
        the body was decoded once and its inner gzip went to the client unlabelled, past the key
        scrubber (serve30)."""
        want = name.lower().encode()
        found = [v for k, v in self.raw_headers if k.lower() == want]
        return b", ".join(found).decode("latin-1") if found else None

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
        return self._take()

    def arrived(self, limit: int) -> bytes | None:
        """The rest of the body when all of it has arrived and it is at most ``limit`` bytes
        (taken, as :meth:`chunk` takes it, without a wait), else None (nothing taken)."""
        if not self._done or self._error is not None or self._buffered > limit:
            return None
        return self._take()

    def _take(self) -> bytes:
        """What is buffered, taken (reading resumes if it had stopped for it)."""
        pieces = self._pieces
        piece = b"" if not pieces else pieces.popleft() if len(pieces) == 1 else b"".join(pieces)
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
        if len(self.raw_headers) >= MAX_FIELDS:
            raise UpstreamError(f"the answer has more than {MAX_FIELDS} header fields")
        if value[-1:] in _OWS:  # llhttp strips the leading whitespace only (RFC 9110 §5.5: both)
            value = value.rstrip(b" \t")
        self.raw_headers.append((name, value))
        if len(name) in (14, 17):
            lower = name.lower()
            if lower == b"content-length":
                self._framed = True
            elif lower == b"transfer-encoding":
                coded = value.lower()
                if coded != b"chunked" and any(c.strip() not in _NO_CODING for c in coded.split(b",")):
                    raise UpstreamError(f"the answer has a transfer coding the gateway does not undo "
                                        f"(`{coded[:40].decode('latin-1')}`)")
                self._framed = coded.endswith(b"chunked")

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
            self._reusable = keeps_alive(conn.parser.get_http_version(), self.raw_headers)
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



def keeps_alive(version: str, headers: list[tuple[bytes, bytes]]) -> bool:
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

