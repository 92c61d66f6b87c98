"""serve29: a chunk size past 64 bits is refused at once under both parsers.

llhttp refuses a chunk-size line whose number overflows 64 bits ("Chunk size overflow"); h11
reads up to 20 hex digits into a Python int, so ``fffffffffffffffffff`` (76 bits) was a chunk
it waited for: the client held its connection until ``body_timeout`` (30 s) and got a 408
(serve28 left it). Now both answer 400 ``invalid_http`` as soon as the line is read and close;
nothing goes upstream. A size that fits 64 bits is a chunk under both (its body is counted
against ``--max-body`` as it comes).

The same wait met every chunk-size line h11 reads only once its CRLF has come (serve29's own
battery): a bare LF as its end (h11 reads lines by CRLF alone, so the body's rest joined the
line), a size whose first character is no hex digit, or an overflowing size, sent without the
CRLF yet. llhttp refuses each as it reads it; h11 is held to the same by the h11 protocol.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from .conftest import parser_gateway

KEY = "sk-gw-chunks-29"
HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
        + b"\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
"""A chunked chat request's head: the size line follows it."""
SIZES = [b"fffffffffffffffffff", b"10000000000000000", b"FFFFFFFFFFFFFFFFFFFF", b"1ffffffffffffffff;x=y"]
LINES = {  # a chunk-size line with what follows it, as sent (no CRLF after it)
    "bare LF": b"13\n" + b'{"model": "gpt-4o"}' + b"\n0\n\n",
    "bare LF after an extension": b"13;a=b\n" + b'{"model": "gpt-4o"}',
    "no hex digit": b"zz",
    "a sign": b"-1",
    "overflow, line unfinished": b"fffffffffffffffffff",
    "a character after the size": b"13x",
}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("chunks"), key=KEY) as server:
        yield server


@pytest.mark.parametrize("size", SIZES, ids=[s.decode() for s in SIZES])
def test_a_chunk_size_past_64_bits_is_refused_at_once(gw: Any, stub: Any, size: bytes) -> None:
    before = len(stub.app.seen)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:  # a 408 at 30 s: socket.timeout
        s.sendall(HEAD)
        time.sleep(0.05)  # the head read (and the app started) before the size line
        s.sendall(size + b"\r\n" + b'{"model": "gpt-4o"}')
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 400 ") and b'"invalid_http"' in out, out[:400]
    assert len(stub.app.seen) == before


@pytest.mark.parametrize("size", [b"fffffffffffff", b"7fffffffffffffff"])
def test_a_chunk_size_within_64_bits_is_a_chunk_under_both(gw: Any, size: bytes) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=1) as s:
        s.sendall(HEAD)
        time.sleep(0.05)
        s.sendall(size + b"\r\n" + b'{"model": "gpt-4o"}')
        with pytest.raises(TimeoutError):  # its body still coming: no answer yet
            s.recv(65536)


@pytest.mark.parametrize("line", list(LINES), ids=list(LINES))
def test_a_chunk_line_that_cannot_end_well_is_refused_at_once(gw: Any, stub: Any, line: str) -> None:
    before = len(stub.app.seen)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:  # a 408 at 30 s: socket.timeout
        s.sendall(HEAD)
        time.sleep(0.05)
        s.sendall(LINES[line])
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 400 ") and b'"invalid_http"' in out, out[:400]
    assert len(stub.app.seen) == before
