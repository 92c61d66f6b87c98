"""The gateway's lean upstream client (``aigw_policy.gateway.http_client``) against aiohttp, the
client it replaces: the same scenarios run against both (a differential oracle,
tests/gateway/aiohttp_client.py) on a raw-socket upstream that scripts every byte
(tests/gateway/raw_upstream.py), comparing status, raw headers, body bytes, error class and the
bytes the upstream received; then the lean client's own limits (a huge head, backpressure).

Where the two legitimately differ, :data:`DOCUMENTED` says what each one does and the tests
assert exactly that (one place to change when a choice changes). ``lean`` is skipped, with the
reason, while the module cannot be imported.

No test measures time: a short ``read_timeout`` only makes a time-out happen, and every wait
for an effect is bounded generously (raw_upstream.WAIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .aiohttp_client import AiohttpClient
from .aiohttp_client import UpstreamError as AiohttpUpstreamError
from .raw_upstream import (
    WAIT,
    Peer,
    RawUpstream,
    Script,
    chunked,
    parse_request,
    per_connection,
    serve,
    wait_until_async,
)

KINDS = ["aiohttp", "lean"]
POST_METHODS = {"POST", "PUT", "PATCH"}

DOCUMENTED: dict[str, dict[str, Any]] = {
    # the user-agent sent when the caller gives none
    "user_agent": {"aiohttp": r"Python/3\.\d+ aiohttp/\d+\.\d+\.\d+", "lean": r"aigw-policy/\S+"},
    # headers a client adds besides those given (lowercased names); aiohttp adds its default
    # `Accept-Encoding` when none is given and `Content-Type: application/octet-stream` on
    # every request whose body is bytes (the proxy passes `data=bytes(body)`, empty or not)
    "added": {"aiohttp": {"host", "user-agent", "content-length", "accept-encoding", "content-type"},
              "lean": {"host", "user-agent", "content-length"}},
    # `content-length: 0` on a GET without a body (aiohttp: any bytes body is framed)
    "length_on_empty_get": {"aiohttp": True, "lean": False},
    # a header value's bytes that are not UTF-8 (obs-text, here latin-1 `é`): aiohttp takes
    # str, the proxy decodes them as latin-1 (wire_text) and aiohttp sends UTF-8
    "obs_text_sent_as": {"aiohttp": "\u00e9".encode(), "lean": b"\xe9"},
    # repeated request header names in different case: aiohttp's session keeps each name's
    # values from its last change of case on (ClientSession._prepare_headers); `None`: as given
    "mixed_case_repeats": {"aiohttp": ("/r", [(b"X-Dup", b"2"), (b"x-dup", b"3")]), "lean": None},
    # a URL ending in an empty query (`/q?`): yarl drops the `?`; `None`: as given
    "empty_query": {"aiohttp": ("/q", []), "lean": None},
    # a request header name that is not a token (`x:a`, `x a`): refused, or sent as given
    "bad_name_refused": {"aiohttp": False, "lean": True},
    # a GET whose fresh connection closes before the head is tried once more on a new one
    # (aiohttp retries idempotent methods once, RFC 9112 §9.3.1); a POST never is
    "retries_idempotent": {"aiohttp": True, "lean": True},
    # the status a `HTTP/1.1 999 ...` answer gives (the proxy answers 502 for any status
    # outside 100-599 itself); `None`: UpstreamError
    "status_999": {"aiohttp": 999, "lean": 999},
    # an answer whose status line says `HTTP/2.0`: its status, or `None` for UpstreamError
    # (llhttp and aiohttp's parser both take any single-digit major version)
    "http2_status_line": {"aiohttp": 200, "lean": None},
    # most header fields an answer may have (aiohttp: `max_headers=128`; the lean client:
    # http_answer.MAX_FIELDS, what Python's http.client and Envoy take, serve25)
    "max_header_fields": {"aiohttp": 128, "lean": 100},
    # longest header line (aiohttp: `max_field_size=8190`); `None`: only the head's size
    "max_header_line": {"aiohttp": 8190, "lean": None},
    # most bytes in an answer's head (http_client.MAX_HEAD); `None`: only per line and count
    "max_head": {"aiohttp": None, "lean": 64 << 10},
    # the connection is reused after an answer to HEAD with `content-length` and no body
    "reuses_after_head": {"aiohttp": True, "lean": True},
}


def lean_import_error() -> str | None:
    try:
        import aigw_policy.gateway.http_client  # noqa: F401
    except ImportError as error:
        return f"aigw_policy.gateway.http_client cannot be imported yet ({error})"
    return None


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "lean" and (reason := lean_import_error()) is not None:
        pytest.skip(reason)
    return request.param


def make_client(kind: str, **options: Any) -> Any:
    """A client of ``kind`` (inside a running loop: aiohttp's session wants one)."""
    if kind == "aiohttp":
        return AiohttpClient(**options)
    from aigw_policy.gateway.http_client import HttpClient

    return HttpClient(**options)


def upstream_error(kind: str) -> type[Exception]:
    if kind == "aiohttp":
        return AiohttpUpstreamError
    from aigw_policy.gateway.http_client import UpstreamError

    return UpstreamError


@dataclass
class Got:
    """What a client made of one exchange: the answer, or the class of its error."""

    status: int | None = None
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None


def error_name(kind: str, error: BaseException) -> str:
    """``UpstreamError``, ``TimeoutError`` or ``ValueError`` (anything else is a test failure)."""
    for cls in (upstream_error(kind), TimeoutError, ValueError):
        if isinstance(error, cls):
            return cls.__name__
    raise error


async def read_body(response: Any) -> bytes:
    body = bytearray()
    while piece := await response.chunk():
        body += piece
    return bytes(body)


async def fetch(kind: str, client: Any, url: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None,
                body: bytes = b"", read_timeout: float | None = 10.0, **options: Any) -> Got:
    """One whole exchange: request, body read to its end, released; or the error's class."""
    try:
        response = await client.request(method, url, headers or [], body, read_timeout=read_timeout, **options)
    except Exception as error:  # noqa: BLE001 - classified
        return Got(error=error_name(kind, error))
    got = Got(status=response.status, raw_headers=list(response.raw_headers))
    try:
        got.body = await read_body(response)
        assert response.at_eof
    except Exception as error:  # noqa: BLE001 - classified
        got.error = error_name(kind, error)
        response.close()
        return got
    response.release()
    return got


@contextlib.asynccontextmanager
async def upstream_and_client(kind: str, script: Script, *, tls: ssl.SSLContext | None = None,
                              **options: Any) -> AsyncIterator[tuple[RawUpstream, Any]]:
    with RawUpstream(script, ssl=tls) as up:
        client = make_client(kind, **options)
        try:
            yield up, client
        finally:
            await client.close()
        assert not up.errors, up.errors


def head_fields(answer: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The status and header fields of an answer's final head (interim 1xx heads skipped),
    each value without surrounding spaces and tabs (RFC 9110 §5.5)."""
    at = 0
    while True:
        end = answer.index(b"\r\n\r\n", at)
        lines = answer[at:end].split(b"\r\n")
        at = end + 4
        status = int(lines[0].split(b" ")[1])
        if not 100 <= status < 200:
            return status, [(k, v.strip(b" \t")) for k, _, v in (line.partition(b":") for line in lines[1:])]


def answer_then_close(reply: bytes) -> Script:
    """Read one request, answer ``reply``, close."""

    async def script(peer: Peer) -> None:
        if await peer.read_request() is not None:
            await peer.send(reply)

    return script


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- answers -----------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    answer: bytes
    body: bytes
    reuse: bool = True
    """The connection serves the next request (else the client opens a new one)."""
    closes: bool = False
    """The upstream closes the connection after answering (the body ends at the close)."""


CASES = [
    Case("content-length",
         b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Mixed-CASE: Yes\r\nContent-Length: 11\r\n\r\nhello world",
         b"hello world"),
    Case("chunked",
         b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
         b"5;name=val\r\nhello\r\n1\r\n \r\nA;a=b;c\r\nworld, etc\r\n0\r\nX-Sum: 42\r\nX-More: 1\r\n\r\n",
         b"hello world, etc"),
    Case("read-to-close", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close", b"until the close",
         reuse=False, closes=True),
    Case("empty-200", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b""),
    Case("204", b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", b""),
    Case("304-with-length", b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n', b""),
    Case("100-and-103-first",
         b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
         b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
    Case("status-599", b"HTTP/1.1 599 Odd\r\nContent-Length: 4\r\n\r\nodd!", b"odd!"),
    Case("no-reason-phrase", b"HTTP/1.1 201 \r\nContent-Length: 1\r\n\r\n!", b"!"),
    Case("http/1.0-length", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", reuse=False),
    Case("http/1.0-to-close", b"HTTP/1.0 200 OK\r\n\r\nold style", b"old style", reuse=False, closes=True),
    Case("http/1.0-keep-alive", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
         b"hello"),
    Case("connection-close", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", b"hello",
         reuse=False),
    Case("spaces-around-values",
         b"HTTP/1.1 200 OK\r\nX-Pad:   padded value \t\r\nX-Empty:\r\nX-Tab:\tt\r\nContent-Length: 2\r\n\r\nok", b"ok"),
    Case("repeated-names",
         b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nx-b: 2\r\nset-cookie: c=3\r\nContent-Length: 2\r\n\r\nok", b"ok"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_answer(kind: str, case: Case) -> None:
    """Two requests in turn: each gets the answer's status, raw headers and body; the second
    rides the first's connection exactly when the answer lets it."""
    script = answer_then_close(case.answer) if case.closes else serve(case.answer)

    async def go() -> None:
        async with upstream_and_client(kind, script) as (up, client):
            first = await fetch(kind, client, up.url + "/one")
            second = await fetch(kind, client, up.url + "/two")
            status, fields = head_fields(case.answer)
            assert first == second == Got(status, fields, case.body)
            assert up.opened == (1 if case.reuse else 2)
            assert [len(p.requests) for p in up.peers] == ([2] if case.reuse else [1, 1])
            if not case.reuse and not case.closes:  # the client closed the connection it could not reuse
                assert await wait_until_async(up.peers[0].eof.is_set)

    run(go())


def test_head_with_content_length(kind: str) -> None:
    """An answer to HEAD announces a length and has no body: nothing is waited for, and the
    next request gets its own answer."""
    async def script(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.startswith(b"HEAD "):
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n")
            else:
                await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget")

    async def go() -> None:
        async with upstream_and_client(kind, script) as (up, client):
            head = await fetch(kind, client, up.url + "/", "HEAD", read_timeout=5.0)
            assert head == Got(200, [(b"Content-Length", b"1234"), (b"Content-Type", b"text/plain")], b"")
            after = await fetch(kind, client, up.url + "/", read_timeout=5.0)
            assert after == Got(200, [(b"Content-Length", b"3")], b"get")
            assert up.opened == (1 if DOCUMENTED["reuses_after_head"][kind] else 2)

    run(go())


@pytest.mark.parametrize("status", [b"999", b"1000", b"099", b"99"])
def test_status_outside_http(kind: str, status: bytes) -> None:
    """A three-digit status outside 100-599 passes (the proxy answers 502 for it itself) as
    :data:`DOCUMENTED` says; one of two or four digits is no HTTP/1.x answer."""
    reply = b"HTTP/1.1 %s Odd\r\nContent-Length: 2\r\n\r\nok" % status

    async def go() -> Got:
        async with upstream_and_client(kind, serve(reply)) as (up, client):
            return await fetch(kind, client, up.url + "/")

    got = run(go())
    expected = {b"999": DOCUMENTED["status_999"][kind], b"1000": None, b"099": 99, b"99": None}[status]
    if expected is None:
        assert got == Got(error="UpstreamError")
    else:
        assert got == Got(expected, [(b"Content-Length", b"2")], b"ok")


def test_http2_status_line(kind: str) -> None:
    reply = b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async def go() -> Got:
        async with upstream_and_client(kind, serve(reply)) as (up, client):
            return await fetch(kind, client, up.url + "/")

    expected = DOCUMENTED["http2_status_line"][kind]
    assert run(go()) == (Got(error="UpstreamError") if expected is None else Got(expected, [(b"Content-Length", b"2")], b"ok"))


# -- keep-alive ---------------------------------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
OK_GOT = Got(200, [(b"Content-Length", b"2")], b"ok")


def test_idle_connection_closed_by_the_upstream_is_not_reused(kind: str) -> None:
    """The upstream closes a kept-alive connection while it is idle: the next request (a POST,
    which no client retries) goes on a new connection."""
    async def go() -> None:
        async with upstream_and_client(kind, answer_then_close(OK)) as (up, client):
            assert await fetch(kind, client, up.url + "/", "POST", body=b"1") == OK_GOT
            assert await wait_until_async(up.peers[0].closed.is_set)
            await asyncio.sleep(0.05)  # the client's loop runs and sees the close (no time asserted)
            assert await fetch(kind, client, up.url + "/", "POST", body=b"2") == OK_GOT
            assert up.opened == 2

    run(go())


def test_idle_timeout_closes_the_connection(kind: str) -> None:
    async def go() -> None:
        async with upstream_and_client(kind, serve(OK), idle_timeout=0.1) as (up, client):
            assert await fetch(kind, client, up.url + "/") == OK_GOT
            await asyncio.sleep(0.4)  # longer than idle_timeout: the connection is not used again
            assert await fetch(kind, client, up.url + "/") == OK_GOT
            assert up.opened == 2
            assert await wait_until_async(up.peers[0].eof.is_set)

    run(go())


def test_released_before_its_end_closes_the_connection(kind: str) -> None:
    async def partial(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst half")
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client(kind, per_connection(partial, serve(OK))) as (up, client):
            response = await client.request("GET", up.url + "/", [], b"", read_timeout=10.0)
            assert await response.chunk() == b"first half"
            assert not response.at_eof
            response.release()
            assert await wait_until_async(up.peers[0].eof.is_set)
            assert await fetch(kind, client, up.url + "/") == OK_GOT
            assert up.opened == 2

    run(go())


# -- errors -------------------------------------------------------------------------------------

def test_nothing_listening(kind: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]  # bound, not listening: the connection is refused

    async def go() -> Got:
        client = make_client(kind)
        try:
            return await fetch(kind, client, f"http://127.0.0.1:{port}/", connect_timeout=5.0)
        finally:
            await client.close()

    try:
        assert run(go()) == Got(error="UpstreamError")
    finally:
        sock.close()


def test_connect_timeout(kind: str) -> None:
    """A listener whose backlog is full drops the SYN: the connection never completes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    probe = socket.socket()
    probe.settimeout(0.2)
    try:
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel completes connections past a full backlog: no connect time-out to provoke")
        except TimeoutError:
            pass
        finally:
            probe.close()

        async def go() -> Got:
            client = make_client(kind)
            try:
                return await fetch(kind, client, f"http://127.0.0.1:{port}/", connect_timeout=0.2)
            finally:
                await client.close()

        assert run(go()) == Got(error="TimeoutError")
    finally:
        for filler in fillers:
            filler.close()
        sock.close()


async def never_answers(peer: Peer) -> None:
    await peer.read_request()
    await peer.wait_eof()


def test_no_answer_within_read_timeout(kind: str) -> None:
    async def go() -> None:
        async with upstream_and_client(kind, never_answers) as (up, client):
            assert await fetch(kind, client, up.url + "/", "POST", body=b"x", read_timeout=0.2) == Got(error="TimeoutError")
            assert await wait_until_async(up.peers[0].eof.is_set)  # the connection was closed, not pooled
            assert up.opened == 1

    run(go())


async def closes_after_request(peer: Peer) -> None:
    await peer.read_request()


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_closed_before_the_head(kind: str, method: str) -> None:
    async def go() -> None:
        async with upstream_and_client(kind, closes_after_request) as (up, client):
            assert await fetch(kind, client, up.url + "/", method, body=b"x") == Got(error="UpstreamError")
            retried = method == "GET" and DOCUMENTED["retries_idempotent"][kind]
            assert up.opened == (2 if retried else 1)

    run(go())


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_kept_connection_closed_before_the_head(kind: str, method: str) -> None:
    """The upstream takes a second request on a kept connection and closes it unanswered (the
    race with its keep-alive time-out): a GET goes again on a new connection where the client
    retries idempotent methods; a POST is an error."""
    async def once_then_close(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(OK)
        await peer.read_request()

    async def go() -> None:
        async with upstream_and_client(kind, per_connection(once_then_close, serve(OK))) as (up, client):
            assert await fetch(kind, client, up.url + "/", method, body=b"1") == OK_GOT
            got = await fetch(kind, client, up.url + "/", method, body=b"2")
            retried = method == "GET" and DOCUMENTED["retries_idempotent"][kind]
            assert got == (OK_GOT if retried else Got(error="UpstreamError"))
            assert up.opened == (2 if retried else 1)

    run(go())


def test_reset_before_the_head(kind: str) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        peer.abort()

    async def go() -> None:
        async with upstream_and_client(kind, script) as (up, client):
            assert await fetch(kind, client, up.url + "/", "POST", body=b"x") == Got(error="UpstreamError")

    run(go())


def cut_after(reply: bytes, *, reset: bool = False) -> Script:
    """Answer with ``reply`` (the start of an answer) and close (or reset) the connection."""
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(reply)
        if reset:
            peer.abort()

    return script


CUTS = {  # the head, the start of the body as sent, that start as the body's bytes
    "content-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"only part of it", b"only part of it"),
    "chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n6\r\n wo", b"hello wo"),
    "chunked-no-last-chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n", b"hello"),
}


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
@pytest.mark.parametrize("name", list(CUTS))
def test_closed_mid_body(kind: str, name: str, reset: bool) -> None:
    """The head arrives whole, the body does not: (some of) the pieces that came, never the
    framing, then UpstreamError from ``chunk()``; the next request gets a new connection."""
    head, start, decoded = CUTS[name]

    async def go() -> None:
        script = per_connection(cut_after(head + start, reset=reset), serve(OK))
        async with upstream_and_client(kind, script) as (up, client):
            response = await client.request("GET", up.url + "/", [], b"", read_timeout=10.0)
            assert response.status == 200
            body = bytearray()
            with pytest.raises(upstream_error(kind)):
                while piece := await response.chunk():
                    body += piece
            assert not response.at_eof
            response.close()
            assert decoded.startswith(body)  # a reset may drop what was in flight
            assert await fetch(kind, client, up.url + "/") == OK_GOT
            assert up.opened == 2

    run(go())


@pytest.mark.parametrize("reply", [b"garbage\r\n\r\n", b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 2000 OK\r\n\r\n",
                                   b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"],
                         ids=["garbage", "ssh", "status-4-digits", "no-colon"])
def test_not_http(kind: str, reply: bytes) -> None:
    async def go() -> Got:
        async with upstream_and_client(kind, cut_after(reply)) as (up, client):
            return await fetch(kind, client, up.url + "/", "POST", body=b"x")

    assert run(go()) == Got(error="UpstreamError")


def test_pause_between_body_pieces(kind: str) -> None:
    """A body that goes quiet for longer than ``read_timeout`` after its first piece."""
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nfirst ")
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client(kind, script) as (up, client):
            response = await client.request("GET", up.url + "/", [], b"", read_timeout=0.2)
            assert await response.chunk() == b"first "
            with pytest.raises(TimeoutError):
                await response.chunk()
            response.close()
            assert await wait_until_async(up.peers[0].eof.is_set)

    run(go())


# -- cancellation ---------------------------------------------------------------------------------

def test_cancelled_while_reading_the_body(kind: str) -> None:
    """The task reading the body is cancelled (the gateway's client went away): once the
    answer is closed the upstream sees its connection closed, and it is never handed out again."""
    async def stalls(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart")
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client(kind, per_connection(stalls, serve(OK))) as (up, client):
            response = await client.request("GET", up.url + "/", [], b"", read_timeout=10.0)
            assert await response.chunk() == b"start"
            reader = asyncio.ensure_future(response.chunk())
            await asyncio.sleep(0.01)  # the reader waits for the next piece
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
            response.close()
            assert await wait_until_async(up.peers[0].eof.is_set)
            assert await fetch(kind, client, up.url + "/") == OK_GOT
            assert up.opened == 2

    run(go())


def test_cancelled_while_waiting_for_the_head(kind: str) -> None:
    async def go() -> None:
        async with upstream_and_client(kind, per_connection(never_answers, serve(OK))) as (up, client):
            waiting = asyncio.ensure_future(client.request("POST", up.url + "/", [], b"x", read_timeout=10.0))
            assert await wait_until_async(lambda: up.peers and up.peers[0].requests)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert await wait_until_async(up.peers[0].eof.is_set)
            assert await fetch(kind, client, up.url + "/", "POST", body=b"y") == OK_GOT
            assert up.opened == 2

    run(go())


# -- the pool -----------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1, 2])
def test_pool_bound(kind: str, limit: int) -> None:
    """``max_connections`` concurrent requests at most reach the upstream at once; the others wait
    and all complete."""
    async def slow_keep_alive(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            await asyncio.sleep(0.02)  # the other requests are in flight meanwhile
            tag = request.split(b" ")[1]
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(tag), tag))

    async def go() -> None:
        async with upstream_and_client(kind, slow_keep_alive, max_connections=limit) as (up, client):
            gots = await asyncio.gather(*(fetch(kind, client, up.url + f"/{i}") for i in range(5)))
            assert [g.body for g in gots] == [f"/{i}".encode() for i in range(5)]
            assert up.max_open <= limit
            assert sum(len(p.requests) for p in up.peers) == 5

    run(go())


# -- the request as sent --------------------------------------------------------------------------

def check_request(kind: str, raw: bytes, method: str, target: bytes, given: list[tuple[bytes, bytes]], body: bytes,
                  authority: str) -> None:
    """``raw`` is ``method target`` with the ``given`` headers in order and byte for byte (one
    run), the client's own headers (:data:`DOCUMENTED` ``added``) around them, and ``body``."""
    line, fields, sent_body = parse_request(raw)
    assert line == b"%s %s HTTP/1.1" % (method.encode(), target)
    n = len(given)
    at = next((i for i in range(len(fields) - n + 1) if fields[i:i + n] == given), None)
    assert at is not None, f"the given headers {given} are not sent in order in {fields}"
    added = fields[:at] + fields[at + n:]
    names = [k.lower() for k, _ in added]
    assert len(names) == len(set(names)), added
    assert set(names) <= {n.encode() for n in DOCUMENTED["added"][kind]}, added
    own = {k.lower().decode(): v for k, v in added}
    assert own["host"] == authority.encode()
    given_names = {k.lower() for k, _ in given}
    if b"user-agent" in given_names:
        assert "user-agent" not in own
    else:
        assert re.fullmatch(DOCUMENTED["user_agent"][kind], own["user-agent"].decode())
    if body or method in POST_METHODS or DOCUMENTED["length_on_empty_get"][kind]:
        assert own["content-length"] == str(len(body)).encode()
    else:
        assert "content-length" not in own
    assert sent_body == body


REQUESTS = [
    ("POST", "/v1/chat/completions", [(b"Content-Type", b"application/json"), (b"authorization", b"Bearer k"),
                                      (b"X-Mixed-Case", b"a b  c"), (b"x-last", b"")], b'{"model":"m"}'),
    ("GET", "/v1/a%2Fb?x=%20y&z=%E2%82%AC", [(b"Accept", b"*/*"), (b"accept-encoding", b"gzip, br")], b""),
    ("GET", "/p;params/%7Euser/", [(b"User-Agent", b"the caller's own/1.0")], b""),
    ("PUT", "/put", [(b"x-dup", b"1"), (b"x-dup", b"2"), (b"X-Other", b"o"), (b"x-dup", b"3")], b"\x00\x01\xff binary"),
    ("PATCH", "/empty-patch", [], b""),
    ("DELETE", "/d?only=query", [(b"x-utf8", "caf\u00e9 \u20ac".encode())], b"deleted body"),
    ("OPTIONS", "/*", [], b""),
]


@pytest.mark.parametrize("method,target,headers,body", REQUESTS, ids=[f"{r[0]} {r[1]}" for r in REQUESTS])
def test_request_bytes(kind: str, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    async def go() -> None:
        async with upstream_and_client(kind, serve(OK)) as (up, client):
            assert await fetch(kind, client, up.url + target, method, list(headers), body) == OK_GOT
            [raw] = up.peers[0].requests
            check_request(kind, raw, method, target.encode(), headers, body, up.authority)
            assert bytes(up.peers[0].received) == raw  # nothing more was sent

    run(go())


@pytest.mark.parametrize("what", ["mixed_case_repeats", "empty_query"])
def test_sent_differently(kind: str, what: str) -> None:
    """Requests aiohttp does not send as given (:data:`DOCUMENTED`)."""
    target, headers = {"mixed_case_repeats": ("/r", [(b"x-dup", b"1"), (b"X-Dup", b"2"), (b"x-dup", b"3")]),
                       "empty_query": ("/q?", [])}[what]
    sent_target, sent_headers = DOCUMENTED[what][kind] or (target, headers)

    async def go() -> None:
        async with upstream_and_client(kind, serve(OK)) as (up, client):
            assert await fetch(kind, client, up.url + target, "POST", list(headers), b"b") == OK_GOT
            [raw] = up.peers[0].requests
            check_request(kind, raw, "POST", sent_target.encode(), sent_headers, b"b", up.authority)

    run(go())


def test_big_request_body(kind: str) -> None:
    body = random.Random(8).randbytes(8 << 20)

    async def go() -> None:
        async with upstream_and_client(kind, serve(OK)) as (up, client):
            assert await fetch(kind, client, up.url + "/big", "POST", [(b"content-type", b"x/y")], body) == OK_GOT
            [raw] = up.peers[0].requests
            check_request(kind, raw, "POST", b"/big", [(b"content-type", b"x/y")], body, up.authority)

    run(go())


def test_obs_text_value(kind: str) -> None:
    async def go() -> None:
        async with upstream_and_client(kind, serve(OK)) as (up, client):
            assert await fetch(kind, client, up.url + "/", "POST", [(b"x-name", b"\xe9")], b"") == OK_GOT
            [raw] = up.peers[0].requests
            check_request(kind, raw, "POST", b"/", [(b"x-name", DOCUMENTED["obs_text_sent_as"][kind])], b"",
                          up.authority)

    run(go())


def free_port_80() -> str | None:
    """A loopback address whose port 80 this process can listen on (root, or a low
    ``ip_unprivileged_port_start``), else ``None``."""
    rng = random.Random()
    for _ in range(20):
        host = f"127.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
        with socket.socket() as sock:
            try:
                sock.bind((host, 80))
            except OSError:
                continue
            return host
    return None


@pytest.mark.parametrize("explicit", [False, True], ids=["no-port", "port-80"])
def test_host_without_the_default_port(kind: str, explicit: bool) -> None:
    host = free_port_80()
    if host is None:
        pytest.skip("cannot listen on port 80 of a loopback address here")

    async def go() -> None:
        with RawUpstream(serve(OK), host=host, port=80) as up:
            client = make_client(kind)
            try:
                url = f"http://{host}:80/x" if explicit else f"http://{host}/x"
                assert await fetch(kind, client, url, "POST", [], b"b") == OK_GOT
            finally:
                await client.close()
            [raw] = up.peers[0].requests
            check_request(kind, raw, "POST", b"/x", [], b"b", host)

    run(go())


INJECTIONS = [
    ("value-crlf", (b"x-a", b"v\r\nx-evil: 1"), True),
    ("value-lf", (b"x-a", b"v\nx-evil: 1"), True),
    ("value-cr", (b"x-a", b"v\rx-evil: 1"), True),
    ("value-nul", (b"x-a", b"v\x00x-evil"), True),
    ("name-crlf", (b"x-a\r\nx-evil", b"1"), True),
    ("name-colon", (b"x-evil:a", b"v"), False),
    ("name-space", (b"x-evil a", b"v"), False),
]


@pytest.mark.parametrize("header,always", [i[1:] for i in INJECTIONS], ids=[i[0] for i in INJECTIONS])
def test_header_injection(kind: str, header: tuple[bytes, bytes], always: bool) -> None:
    """A header that would change the request's framing is refused with ValueError before any
    byte is sent (a name that is no token: per :data:`DOCUMENTED`); the client still works."""
    refused = always or DOCUMENTED["bad_name_refused"][kind]

    async def go() -> None:
        async with upstream_and_client(kind, serve(OK)) as (up, client):
            got = await fetch(kind, client, up.url + "/", "POST", [(b"x-ok", b"1"), header], b"body")
            assert got == (Got(error="ValueError") if refused else OK_GOT)
            assert await fetch(kind, client, up.url + "/", "POST", [(b"x-after", b"2")], b"next") == OK_GOT
            sent = b"".join(up.received())
            assert sent.count(b" HTTP/1.1\r\n") == (1 if refused else 2)
            if refused:
                assert b"evil" not in sent and b"x-ok" not in sent

    run(go())


# -- heads too large -------------------------------------------------------------------------------

def many_fields(n: int, size: int) -> bytes:
    return b"".join(b"X-F%06d: %s\r\n" % (i, b"a" * size) for i in range(n))


HUGE = 1 << 20
"""A head this large is refused by both clients, whatever their limits."""
HEADS = {
    "1MB-of-fields": many_fields(10_200, 90),
    "1MB-line": b"X-Big: " + b"a" * HUGE + b"\r\n",
    "200-small-fields": many_fields(200, 10),
    "16KB-line": b"X-Long: " + b"b" * (16 << 10) + b"\r\n",
    "300KB-in-100-fields": many_fields(100, 3000),
    "200KB-line": b"X-Big: " + b"c" * (200 << 10) + b"\r\n",  # serve24 saw it passed on to the client
    "99-small-fields": many_fields(99, 10),
    "100-small-fields": many_fields(100, 10),
    "60KB-in-20-fields": many_fields(20, 3000),
    "70KB-in-20-fields": many_fields(20, 3500),
}


@pytest.mark.parametrize("name", list(HEADS))
def test_large_heads(kind: str, name: str) -> None:
    """1 MB of head is UpstreamError for both; below that, aiohttp counts fields and bounds
    each line, the lean client bounds the whole head (:data:`DOCUMENTED`)."""
    fields = HEADS[name]
    reply = b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok"
    count, longest = fields.count(b"\r\n"), max(len(line) for line in fields.split(b"\r\n"))
    max_fields, max_line = DOCUMENTED["max_header_fields"][kind], DOCUMENTED["max_header_line"][kind]
    max_head = DOCUMENTED["max_head"][kind]
    refused = ((max_fields is not None and count + 1 > max_fields) or (max_line is not None and longest > max_line)
               or (max_head is not None and len(reply) > max_head))
    assert refused or len(fields) < HUGE  # the documented limits refuse a huge head

    async def go() -> Got:
        async with upstream_and_client(kind, cut_after(reply)) as (up, client):
            return await fetch(kind, client, up.url + "/", "POST", body=b"x")

    got = run(go())
    if refused:
        assert got == Got(error="UpstreamError")
    else:
        assert (got.status, len(got.raw_headers), got.body) == (200, count + 1, b"ok")


# -- backpressure ---------------------------------------------------------------------------------

def test_slow_reader_is_not_sent_the_whole_body(kind: str) -> None:
    """A 64 MB body read slowly: the upstream cannot write more than a bound before the
    reader takes some (the client stops reading its socket), and then all of it arrives."""
    total, piece = 64 << 20, b"z" * (256 << 10)

    async def fast(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // len(piece)):
            await peer.send(piece)
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client(kind, fast) as (up, client):
            response = await client.request("GET", up.url + "/", [], b"", read_timeout=10.0)
            got = len(await response.chunk())
            peer = up.peers[0]
            seen: list[int] = []

            def stalled() -> bool:  # the upstream's writes stopped moving
                seen.append(peer.sent)
                return len(seen) > 20 and seen[-20] == seen[-1]

            assert await wait_until_async(stalled)
            assert peer.sent < 16 << 20, f"{peer.sent} bytes written before the reader read"
            while data := await response.chunk():
                got += len(data)
            assert got == total and response.at_eof
            response.release()

    run(go())


# -- TLS ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, with its key (made with ``cryptography`` when
    installed, else ``openssl req``)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    try:
        make_certificate(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither `cryptography` nor `openssl` to make a test certificate with")
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    return cert, key


def make_certificate(cert: Path, key: Path) -> None:
    """A self-signed EC certificate for 127.0.0.1 and ``localhost``, valid a day (ImportError
    without ``cryptography``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                               x509.DNSName("localhost")]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(private, hashes.SHA256()))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def test_tls_with_a_trusted_context(kind: str, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def go() -> None:
        async with upstream_and_client(kind, serve(OK), tls=server, ssl=trusting) as (up, client):
            assert up.url.startswith("https://127.0.0.1:")
            assert await fetch(kind, client, up.url + "/tls", "POST", [(b"x-a", b"1")], b"secret") == OK_GOT
            assert await fetch(kind, client, up.url + "/tls", "POST", [(b"x-a", b"1")], b"secret") == OK_GOT
            assert up.opened == 1
            raw = up.peers[0].requests[0]
            check_request(kind, raw, "POST", b"/tls", [(b"x-a", b"1")], b"secret", up.authority)

    run(go())


def test_tls_untrusted_certificate(kind: str, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)

    async def go() -> None:
        async with upstream_and_client(kind, serve(OK), tls=server) as (up, client):
            with pytest.raises(upstream_error(kind)) as raised:
                await client.request("POST", up.url + "/", [], b"x", connect_timeout=10.0, read_timeout=10.0)
            assert "certificate verify failed" in str(raised.value).lower()
            assert all(not p.requests for p in up.peers)

    run(go())


# -- property -------------------------------------------------------------------------------------

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
FRAMING = {b"content-length", b"transfer-encoding", b"connection", b"keep-alive", b"upgrade", b"trailer"}
names = st.text(TOKEN, min_size=1, max_size=24).map(str.encode).filter(lambda n: n.lower() not in FRAMING)
values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(str.encode)


@st.composite
def answers(draw: Callable[..., Any]) -> tuple[list[tuple[bytes, bytes]], list[bytes], bool]:
    headers = draw(st.lists(st.tuples(names, values), max_size=30))
    body = draw(st.binary(max_size=5000))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    return headers, pieces, draw(st.booleans())


def test_any_headers_and_body_arrive_exactly(kind: str) -> None:
    """For any header fields (token names, visible-ASCII values) and any body sent in any
    pieces, chunked or with a length, the client gives exactly those fields and that body."""
    current: dict[str, Any] = {}

    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            headers, pieces, is_chunked = current["answer"]
            framing = (b"Transfer-Encoding", b"chunked") if is_chunked else (b"Content-Length", b"%d" % sum(map(len, pieces)))
            await peer.send(b"HTTP/1.1 200 OK\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in [*headers, framing])
                            + b"\r\n")
            for piece in pieces:
                if piece:
                    await peer.send(chunked([piece])[:-5] if is_chunked else piece)
            if is_chunked:
                await peer.send(b"0\r\n\r\n")

    with RawUpstream(script) as up:
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(answers())
        def check(answer: tuple[list[tuple[bytes, bytes]], list[bytes], bool]) -> None:
            headers, pieces, is_chunked = answer
            current["answer"] = answer
            framing = (b"Transfer-Encoding", b"chunked") if is_chunked else (b"Content-Length", b"%d" % sum(map(len, pieces)))

            async def go() -> Got:
                client = make_client(kind)
                try:
                    return await fetch(kind, client, up.url + "/")
                finally:
                    await client.close()

            assert run(go()) == Got(200, [*headers, framing], b"".join(pieces))

        check()
        assert not up.errors, up.errors


@pytest.mark.parametrize("name", [b"host", b"Content-Length", b"transfer-encoding"])
def test_framing_headers_are_the_clients(name: bytes) -> None:
    """The lean client writes ``host`` and ``content-length`` itself: a caller's own (or a
    ``transfer-encoding``) would give the request two framings, so it is refused before
    anything is sent."""
    if lean_import_error() is not None:
        pytest.skip(f"the lean client cannot be imported yet: {lean_import_error()}")

    async def go() -> None:
        async with upstream_and_client("lean", serve(OK)) as (up, client):
            got = await fetch("lean", client, up.url + "/", "POST", [(name, b"5")], b"body")
            assert got == Got(error="ValueError")
            assert await fetch("lean", client, up.url + "/", "POST", [], b"next") == OK_GOT
            assert b"".join(up.received()).count(b" HTTP/1.1\r\n") == 1

    run(go())
