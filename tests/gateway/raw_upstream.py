"""A raw-socket upstream for the HTTP client tests: asyncio in a daemon thread with its own loop
(like :class:`~tests.gateway.conftest.ServerThread`), each connection run by a script the test
writes (``async def script(peer: Peer) -> None``), which reads requests and writes whatever
bytes it likes: well-formed answers, pauses, a close in the middle of a body, nothing at all.

It records, per connection, exactly the bytes it received (:attr:`Peer.received`), and how many
connections were opened and were open at once (:attr:`RawUpstream.opened`,
:attr:`RawUpstream.max_open`). The connection is closed when its script returns (a script that
should let the client close first ends with ``await peer.wait_eof()``).

Nothing here measures time: a script that must outlast a client's time-out waits for the client
to go away (:meth:`Peer.wait_eof`), not for a number of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["WAIT", "Peer", "RawUpstream", "Script", "answer", "chunked", "parse_request", "per_connection", "serve",
           "wait_until", "wait_until_async"]

WAIT = 30.0
"""The longest wait for an effect (a connection seen, a close seen): generous, never a budget."""

Script = Callable[["Peer"], Awaitable[None]]


class Peer:
    """One accepted connection as its script sees it (and the test reads it afterwards)."""

    def __init__(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.index = index
        self.received = bytearray()
        """Every byte read from the client so far, in order."""
        self.requests: list[bytes] = []
        """The whole requests :meth:`read_request` read (head and body, as received)."""
        self.sent = 0
        """Bytes handed to the socket whose write returned (:meth:`send` drains)."""
        self.eof = threading.Event()
        """Set when the client closed its side (a read returned nothing, or the connection broke)."""
        self.closed = threading.Event()
        """Set when the connection is closed (the script ended, or the upstream stopped)."""
        self._reader = reader
        self._writer = writer

    async def _read(self, coro: Awaitable[bytes]) -> bytes:
        try:
            data = await coro
        except asyncio.IncompleteReadError as error:
            self.received += error.partial
            self.eof.set()
            raise
        except (ConnectionError, ssl_module.SSLError):
            self.eof.set()
            raise asyncio.IncompleteReadError(b"", None) from None
        self.received += data
        return data

    async def read_request(self) -> bytes | None:
        """The next whole request on this connection (its head, then a body framed by
        ``content-length`` or ``transfer-encoding: chunked``), or ``None`` when the client closed
        the connection before one began."""
        try:
            head = await self._read(self._reader.readuntil(b"\r\n\r\n"))
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise AssertionError(f"the client closed mid-head: {error.partial[:200]!r}") from None
            return None
        except asyncio.LimitOverrunError:
            raise AssertionError("request head too large for the test upstream") from None
        fields = {k.lower(): v for k, v in _fields(head)}
        body = b""
        if fields.get(b"transfer-encoding", b"").lower().endswith(b"chunked"):
            parts = []
            while True:
                size_line = await self._read(self._reader.readuntil(b"\r\n"))
                size = int(size_line.split(b";")[0], 16)
                parts.append(size_line)
                if size == 0:
                    while (line := await self._read(self._reader.readuntil(b"\r\n"))) != b"\r\n":
                        parts.append(line)
                    parts.append(line)
                    break
                parts.append(await self._read(self._reader.readexactly(size + 2)))
            body = b"".join(parts)
        elif b"content-length" in fields:
            body = await self._read(self._reader.readexactly(int(fields[b"content-length"])))
        self.requests.append(head + body)
        return head + body

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until the socket took it (a client that does not read
        stops a big answer here)."""
        self._writer.write(data)
        await self._writer.drain()
        self.sent += len(data)

    async def wait_eof(self) -> None:
        """Read (and record) whatever the client still sends until it closes its side."""
        try:
            while await self._read(self._reader.read(65536)):
                pass
        except asyncio.IncompleteReadError:
            pass
        self.eof.set()

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        """Close with a reset (RST) instead of an orderly close (FIN)."""
        self._writer.transport.abort()


class RawUpstream:
    """``with RawUpstream(script) as up:`` a server on 127.0.0.1 (or ``host``:``port``) running
    ``script(peer)`` for each accepted connection (``host`` may be an IPv6 literal, ``"::1"``); ``ssl``: an ``SSLContext`` to serve TLS with."""

    def __init__(self, script: Script, *, ssl: ssl_module.SSLContext | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.script = script
        self.ssl = ssl
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        scheme = "https" if ssl is not None else "http"
        default = 443 if ssl is not None else 80
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal in brackets
        self.url = f"{scheme}://{name}" + ("" if self.port == default else f":{self.port}")
        self.authority = name if self.port == default else f"{name}:{self.port}"
        self.peers: list[Peer] = []
        self.open_now = 0
        self.max_open = 0
        self.errors: list[BaseException] = []
        """Exceptions a script raised (other than the client going away): a test may check it is empty."""
        self._loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def opened(self) -> int:
        """How many connections were accepted so far."""
        return len(self.peers)

    def received(self) -> list[bytes]:
        """The bytes received on each connection, in the order they were accepted."""
        return [bytes(p.received) for p in self.peers]

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, sock=self.sock, ssl=self.ssl, limit=1 << 20)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(len(self.peers), reader, writer)
        self.peers.append(peer)
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self.script(peer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl_module.SSLError):
            peer.eof.set()  # the client went away while the script read or wrote
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # noqa: BLE001 - recorded for the test to see
            self.errors.append(error)
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()  # the socket is closed (its FIN sent) before `closed` is set
            self.open_now -= 1
            peer.closed.set()

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        if not self._ready.wait(WAIT):
            raise RuntimeError("the raw upstream did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(WAIT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self.sock.close()


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\r\n")[1:]
    return [(name, value.strip()) for name, _, value in (line.partition(b":") for line in lines if line)]


def parse_request(raw: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """A request as received: its request line, its header fields (name case and order kept,
    values without surrounding whitespace) and its body bytes (as framed on the wire)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"no whole head in {raw[:200]!r}"
    return head.split(b"\r\n", 1)[0], _fields(head + sep), body


def answer(*answers: bytes | Callable[[bytes], bytes]) -> Script:
    """A script answering the requests of one connection in turn with ``answers`` (bytes, or a
    function of the request giving them), then waiting for the client to close."""

    async def script(peer: Peer) -> None:
        for reply in answers:
            request = await peer.read_request()
            if request is None:
                return
            await peer.send(reply(request) if callable(reply) else reply)
        await peer.wait_eof()

    return script


def serve(reply: bytes | Callable[[bytes], bytes]) -> Script:
    """A keep-alive script: every request on every connection gets ``reply`` until the client closes."""

    async def script(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            await peer.send(reply(request) if callable(reply) else reply)

    return script


def per_connection(*scripts: Script) -> Script:
    """The i-th connection runs ``scripts[i]`` (the last one for every later connection)."""

    async def script(peer: Peer) -> None:
        await scripts[min(peer.index, len(scripts) - 1)](peer)

    return script


def wait_until(check: Callable[[], Any], timeout: float = WAIT) -> bool:
    """Poll ``check`` until it is true (or ``timeout`` passed); its last truth value."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


async def wait_until_async(check: Callable[[], Any], timeout: float = WAIT) -> bool:
    """:func:`wait_until` for a coroutine: the loop keeps running while it polls."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def chunked(pieces: Iterable[bytes]) -> bytes:
    """``pieces`` as a chunked body (each a chunk, empty ones skipped, then the last chunk)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"
