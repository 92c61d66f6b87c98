"""serve26: a chunked body's trailer section is bounded as a request head is.

The trailer fields after the last chunk were parsed and dropped, but never bounded: 1 MB of
one field or 20,000 fields were read whole, and ~95 MB of one trailer took ~9 s of the event
loop's CPU (httptools joins a field's pieces in Python) before the body timeout ended it.
Now past 64 KiB or 100 fields: 431, nothing upstream, the connection closed. A large chunk
whose data comes in many reads is no trailer, and small trailers still pass (dropped).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import parser_gateway

CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi " * 200_000}]}).encode()
HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n")


def _one_chunk(trailers: bytes) -> Iterator[bytes]:
    yield HEAD + b"%x\r\n" % len(CHAT)
    for i in range(0, len(CHAT), 16384):  # one chunk in many reads: its data, not trailers
        yield CHAT[i:i + 16384]
    yield b"\r\n0\r\n" + trailers + b"\r\n"


ROWS = [
    # (case, trailer section, status under llhttp, under h11: its own bound of an unfinished
    # event, set at 64 KiB, is a 400; it parses the section in one go, so it counts no fields.
    # It bounds only what is still unfinished when a read ends: a 240 KB section that arrives
    # whole in one read is parsed and passes, so under h11 that row may be either answer)
    ("one 1 MB field", b"x-t: " + b"a" * 1_000_000 + b"\r\n", 431, 400),
    ("20,000 fields", b"".join(b"x-t%d: a\r\n" % i for i in range(20_000)), 431, (400, 200)),
    ("101 fields", b"".join(b"x-t%d: a\r\n" % i for i in range(101)), 431, 200),
    ("a 60 KiB field", b"x-t: " + b"a" * 60_000 + b"\r\n", 200, 200),
    ("100 fields", b"".join(b"x-t%d: a\r\n" % i for i in range(100)), 200, 200),
    ("none", b"", 200, 200),
]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("trailer-bounds")) as server:
        server.kind = request.param  # type: ignore[attr-defined]
        yield server


def _send(port: int, pieces: Iterator[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(30)
        try:
            for piece in pieces:
                s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed while the trailers still came: the answer was written first
        answer = b""
        try:
            while b"\r\n\r\n" not in answer and (got := s.recv(65536)):
                answer += got
        except ConnectionResetError:
            pass
    return answer


@pytest.mark.parametrize(("trailers", "status", "h11_status"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_trailers_are_bounded_as_a_head(gw: Any, stub: Any, trailers: bytes, status: int,
                                        h11_status: int | tuple[int, ...]) -> None:
    allowed = (h11_status if isinstance(h11_status, tuple) else (h11_status,)) if gw.kind == "h11" else (status,)
    before = len(stub.app.seen)
    answer = _send(gw.port, _one_chunk(trailers))
    status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") and answer[9:12].isdigit() else 0
    assert status in allowed, answer[:200]
    assert len(stub.app.seen) == before + (status == 200)  # refused: nothing upstream


def _chunks_split_after_a_header() -> Iterator[bytes]:
    # ~200 KB of one chunk and the next chunk's header in one write: the read that parses that
    # header holds far more than 64 KiB, none of it trailers; the next chunk's data comes later
    half = len(CHAT) // 2
    yield HEAD + b"%x\r\n" % half + CHAT[:half] + b"\r\n" + b"%x\r\n" % (len(CHAT) - half)
    yield CHAT[half:] + b"\r\n0\r\n\r\n"


def _trailers_after_a_large_read(trailers: bytes) -> Iterator[bytes]:
    # the body's last 100 KB, the last chunk and a 60 KiB trailer in one write
    tail = len(CHAT) - 100_000
    yield HEAD + b"%x\r\n" % len(CHAT) + CHAT[:tail]
    yield CHAT[tail:] + b"\r\n0\r\n" + trailers + b"\r\n"


@pytest.mark.parametrize("pieces", [
    pytest.param(_chunks_split_after_a_header, id="a chunk header at the end of a large read"),
    pytest.param(lambda: _trailers_after_a_large_read(b"x-t: " + b"a" * 60_000 + b"\r\n"),
                 id="a 60 KiB trailer in the read of the body's end"),
])
def test_what_came_before_a_chunk_header_is_no_trailer(gw: Any, stub: Any, pieces: Any) -> None:
    before = len(stub.app.seen)
    answer = _send(gw.port, pieces())
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert len(stub.app.seen) == before + 1
