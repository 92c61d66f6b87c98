"""serve23: a request head whose framing or host a proxy in front may read otherwise.

- An HTTP/1.0 request with ``Transfer-Encoding: chunked``: RFC 9112 §6.1 has the framing taken
  as faulty, since a proxy of HTTP/1.0 reads no body and the chunks as the next request (a
  smuggled request behind the gateway's answer). llhttp served it.
- An HTTP/1.1 request without ``Host`` (RFC 9112 §3.2: a 400): h11 refused it, llhttp passed it
  on, so the two server stacks of ``serve`` disagreed, and the policy read the server's own
  address as the request's host.
- A ``Host`` port past 65535 passed the Host check and failed later as a bad ``request.url``.

Each refused 400 before the policy, nothing upstream, and the first two close the connection.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from .conftest import ServerThread

CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()


def _head(version: bytes = b"HTTP/1.1", host: bytes | None = b"gw", extra: bytes = b"") -> bytes:
    line = b"POST /v1/chat/completions " + version + b"\r\ncontent-type: application/json\r\n"
    return line + (b"host: " + host + b"\r\n" if host is not None else b"") + extra


CHUNKED = b"transfer-encoding: chunked\r\n\r\n%x\r\n" % len(CHAT) + CHAT + b"\r\n0\r\n\r\n"
SIZED = b"content-length: %d\r\n\r\n" % len(CHAT) + CHAT

ROWS = [
    # (case, request, status, code, closed)
    ("HTTP/1.0 chunked", _head(b"HTTP/1.0", extra=CHUNKED), 400, "invalid_http", True),
    ("HTTP/1.0 sized", _head(b"HTTP/1.0", extra=SIZED), 200, None, True),
    ("HTTP/1.0 without Host", _head(b"HTTP/1.0", None, SIZED), 200, None, True),
    ("HTTP/1.1 without Host", _head(host=None, extra=SIZED), 400, "invalid_http", True),
    ("HTTP/1.1 chunked", _head(extra=CHUNKED), 200, None, False),
    ("a port past 65535", _head(host=b"gw:65536", extra=SIZED), 400, "invalid_path", False),
    ("the last port", _head(host=b"gw:65535", extra=SIZED), 200, None, False),
]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    d = tmp_path_factory.mktemp("head-games")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    app = Gateway(policy=d / "policy.yaml", upstream=stub.url, watch=0)
    protocol = header_timeout_protocol(10.0) if request.param == "httptools" else _h11_protocol(10.0)
    with ServerThread(app, http=protocol) as server:
        yield server


@pytest.mark.parametrize(("data", "status", "code", "closed"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_head_a_proxy_may_read_otherwise_is_refused(gw: Any, stub: Any, data: bytes, status: int,
                                                      code: str | None, closed: bool) -> None:
    before = len(stub.app.seen)
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(30)
        s.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += s.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += s.recv(65536)
        if closed:  # nothing follows the answer: the server closed the connection
            assert s.recv(65536) == b""
    assert head.startswith(b"HTTP/1.1 %d" % status), answer[:300]
    assert len(stub.app.seen) == before + (status == 200)
    if code is not None:
        assert json.loads(body)["error"]["code"] == code
    if closed:
        assert b"connection: close" in head.lower()
