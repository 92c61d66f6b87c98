"""``serve``'s protocol writes an answer's head with the first piece of its body
(:class:`~aigw_policy.gateway.server.HeadWithBody`): the bytes a client receives are the
ones uvicorn's own httptools protocol sends, for whole, streamed, empty, HEAD, 100-continue,
failing and pipelined exchanges; only the number of writes changes."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest

from .conftest import ServerThread, lifespan

pytest.importorskip("httptools")


class App:
    """Answers by path: /whole, /stream (three pieces, a pause between), /empty, /fail."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        path = scope["path"]
        if path == "/fail":
            raise RuntimeError("the app failed")
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            for i in range(3):
                await send({"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": True})
                await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        data = b"" if path == "/empty" else b'{"echo": %d}' % len(body)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data, "more_body": False})


def exchange(port: int, raw: bytes, *, pause_after: bytes | None = None) -> bytes:
    """Send ``raw`` (the part after ``pause_after`` once the server answered 100), read until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if pause_after is not None:
            head, rest = raw.split(pause_after, 1)
            s.sendall(head + pause_after)
            got = s.recv(65536)
            s.sendall(rest)
        else:
            got = b""
            s.sendall(raw)
        s.settimeout(10)
        chunks = [got]
        while True:
            try:
                piece = s.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            chunks.append(piece)
        return re.sub(rb"date: [^\r]*\r\n", b"", b"".join(chunks))


REQUESTS = [
    b"GET /whole HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    b"POST /whole HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
    b"GET /stream HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    b"GET /empty HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    b"HEAD /whole HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    b"GET /fail HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    b"GET /whole HTTP/1.1\r\nhost: x\r\n\r\nGET /stream HTTP/1.1\r\nhost: x\r\n\r\nGET /empty HTTP/1.1\r\nhost: x\r\n"
    b"connection: close\r\n\r\n",
]


def test_the_same_bytes_as_uvicorns_protocol() -> None:
    from aigw_policy.gateway.server import header_timeout_protocol

    with ServerThread(App(), http="httptools") as plain, ServerThread(App(), http=header_timeout_protocol(10)) as ours:
        for raw in REQUESTS:
            assert exchange(ours.port, raw) == exchange(plain.port, raw), raw
        expect = (b"POST /whole HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n"
                  b"connection: close\r\n\r\nhello")
        got = exchange(ours.port, expect, pause_after=b"\r\n\r\n")
        assert got == exchange(plain.port, expect, pause_after=b"\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, pieces: Any) -> None:
        self.writes.append(b"".join(pieces))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_one_write_for_a_whole_answer() -> None:
    from aigw_policy.gateway.server import HeadWithBody

    async def run() -> None:
        loop = asyncio.get_running_loop()
        t = Transport()
        w = HeadWithBody(t, loop)
        w.write(b"HEAD")
        w.write(b"BODY")
        w.write(b"MORE")
        assert t.writes == [b"HEADBODY", b"MORE"]
        await asyncio.sleep(0)
        assert t.writes == [b"HEADBODY", b"MORE"]

        t = Transport()
        w = HeadWithBody(t, loop)
        w.write(b"HEAD")  # a stream: the head leaves at the end of the step
        assert t.writes == []
        await asyncio.sleep(0)
        assert t.writes == [b"HEAD"]
        w.write(b"chunk")
        assert t.writes == [b"HEAD", b"chunk"]

        t = Transport()
        w = HeadWithBody(t, loop)
        w.write(b"HEAD")
        w.close()  # held bytes go before the close
        assert t.writes == [b"HEAD"] and t.closed
        await asyncio.sleep(0)
        assert t.writes == [b"HEAD"] and w.is_closing()

    asyncio.run(run())


def test_a_held_head_is_not_written_to_a_closed_transport() -> None:
    from aigw_policy.gateway.server import HeadWithBody

    async def run() -> None:
        t = Transport()
        w = HeadWithBody(t, asyncio.get_running_loop())
        w.write(b"HEAD")
        t.closed = True  # the client went away in the meantime
        await asyncio.sleep(0)
        assert t.writes == []

    asyncio.run(run())


class ClosedTransport(Transport):
    """As uvloop's: a write once its handle is closed raises (asyncio's would drop it)."""

    def write(self, data: bytes) -> None:
        if self.closed:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")
        super().write(data)

    def writelines(self, pieces: Any) -> None:
        if self.closed:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")
        super().writelines(pieces)


@pytest.mark.parametrize("closed_after", [0, 1, 2])
def test_a_write_after_the_connection_closed_is_dropped(closed_after: int) -> None:
    """The client's EOF closes the transport before connection_lost tells the request cycle: a
    body written then is nobody's. It raised, and the exchange logged "the gateway failed" with
    a traceback, then uvicorn's "Exception in ASGI application" (a client that half-closes
    after pipelining could fill the log so)."""
    from aigw_policy.gateway.server import HeadWithBody

    async def run() -> None:
        t = ClosedTransport()
        w = HeadWithBody(t, asyncio.get_running_loop())
        pieces = [b"HEAD", b"BODY", b"MORE"]
        for i, piece in enumerate(pieces):
            if i == closed_after:
                t.closed = True
            w.write(piece)
        await asyncio.sleep(0)
        assert t.writes == ([] if closed_after < 2 else [b"HEADBODY"])

    asyncio.run(run())

