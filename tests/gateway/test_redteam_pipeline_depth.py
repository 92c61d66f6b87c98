"""serve24: pipelined requests are queued to a bound, not to whatever one read holds.

uvicorn's httptools protocol parses every request of a read and queues each one that arrives
while an answer is in progress (a request cycle, its scope and headers: ~2 KB each); it pauses
reading, but every answer finished resumes it, and the next read's requests are queued in turn.
1 MB of pipelined ``GET /healthz`` on one connection (35 bytes each) held ~64 MB in the
gateway, 50 such connections ~300 MB, none of it bounded by the head limits (each head is
small). Now a connection queues at most ``MAX_PIPELINED`` requests behind the one being
answered: the rest of its bytes are not parsed, and it is closed once those answers are out
(``connection: close`` on the last), which RFC 9112 §9.3.2 has a pipelining client expect.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from .conftest import policy_gateway
from .stub import StubUpstream

pytest.importorskip("httptools")

KEY = "sk-gw-pipeline"
ONE = b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n"


@pytest.fixture(scope="module")
def gw() -> Any:
    from .conftest import ServerThread

    with ServerThread(StubUpstream()) as upstream, policy_gateway("on_http_request: []\n", KEY,
                                                                 upstream=upstream.url) as server:
        yield server


def _answers(port: int, data: bytes) -> bytes:
    """Everything the gateway answers to ``data`` (sent at once) until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("count", [3000])
def test_a_flood_of_pipelined_requests_is_answered_to_the_bound_and_closed(gw: Any, count: int) -> None:
    from aigw_policy.gateway.pipelined import MAX_PIPELINED

    out = _answers(gw.port, ONE * count)
    answered = out.count(b"HTTP/1.1 200 ")
    assert 1 <= answered <= MAX_PIPELINED + 1, answered
    assert out.rstrip().endswith(b"}") and out.lower().count(b"connection: close") == 1


def test_pipelined_requests_within_the_bound_are_all_answered(gw: Any) -> None:
    from aigw_policy.gateway.pipelined import MAX_PIPELINED

    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(ONE * MAX_PIPELINED)
        out = b""
        while out.count(b"HTTP/1.1 200 ") < MAX_PIPELINED:
            chunk = s.recv(65536)
            assert chunk, out[-300:]
            out += chunk
        assert b"connection: close" not in out.lower()
        s.sendall(ONE)  # the connection is still kept
        more = s.recv(65536)
    assert more.startswith(b"HTTP/1.1 200 ")
