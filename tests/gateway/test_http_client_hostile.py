"""The gateway's upstream client (``aigw_policy.gateway.http_client``) against a hostile or broken
upstream, and its pool under cancellation and ``close()``: what a proxy must survive without
leaking a connection, a pool slot, memory or a credential.

Framing attacks run against both clients (the differential oracle of test_http_client.py);
the pool's own guarantees run against the lean client only. No test measures time: a short
``read_timeout`` or ``idle_timeout`` only makes something happen, every wait for an effect is
bounded generously (raw_upstream.WAIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw_policy.gateway import http_client
from aigw_policy.gateway.http_client import HIGH_WATER, MAX_HEAD, HttpClient, UpstreamError

from .raw_upstream import WAIT, Peer, RawUpstream, chunked, per_connection, serve, wait_until, wait_until_async
from .test_http_client import (OK, OK_GOT, Got, certificate, fetch, kind, never_answers, run,  # noqa: F401
                               upstream_and_client)

# -- framing a hostile upstream chooses ---------------------------------------------------------

FRAMING = [
    # (name, answer, what both clients must make of it: an error class, or the body)
    ("chunk-size-overflow", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nx", "UpstreamError"),
    ("chunk-size-2^64-1", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nx", "cut"),
    ("chunk-size-negative", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
     "UpstreamError"),
    ("content-length-negative", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nx", "UpstreamError"),
    ("content-length-twice-differing", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
     "UpstreamError"),
    ("content-length-list", b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nokk", "UpstreamError"),
    ("content-length-and-chunked", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"2\r\nok\r\n0\r\n\r\n", "UpstreamError"),
]


@pytest.mark.parametrize(("name", "reply", "expect"), FRAMING, ids=[f[0] for f in FRAMING])
def test_hostile_framing(kind: str, name: str, reply: bytes, expect: str) -> None:  # noqa: F811
    """An answer whose body cannot be framed safely is an error (``cut``: the head is taken and
    the body breaks), never a body the next request on the connection would read from."""
    async def go() -> None:
        async with upstream_and_client(kind, per_connection(_then_close(reply), serve(OK))) as (up, client):
            got = await fetch(kind, client, up.url + "/", "POST", body=b"1", read_timeout=5.0)
            if expect == "cut":
                assert got.status == 200 and got.error == "UpstreamError", got
            else:
                assert got.error == expect, got
            assert await fetch(kind, client, up.url + "/", "POST", body=b"2") == OK_GOT

    run(go())


def _then_close(reply: bytes) -> Any:
    async def script(peer: Peer) -> None:
        if await peer.read_request() is not None:
            await peer.send(reply)

    return script


def test_body_longer_than_its_content_length_is_not_the_next_answer(kind: str) -> None:  # noqa: F811
    """The upstream sends a whole second answer right after the first one's announced body: it
    is never read as the answer to the next request (the connection is closed, the next
    request goes on a new one and gets its own answer)."""
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle"

    async def extra(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(OK + smuggled)
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client(kind, per_connection(extra, serve(OK))) as (up, client):
            first = await fetch(kind, client, up.url + "/", "POST", body=b"1")
            assert first.body == b"ok"
            second = await fetch(kind, client, up.url + "/", "POST", body=b"2")
            assert second == OK_GOT
            assert await wait_until_async(up.peers[0].eof.is_set)

    run(go())


# -- interim answers ----------------------------------------------------------------------------


def test_endless_interim_answers_are_bounded() -> None:
    """1xx answers without fields, in a flood: the bytes of interim heads count against the
    head's bound (:data:`MAX_HEAD`), not only their fields' (the head as a whole is bounded in
    time by ``read_timeout``; aiohttp reads them without a bound)."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"

    async def flood(peer: Peer) -> None:
        await peer.read_request()
        for _ in range(2 * MAX_HEAD // len(interim) + 1):
            await peer.send(interim)
        await peer.send(OK)
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client("lean", flood) as (up, client):
            with pytest.raises(UpstreamError):
                await client.request("POST", up.url + "/", [], b"x", read_timeout=10.0)

    run(go())


# -- memory --------------------------------------------------------------------------------------


def test_tiny_chunks_do_not_multiply_the_buffer() -> None:
    """A chunked body of one-byte chunks for a reader that does not read: what the answer holds
    (the pieces' objects, not only their bytes) stays within a few times :data:`HIGH_WATER`."""
    chunk = b"1\r\nx\r\n"

    async def tiny(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(64):
            await peer.send(chunk * (HIGH_WATER // 8))
        await peer.send(b"0\r\n\r\n")
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client("lean", tiny) as (up, client):
            response = await client.request("GET", up.url + "/", [], b"", read_timeout=10.0)
            # the upstream goes on sending until the client stops reading and the socket buffers fill
            last = -1
            while up.peers[0].sent != last:
                last = up.peers[0].sent
                await asyncio.sleep(0.2)
            held = sum(sys.getsizeof(p) for p in response._pieces) + sys.getsizeof(response._pieces)
            assert held <= 4 * HIGH_WATER, (held, len(response._pieces))
            body = bytearray()
            while piece := await response.chunk():
                body += piece
            assert body == b"x" * (64 * (HIGH_WATER // 8))
            response.release()

    run(go())


# -- the pool under cancellation and close --------------------------------------------------------


def test_a_woken_waiter_cancelled_passes_its_turn_on() -> None:
    """``max_connections=1``: one request holds the connection, two wait for it. The first
    waiter is woken when the connection comes back and cancelled before it runs (its client
    went away): the second still gets the connection."""
    async def go() -> None:
        async with upstream_and_client("lean", serve(OK), max_connections=1) as (up, client):
            holder = await client.request("POST", up.url + "/", [], b"0", read_timeout=10.0)
            assert await holder.chunk() == b"ok"
            first = asyncio.ensure_future(fetch("lean", client, up.url + "/", "POST", body=b"1"))
            second = asyncio.ensure_future(fetch("lean", client, up.url + "/", "POST", body=b"2"))
            await asyncio.sleep(0.01)
            assert len(client._waiters) == 2
            assert await holder.chunk() == b""
            holder.release()  # wakes `first` ...
            first.cancel()  # ... which is cancelled before it runs
            done, _ = await asyncio.wait({second}, timeout=10.0)
            assert second in done, "the second waiter was never woken"
            assert second.result() == OK_GOT
            with pytest.raises(asyncio.CancelledError):
                await first

    run(go())


def test_a_turn_in_the_pool_is_awaited_no_longer_than_the_answer_would_be() -> None:
    """serve20: ``max_connections=1`` held by an answer that never ends (a client reading
    nothing, an endless stream): the next request waited for a turn forever, whatever its read
    time-out. It now fails with TimeoutError after its read time-out (the proxy's 504), and the
    pool still serves once the holder lets go."""
    async def go() -> None:
        async with upstream_and_client("lean", serve(OK), max_connections=1) as (up, client):
            holder = await client.request("POST", up.url + "/", [], b"0", read_timeout=10.0)
            queued = asyncio.ensure_future(fetch("lean", client, up.url + "/", "POST", body=b"1", read_timeout=0.2))
            done, _ = await asyncio.wait({queued}, timeout=WAIT)
            assert queued in done, "the queued request waited past its read time-out"
            assert queued.result() == Got(error="TimeoutError")
            assert not client._waiters
            assert await holder.chunk() == b"ok" and await holder.chunk() == b""
            holder.release()
            assert await fetch("lean", client, up.url + "/", "POST", body=b"2") == OK_GOT

    run(go())


@pytest.fixture
def held_connect(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``aiohappyeyeballs.start_connection`` made to wait for ``state["go"]`` (an Event made in the
    loop) once it is called (``state["called"]`` set): a test acts while a connect is under way."""
    state: dict[str, Any] = {}
    real = http_client.aiohappyeyeballs.start_connection

    async def held(*args: Any, **kwargs: Any) -> Any:
        state["called"].set()
        await state["go"].wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(http_client.aiohappyeyeballs, "start_connection", held)
    return state


def test_close_while_connecting_leaves_no_connection(held_connect: dict[str, Any]) -> None:
    """``close()`` while a request's connection is being made: the request fails, and the
    connection made after the close is closed (the upstream sees it closed)."""
    async def go() -> None:
        held_connect["called"], held_connect["go"] = asyncio.Event(), asyncio.Event()
        async with upstream_and_client("lean", serve(OK)) as (up, client):
            request = asyncio.ensure_future(client.request("POST", up.url + "/", [], b"x", read_timeout=10.0))
            await held_connect["called"].wait()
            await client.close()
            held_connect["go"].set()
            with pytest.raises(UpstreamError):
                await request
            assert await wait_until_async(lambda: up.opened == 1)
            assert await wait_until_async(up.peers[0].eof.is_set), "the connection made after close() is open"

    run(go())


def test_cancelled_while_connecting_leaves_no_connection(held_connect: dict[str, Any]) -> None:
    async def go() -> None:
        held_connect["called"], held_connect["go"] = asyncio.Event(), asyncio.Event()
        async with upstream_and_client("lean", serve(OK)) as (up, client):
            request = asyncio.ensure_future(client.request("POST", up.url + "/", [], b"x", read_timeout=10.0))
            await held_connect["called"].wait()
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            assert not client._open
            held_connect["go"].set()
            assert await fetch("lean", client, up.url + "/", "POST", body=b"y") == OK_GOT
            assert up.opened == 1

    run(go())


def test_close_with_a_get_in_flight_does_not_send_it_again() -> None:
    """``close()`` while a GET waits for its head: it fails; it is not sent once more on a new
    connection (the retry of idempotent requests is for a connection the upstream closed)."""
    async def go() -> None:
        async with upstream_and_client("lean", never_answers) as (up, client):
            request = asyncio.ensure_future(client.request("GET", up.url + "/", [], b"", read_timeout=5.0))
            assert await wait_until_async(lambda: up.peers and up.peers[0].requests)
            await client.close()
            with pytest.raises(UpstreamError):
                await request
            assert up.opened == 1
            assert not client._open

    run(go())


@pytest.mark.parametrize("point", ["pool", "head", "body"])
def test_cancelled_at_each_await_leaves_nothing_open(point: str) -> None:
    """A request cancelled while it waits for the pool, for the head or for the body: nothing
    stays in the pool's open set but the connections in use, and the pool serves on."""
    async def stalls(peer: Peer) -> None:
        await peer.read_request()
        if point == "body":
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nst")
        await peer.wait_eof()

    async def go() -> None:
        script = serve(OK) if point == "pool" else per_connection(stalls, serve(OK))
        async with upstream_and_client("lean", script, max_connections=1) as (up, client):
            holder = None
            if point == "pool":
                holder = await client.request("POST", up.url + "/", [], b"0", read_timeout=10.0)

            async def one() -> None:
                response = await client.request("POST", up.url + "/", [], b"1", read_timeout=10.0)
                try:
                    while await response.chunk():
                        pass
                finally:
                    response.close()

            task = asyncio.ensure_future(one())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert len(client._open) == (1 if holder is not None else 0)
            assert not client._waiters
            if holder is not None:
                assert await holder.chunk() == b"ok"
                holder.release()
            assert await fetch("lean", client, up.url + "/", "POST", body=b"2") == OK_GOT

    run(go())


def test_idle_connection_closed_after_idle_timeout_without_another_request() -> None:
    """A kept connection nobody uses is closed once ``idle_timeout`` passed, whether or not a
    request comes (aiohttp's ``keepalive_timeout`` closes it by a timer too)."""
    async def go() -> None:
        async with upstream_and_client("lean", serve(OK), idle_timeout=0.05) as (up, client):
            assert await fetch("lean", client, up.url + "/") == OK_GOT
            assert await wait_until_async(up.peers[0].eof.is_set), "the idle connection is kept open"
            assert not client._open

    run(go())


# -- credentials in URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "ftp://user:s3cret@127.0.0.1/x",
    "http://user:s3cret@/x",
    "http://user:s3cret@127.0.0.1:notaport/x",
    "http://user:s3cret@[::1/x",
    "user:s3cret@127.0.0.1/x",
])
def test_credentials_never_in_an_error(url: str) -> None:
    """An upstream URL with userinfo that cannot be used: the error says why without its
    password (the proxy logs these messages)."""
    async def go() -> None:
        client = HttpClient()
        try:
            with pytest.raises(UpstreamError) as caught:
                await client.request("GET", url, [], b"")
            assert "s3cret" not in str(caught.value)
        finally:
            await client.close()

    run(go())


def test_ipv6_literal_upstream() -> None:
    async def go() -> None:
        with RawUpstream(serve(OK), host="::1") as up:
            client = HttpClient()
            try:
                got = await fetch("lean", client, up.url + "/v1/x", "POST", body=b"1")
                assert got == OK_GOT
                assert b"host: [::1]:%d\r\n" % up.port in up.peers[0].requests[0]
            finally:
                await client.close()

    run(go())


# -- time ------------------------------------------------------------------------------------------

def test_a_trickled_head_is_bounded_by_read_timeout() -> None:
    """A head sent one byte at a time, each byte well within ``read_timeout`` of the last: the
    whole head must arrive within ``read_timeout`` (``request``'s contract: "to the answer's
    head, read_timeout"); aiohttp's ``sock_read`` is per read, and waits on it for as long as
    the head's bytes last."""
    head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 400 + b"\r\nContent-Length: 2\r\n\r\nok"

    async def trickle(peer: Peer) -> None:
        await peer.read_request()
        for i in range(len(head)):
            await peer.send(head[i:i + 1])
            await asyncio.sleep(0.01)
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client("lean", trickle) as (up, client):
            with pytest.raises(TimeoutError):
                await client.request("POST", up.url + "/", [], b"x", read_timeout=0.5)
            assert await wait_until_async(up.peers[0].eof.is_set)

    run(go())


# -- a request body the upstream does not want -------------------------------------------------------

BIG = b"b" * (8 << 20)


@pytest.mark.parametrize("linger", [True, False], ids=["reads-the-rest", "closes-at-once"])
def test_early_answer_while_the_body_is_sent(kind: str, linger: bool) -> None:  # noqa: F811
    """The upstream answers 413 (``Connection: close``) after the head, before reading an 8 MiB
    body. Reading the rest before closing (nginx's lingering close), the client gets the 413;
    closing at once (a reset), an answer or an UpstreamError, never a hang or another error."""
    reply = b"HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbig"

    async def early(peer: Peer) -> None:
        await peer._read(peer._reader.readuntil(b"\r\n\r\n"))
        await peer.send(reply)
        if linger:
            await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client(kind, per_connection(early, serve(OK))) as (up, client):
            got = await fetch(kind, client, up.url + "/", "POST", body=BIG)
            if linger:
                assert (got.status, got.body, got.error) == (413, b"big", None), got
            else:
                assert got.error == "UpstreamError" or (got.status, got.body) == (413, b"big"), got
            assert await fetch(kind, client, up.url + "/", "POST", body=b"2") == OK_GOT

    run(go())


def test_closed_while_a_big_body_is_written(kind: str) -> None:  # noqa: F811
    """The upstream reads part of an 8 MiB body and resets: an UpstreamError (a POST is not sent
    again), and the pool serves on."""
    async def cut(peer: Peer) -> None:
        await peer._read(peer._reader.readexactly(1 << 20))
        peer.abort()

    async def go() -> None:
        async with upstream_and_client(kind, per_connection(cut, serve(OK))) as (up, client):
            got = await fetch(kind, client, up.url + "/", "POST", body=BIG)
            assert got.error == "UpstreamError", got
            assert up.opened == 1
            assert await fetch(kind, client, up.url + "/", "POST", body=b"2") == OK_GOT

    run(go())


def test_used_from_a_second_event_loop() -> None:
    """A client whose idle connection belongs to a loop that has ended, used from another loop
    (aiohttp's session is bound to its loop too): a RuntimeError at once, not a wait on a
    connection no loop reads (it waited for ``read_timeout``, forever without one)."""
    with RawUpstream(serve(OK)) as up:
        client = HttpClient()

        async def once() -> Any:
            return await asyncio.wait_for(fetch("lean", client, up.url + "/", "POST", body=b"1", read_timeout=None),
                                          10.0)

        assert run(once()) == OK_GOT
        with pytest.raises(RuntimeError, match="another event loop"):
            run(once())


def test_close_while_a_body_read_to_the_close_is_read() -> None:
    """``close()`` while an answer framed by the connection's close (no length, not chunked) is
    being read: its reader is told it broke, not that it ended (the close is the client's own,
    not the upstream's end of the body)."""
    async def to_close(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n")
        await peer.wait_eof()

    async def go() -> None:
        async with upstream_and_client("lean", to_close) as (up, client):
            response = await client.request("POST", up.url + "/", [], b"x", read_timeout=10.0)
            assert await response.chunk() == b"data: 1\n\n"
            reader = asyncio.ensure_future(response.chunk())
            await asyncio.sleep(0.01)
            await client.close()
            with pytest.raises(UpstreamError):
                await reader
            assert not response.at_eof

    run(go())


# -- through serve -------------------------------------------------------------------------------------

SERVE_POLICY = 'policy "hostile" {\n  default allow\n}\n'
CHAT_BODY = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
STREAM_BODY = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": true}'


@contextlib.contextmanager
def gateway_over(script: Any, tmp_path: Path, *, suffix: str = "", timeout: float = 5.0,
                 tls: ssl.SSLContext | None = None, userinfo: str = "") -> Iterator[tuple[RawUpstream, Any]]:
    """``serve`` (the Gateway on the project's own server protocol) in front of a raw upstream
    running ``script``; ``suffix``: a path prefix on the upstream URL; ``userinfo``: ``user:pass@``."""
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    (tmp_path / "policy.aigw").write_text(SERVE_POLICY)
    with RawUpstream(script, ssl=tls) as up:
        url = up.url.replace("://", "://" + userinfo, 1) + suffix
        app = Gateway(policy=tmp_path / "policy.aigw", upstream=url, store="memory:", timeout=timeout, watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            yield up, gw
        assert not up.errors, up.errors


def post(gw: Any, path: str = "/v1/chat/completions?x=1", body: bytes = CHAT_BODY) -> httpx.Response:
    return httpx.post(gw.url + path, content=body, headers={"content-type": "application/json",
                                                             "authorization": "Bearer client-key"}, timeout=WAIT)


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENT = b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'


_COMPLETION = b'{"id": "x", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}'
CHAT_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(_COMPLETION), _COMPLETION)
"""A chat completion (the proxy judges an answer by its API, as a routed attempt's: ``OK``'s
``ok`` with no type is no completion)."""


def test_serve_stream_that_stalls_is_cut_and_its_connection_closed(tmp_path: Path) -> None:
    """An SSE answer whose upstream goes quiet mid-stream: the client gets the events sent so
    far, an error event in its provider's stream format, and then the cut (its connection
    closed without the stream's last chunk: no hang, and no clean end that would pass for a
    whole answer), and the upstream's connection is closed, not pooled."""
    async def stalls(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(SSE_HEAD + chunked([EVENT, EVENT])[:-5])  # two events, no last chunk
        await peer.wait_eof()

    from .conftest import uvicorn_errors

    with gateway_over(per_connection(stalls, serve(CHAT_OK)), tmp_path, timeout=0.5) as (up, gw), \
            uvicorn_errors() as errors:
        got = bytearray()
        with pytest.raises(httpx.RemoteProtocolError), \
                httpx.stream("POST", gw.url + "/v1/chat/completions", content=STREAM_BODY, timeout=WAIT,
                             headers={"content-type": "application/json"}) as r:
            assert r.status_code == 200
            for piece in r.iter_bytes():
                got += piece
        # the events that came, then the error event the SDKs raise (as a routed stream's), then the cut
        assert bytes(got[:len(EVENT) * 2]) == EVENT * 2
        said = json.loads(bytes(got[len(EVENT) * 2:]).removeprefix(b"data: "))
        assert said["error"]["code"] == "upstream_stream_cut"
        assert wait_until(up.peers[0].eof.is_set)
        assert post(gw).status_code == 200
        assert up.opened == 2
    # the cut is the gateway's own warning, not uvicorn's error for an answer it left unfinished
    assert errors == []


def test_uvicorn_logs_an_answer_left_unfinished_by_mistake() -> None:
    """Only a request marked by ``leave_unfinished`` loses uvicorn's line: an app that returns
    mid-answer by mistake is still reported."""
    from aigw_policy.gateway.server import header_timeout_protocol, leave_unfinished

    from .conftest import ServerThread, uvicorn_errors

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        if scope["path"] == "/on-purpose":
            leave_unfinished()

    with ServerThread(app, http=header_timeout_protocol(10.0)) as gw, uvicorn_errors() as errors:
        for path in ("/on-purpose", "/by-mistake"):
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get(gw.url + path, timeout=WAIT)
        assert wait_until(lambda: len(errors) == 1)
    assert errors == ["ASGI callable returned without completing response."]


@pytest.mark.parametrize("how", ["reset", "stall"])
def test_serve_answer_cut_mid_body_is_cut_for_the_client(tmp_path: Path, how: str) -> None:
    """The upstream announces 100 bytes of JSON and sends 10, then resets or goes quiet: the
    gateway's own answer must not end as if whole (a 200 with a clean end and 10 bytes of JSON).
    A JSON answer is held until its end, so the client gets a provider-shaped 502 (a reset: a
    malformed answer, as a routed attempt's cut body is) or 504 (quiet) saying so instead of the
    part that came."""
    async def cut(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": "x"')
        if how == "reset":
            peer.abort()
        else:
            await peer.wait_eof()

    with gateway_over(per_connection(cut, serve(CHAT_OK)), tmp_path, timeout=0.5) as (up, gw):
        got = post(gw)
        assert got.status_code == (502 if how == "reset" else 504)
        assert got.headers["x-aigw-upstream-error"] == ("malformed" if how == "reset" else "timeout")
        assert b'"id": "x"' not in got.content and "error" in got.json()
        assert post(gw).status_code == 200  # the gateway goes on


def test_serve_client_leaving_mid_stream_closes_the_upstream_connection(tmp_path: Path) -> None:
    """The client goes away mid-stream: the upstream connection is closed (never pooled half
    read), and the next request opens a new one."""
    async def endless(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(SSE_HEAD)
        while not peer.eof.is_set():
            await peer.send(b"%x\r\n%s\r\n" % (len(EVENT), EVENT))
            await asyncio.sleep(0.01)

    with gateway_over(per_connection(endless, serve(CHAT_OK)), tmp_path) as (up, gw):
        with httpx.stream("POST", gw.url + "/v1/chat/completions", content=CHAT_BODY, timeout=WAIT,
                          headers={"content-type": "application/json"}) as r:
            for n, _ in enumerate(r.iter_lines()):
                if n == 10:
                    break
        assert wait_until(up.peers[0].eof.is_set)
        assert post(gw).status_code == 200
        assert up.opened == 2


@pytest.mark.parametrize("name", ["gzip-chunked", "interim-first", "status-500", "path-prefix"])
def test_serve_answers(tmp_path: Path, name: str) -> None:
    """A gzip answer is decoded; 1xx heads never reach the client; a 500 passes through with its
    body; an upstream URL with a path prefix gets it before the client's path and query."""
    payload = _COMPLETION
    packed = gzip.compress(payload)
    replies = {
        "gzip-chunked": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n" + chunked([packed[:10], packed[10:]]),
        "interim-first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(payload), payload),
        "status-500": b'HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 17\r\n'
                      b'\r\n{"error": "boom"}',
        "path-prefix": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(payload), payload),
    }
    with gateway_over(serve(replies[name]), tmp_path, suffix="/openai" if name == "path-prefix" else "") as (up, gw):
        r = post(gw)
    if name == "status-500":
        assert (r.status_code, r.content) == (500, b'{"error": "boom"}')
    else:
        assert (r.status_code, r.content) == (200, payload), r.text
        assert "content-encoding" not in r.headers and "link" not in r.headers
    line = up.peers[0].requests[0].split(b"\r\n", 1)[0]
    want = b"/openai/v1/chat/completions?x=1" if name == "path-prefix" else b"/v1/chat/completions?x=1"
    assert line == b"POST " + want + b" HTTP/1.1"


def test_serve_unreachable_upstream_logs_no_credentials(tmp_path: Path, certificate: tuple[Path, Path],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """An https upstream with a self-signed certificate and credentials in its URL: 502
    ``unreachable``, and neither the answer nor the log has the password."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    caplog.set_level(logging.DEBUG)
    with gateway_over(serve(CHAT_OK), tmp_path, tls=context, userinfo="user:s3cret@") as (up, gw):
        r = post(gw)
    assert r.status_code == 502 and r.headers["x-aigw-upstream-error"] == "unreachable", r.text
    assert "s3cret" not in r.text
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert "s3cret" not in caplog.text


ROUTE_POLICY = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 5s
          only_allow_configured_providers: true
          providers:
            - id: first
              base_url: FIRST/v1
              api_keys: [{value: "sk-first-SECRET", id: f1}]
              models: [{id: gpt-4o}]
            - id: second
              base_url: SECOND/v1
              api_keys: [{value: "sk-second-SECRET", id: s1}]
              models: [{id: gpt-4o}]
"""


@pytest.mark.parametrize("how", ["reset", "close", "garbage"])
def test_serve_failover_when_the_first_provider_breaks(tmp_path: Path, how: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A routed request whose first provider resets, closes or answers garbage before any
    answer: the second provider's answer is served (a POST is never sent twice to the first),
    and no key reaches the log."""
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    # a chat completion (a routed answer is judged by its API's shape: no `choices`, another API's)
    payload = b'{"id": "x", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}'

    async def breaks(peer: Peer) -> None:
        await peer.read_request()
        if how == "reset":
            peer.abort()
        elif how == "garbage":
            await peer.send(b"SSH-2.0-OpenSSH\r\n\r\n")

    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(payload),
                                                                                                    payload)
    caplog.set_level(logging.DEBUG)
    with RawUpstream(breaks) as first, RawUpstream(serve(answer)) as second:
        (tmp_path / "policy.yaml").write_text(ROUTE_POLICY.replace("FIRST", first.url).replace("SECOND", second.url))
        app = Gateway(policy=tmp_path / "policy.yaml", store="memory:", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = post(gw)
        assert (r.status_code, r.content) == (200, payload), r.text
        assert first.opened == 1 and len(first.peers[0].requests) == 1
        assert b"authorization: Bearer sk-second-SECRET" in second.peers[0].requests[0]
    assert "SECRET" not in caplog.text


@pytest.mark.parametrize("ctype", [b"application/json", b"text/event-stream"])
def test_router_attempt_cancelled_after_the_head_closes_its_connection(ctype: bytes) -> None:
    """An attempt cancelled while its answer's body is awaited (the client left, a shutdown):
    the router closes that connection (never kept half read), and nothing stays open."""
    from aigw_policy.gateway.routing import Router
    from aigw_policy.routing.model import Attempt, ProviderInfo

    async def head_then_quiet(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: 100\r\n\r\n")
        await peer.wait_eof()

    async def go() -> None:
        with RawUpstream(head_then_quiet) as up:
            client = HttpClient()
            router = Router(client=client)
            provider = ProviderInfo("local", base_url=up.url + "/v1", auth="bearer")
            attempt = Attempt(1, provider, "m", None, "openai")
            scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
                     "raw_path": b"/v1/chat/completions", "query_string": b"",
                     "headers": [(b"content-type", b"application/json")]}
            task = asyncio.ensure_future(router.send(attempt, scope, CHAT_BODY, None, passthrough=True))
            assert await wait_until_async(lambda: bool(up.peers) and bool(up.peers[0].requests))
            await asyncio.sleep(0.05)  # the head is in; the body is awaited
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not client._open
            assert await wait_until_async(up.peers[0].eof.is_set)
            await client.close()

    run(go())


# -- answers to HEAD: the connection is kept only when nothing follows the head -------------------

HEAD_ANSWERS = [
    # (name, the answer to HEAD, whether the connection is reused for the next request)
    ("length", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", True),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", True),
    ("no framing", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", True),
    ("close", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", False),
    ("1.0", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", False),
    ("1.0 keep-alive", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n", True),
    ("a body anyway, same write", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", False),
    ("a body anyway, later", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", False),
]


@pytest.mark.parametrize(("name", "reply", "reused"), HEAD_ANSWERS, ids=[h[0] for h in HEAD_ANSWERS])
def test_a_head_answer_keeps_its_connection_only_when_it_can(name: str, reply: bytes, reused: bool) -> None:
    """llhttp reads an answer to HEAD as if its announced body followed: the lean client closed
    every connection after one (a new TCP, and TLS, handshake for the next request). It now
    takes the head as the whole answer and keeps the connection as HTTP says; bytes after the
    head (a broken upstream that sends a body anyway) close it, and the next request gets its
    own answer on a new connection, never those bytes."""
    async def script(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.startswith(b"HEAD "):
                await peer.send(reply)
                if name == "a body anyway, later":
                    await asyncio.sleep(0.05)  # after the client took the head: an idle connection's stray bytes
                    await peer.send(b"hello")
                if b"close" in reply or reply.startswith(b"HTTP/1.0") and b"keep-alive" not in reply:
                    return
            else:
                await peer.send(OK)

    async def go() -> None:
        async with upstream_and_client("lean", script) as (up, client):
            head = await fetch("lean", client, up.url + "/", "HEAD", read_timeout=5.0)
            assert head.status == 200 and head.body == b"" and head.error is None, head
            if name == "a body anyway, later":
                assert await wait_until_async(lambda: up.peers[0].sent >= len(reply) + 5)
                await asyncio.sleep(0.05)  # the stray bytes reach the idle connection
            assert await fetch("lean", client, up.url + "/", read_timeout=5.0) == OK_GOT
            assert up.opened == (1 if reused else 2)

    run(go())
