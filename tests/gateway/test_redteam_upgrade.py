"""serve20: an ``Upgrade`` request's body is never read as another request.

llhttp (through httptools) takes a request with ``Connection: upgrade`` and an ``Upgrade``
field as the end of HTTP/1.1 on its connection: it skips the body the request declares and
hands the rest to "the other protocol", which uvicorn, upgrading nothing, dropped when it came
in the same read and parsed as new requests when it came later. A ``POST`` with ``Upgrade: h2c``
and a ``Content-Length`` body went upstream with an empty body, and when the body came in a
read of its own (as a proxy in front sends it) the gateway served it as a second request: a
proxy in front that saw one request (and one answer to wait for) got two answers, the second
one handed to whoever sent the next request on that connection. h11 reads the body as a body.

Now (httptools): such a request that declares a body is refused (400 ``invalid_http``, the
connection closed; in its turn behind pipelined requests, never seen by the policy or the
upstream), and one without a body is served as plain HTTP/1.1 as the connection's last request:
nothing after it on the connection is parsed.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pytest

from .conftest import policy_gateway
from .stub import StubUpstream

pytest.importorskip("httptools")

KEY = "sk-gw-upgrade"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
SECOND = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
          + b"\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(CHAT) + CHAT)
UPGRADES = {
    "h2c": b"connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    "websocket": b"connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n",
    "any protocol": b"connection: keep-alive, Upgrade\r\nupgrade: foo/1\r\n",
}


@pytest.fixture(scope="module")
def gw() -> Any:
    from .conftest import ServerThread

    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway("on_http_request: []\n", KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


def _exchange(port: int, parts: list[bytes]) -> bytes:
    """``parts`` sent in reads of their own; everything the gateway answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i, part in enumerate(parts):
            if i:
                time.sleep(0.2)  # a read of its own (not a timing assertion: either way must hold)
            s.sendall(part)
        out = b""
        s.settimeout(3)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            out += b"<kept open>"
    return out


@pytest.mark.parametrize("split", [False, True], ids=["one read", "body in a read of its own"])
@pytest.mark.parametrize("name", sorted(UPGRADES))
def test_an_upgrade_request_with_a_body_is_refused(gw: Any, name: str, split: bool) -> None:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\n" + UPGRADES[name] + b"content-length: %d\r\n\r\n" % len(SECOND))
    before = len(gw.stub.seen)
    out = _exchange(gw.port, [head, SECOND] if split else [head + SECOND])
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", out)
    assert statuses == [b"400"], out[:600]
    assert b'"invalid_http"' in out and b"connection: close" in out.lower() and b"<kept open>" not in out
    assert len(gw.stub.seen) == before  # neither the empty-bodied first request nor its body as a second


@pytest.mark.parametrize("split", [False, True], ids=["one read", "next request in a read of its own"])
@pytest.mark.parametrize("name", sorted(UPGRADES))
def test_an_upgrade_request_without_a_body_is_the_connections_last(gw: Any, name: str, split: bool) -> None:
    head = b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode() + b"\r\n" + UPGRADES[name]
    before = len(gw.stub.seen)
    out = _exchange(gw.port, [head + b"\r\n", SECOND] if split else [head + b"\r\n" + SECOND])
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", out)
    assert len(statuses) == 1, out[:600]  # served as HTTP/1.1; the request after it never is
    assert b"connection: close" in out.lower() and b"<kept open>" not in out
    assert [s["path"] for s in gw.stub.seen[before:]] == ["/v1/models"]


def test_a_plain_post_after_them_is_served(gw: Any) -> None:
    out = _exchange(gw.port, [SECOND.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1)])
    assert re.findall(rb"HTTP/1\.1 (\d{3})", out) == [b"200"], out[:600]


@pytest.mark.parametrize("name", sorted(UPGRADES))
def test_a_refusal_behind_a_pipelined_request_comes_in_its_turn(gw: Any, name: str) -> None:
    """A plain request, then an upgrade request with a body, in one read: the first is answered
    whole, then the refusal (it was written at once, ahead of the first answer, which was lost)."""
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\n" + UPGRADES[name] + b"content-length: %d\r\n\r\n" % len(CHAT))
    before = len(gw.stub.seen)
    out = _exchange(gw.port, [SECOND + head + CHAT])
    assert re.findall(rb"HTTP/1\.1 (\d{3})", out) == [b"200", b"400"], out[:800]
    assert b'"invalid_http"' in out and b"<kept open>" not in out
    assert len(gw.stub.seen) == before + 1
