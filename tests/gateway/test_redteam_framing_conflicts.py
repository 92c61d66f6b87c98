"""serve28: a request whose framing two parsers would read two ways is refused alike under both.

``Content-Length`` beside ``Transfer-Encoding: chunked`` (RFC 9112 §6.3: "ought to be handled
as an error", the mark of request smuggling) was a 400 ``invalid_http`` under llhttp, while h11
let the chunked coding win and waited for a chunk header the body never held: the client was
held until ``body_timeout`` and, had a chunk-shaped body come, the request was read by a length
a proxy in front had not used. Now both refuse it at once, coded, and close the connection
(the body is never read as a next request). Each row is a head; nothing goes upstream.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import parser_gateway, raw_bytes



KEY = "sk-gw-framing-28"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
CHUNKED = b"%x\r\n" % len(CHAT) + CHAT + b"\r\n0\r\n\r\n"
ROWS = [  # (framing fields, body)
    (b"content-length: %d\r\ntransfer-encoding: chunked\r\n" % len(CHAT), CHAT),
    (b"transfer-encoding: chunked\r\ncontent-length: %d\r\n" % len(CHUNKED), CHUNKED),
    (b"content-length: 5\r\ntransfer-encoding: chunked\r\n", CHUNKED),
    (b"Content-Length: 0\r\nTransfer-Encoding: CHUNKED\r\n", CHUNKED),
]


def _held(port: int, data: bytes) -> bytes:
    return raw_bytes(port, data, 5)  # (held till a time-out: a socket.timeout)


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("framing"), key=KEY) as server:
        yield server



@pytest.mark.parametrize(("framing", "body"), ROWS, ids=[f"row{i}" for i in range(len(ROWS))])
def test_length_beside_chunked_is_refused_and_closed(gw: Any, stub: Any, framing: bytes, body: bytes) -> None:
    before = len(stub.app.seen)
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\n" + framing + b"\r\n")
    out = _held(gw.port, head + body + b"GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out[:300]
    assert b'"invalid_http"' in out and out.count(b"HTTP/1.1 ") == 1, out[:600]  # closed: no second answer
    assert len(stub.app.seen) == before
