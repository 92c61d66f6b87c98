"""serve18: a request head has at most MAX_HEAD_FIELDS (100) header fields.

Within the 64 KiB head bound a client could send ~5,000 fields: each one a call of the
parser's into Python and an entry that every pass over the headers walks (hop-by-hop fields,
the key lookup, the policy's ``req.headers``), and every one forwarded upstream. With no key at
all such a request cost the event loop ~3 ms before its 401 (0.6 ms for the same bytes in one
field). Past the bound the answer is 431 ``request_header_fields_too_large``, the connection
closed, whether the head comes in one read or many, under llhttp and h11 alike.

Each row: how many fields (besides ``host`` and the key), in how many reads, and the status.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pytest

from aigw_policy.gateway.server import MAX_HEAD_FIELDS

from .conftest import ServerThread

KEY = "sk-gw-fields"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
FIXED = 5  # host, authorization, content-type, content-length, connection

ROWS = [
    ("the bound, one read", MAX_HEAD_FIELDS - FIXED, 1, 200),
    ("the bound, many reads", MAX_HEAD_FIELDS - FIXED, 7, 200),
    ("one past, one read", MAX_HEAD_FIELDS - FIXED + 1, 1, 431),
    ("one past, many reads", MAX_HEAD_FIELDS - FIXED + 1, 7, 431),
    ("5000 small fields", 5000, 1, 431),
    ("5000 fields, many reads", 5000, 9, 431),
]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    d = tmp_path_factory.mktemp("fields")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-f}}\n")
    app = Gateway(policy=d / "policy.yaml", upstream=stub.url, keys=load_keys(d / "keys.yaml"), watch=0)
    protocol = header_timeout_protocol(5.0) if request.param == "httptools" else _h11_protocol(5.0)
    with ServerThread(app, http=protocol) as server:
        yield server


def _send(port: int, data: bytes, pieces: int) -> bytes:
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(10)
        step = -(-len(data) // pieces)
        try:
            for k in range(0, len(data), step):
                s.sendall(data[k:k + step])
                if pieces > 1:
                    time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the head was over: its answer is waiting
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


@pytest.mark.parametrize(("fields", "pieces", "status"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_header_fields_are_bounded(gw: Any, stub: Any, fields: int, pieces: int, status: int) -> None:
    before = len(stub.app.seen)
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + f"authorization: Bearer {KEY}\r\n".encode()
            + b"content-type: application/json\r\n" + f"content-length: {len(CHAT)}\r\n".encode()
            + b"connection: close\r\n" + b"".join(b"x-f%d: v\r\n" % i for i in range(fields)) + b"\r\n")
    assert head.count(b"\r\n") - 2 == fields + FIXED
    answer = _send(gw.port, head + CHAT, pieces)
    assert answer[9:12] == str(status).encode(), answer[:200]
    if status == 431:
        assert b"request_header_fields_too_large" in answer and b"header fields" in answer
        assert len(stub.app.seen) == before  # never forwarded


def test_a_pipelined_head_is_bounded_too(gw: Any, stub: Any) -> None:
    """A second head in the read that ends the first is past the server's per-read count: the
    gateway itself answers it 431 (and any server's, under PolicyMiddleware)."""
    before = len(stub.app.seen)
    first = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + f"authorization: Bearer {KEY}\r\n".encode()
             + b"content-type: application/json\r\n" + f"content-length: {len(CHAT)}\r\n\r\n".encode() + CHAT)
    second = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + f"authorization: Bearer {KEY}\r\n".encode()
              + b"".join(b"x-f%d: v\r\n" % i for i in range(MAX_HEAD_FIELDS))
              + f"content-length: {len(CHAT)}\r\nconnection: close\r\n\r\n".encode() + CHAT)
    answer = _send(gw.port, first + second, 1)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"431"], (statuses, answer[-600:])
    assert b"request_header_fields_too_large" in answer
    assert len(stub.app.seen) == before + 1  # the first only
