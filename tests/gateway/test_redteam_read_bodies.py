"""serve21: a request whose method runs no model carries no body.

The policy judges a ``GET``, ``HEAD``, ``DELETE`` or ``OPTIONS`` as a read (``GET
/v1/chat/completions`` lists stored completions, ``GET /v1/responses/{id}`` reads a stored
answer): operation ``other``, and the usage its answer reports is never charged (it is an
earlier call's). Such a request with a chat body went upstream as sent, so an upstream that
ignores the method (a stub, a hand-written server; this suite's own stub does) served a chat
whose 26 tokens nobody counted. A body on such a method is now 400 ``body_not_allowed``, nothing
sent; the same reads without a body pass as before.

Each row: the method, whether it has a body; refused (400, nothing sent) or forwarded.

serve30: the refusal closes the connection. A proxy in front that reads no body on a ``GET``
(and so forwards its body as the start of the next request: the "CL.0" desync) and the gateway
(which reads the body by its ``Content-Length``) disagree on where the next request starts; the
connection kept, the proxy's next request was answered out of turn.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

KEY = "sk-gw-read-bodies"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
ROWS = [(m, True) for m in ("GET", "HEAD", "DELETE", "OPTIONS")] + [
    (m, False) for m in ("GET", "HEAD", "DELETE", "OPTIONS")] + [("POST", True), ("PUT", True)]


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway("on_http_request: []\n", KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


def _send(port: int, method: str, body: bytes) -> bytes:
    head = (f"{method} /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(20)
        s.sendall(head + body)
        while chunk := s.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("method", "with_body"), ROWS, ids=[f"{m}-{'body' if b else 'none'}" for m, b in ROWS])
def test_a_read_has_no_body(gw: Any, method: str, with_body: bool) -> None:
    before = len(gw.stub.seen)
    answer = _send(gw.port, method, CHAT if with_body else b"")
    if method.upper() in ("POST", "PUT") or not with_body:
        assert len(gw.stub.seen) == before + 1, answer[:300]
        return
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"body_not_allowed" in answer or method == "HEAD"  # (a HEAD's answer has no body)
    assert len(gw.stub.seen) == before


# review30: whatever the body's refusal, its connection closes (a body holding the client's key was
# refused as `key_in_body`, looked for first, and the connection kept: the same desync)
SMUGGLED = {"plain": b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-smuggled: 1\r\n\r\n",
            "holding the key": f"GET /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\n\r\n".encode()}


@pytest.mark.parametrize("what", sorted(SMUGGLED))
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS"])
def test_a_read_with_a_body_closes_its_connection(gw: Any, method: str, what: str) -> None:
    smuggled = SMUGGLED[what]
    head = (f"{method} /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\n"
            f"content-length: {len(smuggled)}\r\n\r\n").encode()
    after = f"GET /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\nconnection: close\r\n\r\n".encode()
    before = len(gw.stub.seen)
    answer = b""
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(20)
        s.sendall(head + smuggled + after)
        while chunk := s.recv(65536):  # (a kept connection would wait here for the time-out)
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.count(b"HTTP/1.1 ") == 1, answer[:600]
    assert b"connection: close" in answer.lower()
    assert len(gw.stub.seen) == before


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_read_with_a_body_refused_before_its_body_closes_its_connection(gw: Any, method: str) -> None:
    """review30: an answer given before the body is read (here a 401) closes too; it kept the connection."""
    smuggled = SMUGGLED["plain"]
    head = (f"{method} /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer sk-gw-not-a-key-of-the-ring\r\n"
            f"content-length: {len(smuggled)}\r\n\r\n").encode()
    after = f"GET /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\nconnection: close\r\n\r\n".encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(20)
        s.sendall(head + smuggled + after)
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401 ") and answer.count(b"HTTP/1.1 ") == 1, answer[:600]
