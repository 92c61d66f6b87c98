"""serve29: an absolute-form target (``GET http://host/path``) is read alike under both parsers.

llhttp's protocol keeps such a target's path and the gateway checks its host against ``Host``
(serve26); h11's kept the whole URL as the path, so the same request was 400 ``invalid_path``
under h11 and served under llhttp. And one with no path at all (``GET http://gw``, ``http://gw?x``)
made uvicorn's llhttp protocol fail in its head callback (``None.decode``): a 400
``invalid_http`` and a traceback in the operator's log per request, a log any client could
flood. Now both serve a path whose host is the ``Host`` header's and refuse a pathless target as
400 ``invalid_path``, with nothing logged but the refusal.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from .conftest import parser_gateway

KEY = "sk-gw-absolute-29"
CHAT = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
ROWS = [  # (target, status, code)
    (b"http://gw/v1/chat/completions", b"200", None),
    (b"http://gw/v1/chat/completions?x=1", b"200", None),
    (b"http://gw", b"400", b"invalid_path"),
    (b"http://gw?x=1", b"400", b"invalid_path"),
    (b"http://evil.example/v1/chat/completions", b"400", b"invalid_path"),
    (b"http://u:p@gw/v1/chat/completions", b"400", b"invalid_path"),
]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("absolute"), key=KEY) as server:
        yield server


@pytest.mark.parametrize(("target", "status", "code"), ROWS, ids=[r[0].decode() for r in ROWS])
def test_an_absolute_target_is_read_alike(gw: Any, caplog: pytest.LogCaptureFixture, target: bytes, status: bytes,
                                          code: bytes | None) -> None:
    with caplog.at_level(logging.DEBUG, logger="aigw_policy"):
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            s.sendall(b"POST " + target + b" HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
                      + b"\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
                      % len(CHAT) + CHAT)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
    assert out.startswith(b"HTTP/1.1 " + status), out[:300]
    if code is not None:
        assert b'"code": "' + code + b'"' in out, out[:600]
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
