"""serve27: a method no provider's API defines is refused, not forwarded.

Before, every method llhttp parses (WebDAV's ``PROPFIND``, ``PURGE``, ``LINK``, ``QUERY``...)
and, under h11, any token at all (``FOO``) was forwarded with the operator's credential and
judged like any other request: a ``QUERY`` with a chat body reached the upstream and was
charged by its answer, a ``PURGE`` reached a caching upstream. Only ``TRACE`` and ``CONNECT``
were refused. Now the gateway forwards ``GET HEAD POST PUT PATCH DELETE OPTIONS`` and answers
any other with 405 ``method_not_allowed`` and an ``Allow`` naming them, under both parsers,
before the key is read; nothing reaches the upstream.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from .conftest import parser_gateway

KEY = "sk-gw-methods"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
REFUSED = ["PURGE", "PROPFIND", "MKCOL", "LINK", "UNLINK", "QUERY", "SEARCH", "REPORT", "LOCK", "COPY", "MOVE",
           "SUBSCRIBE", "TRACE"]
H11_ONLY = ["FOO", "GETX", "BREW"]  # tokens llhttp refuses itself (400 invalid_http)
SERVED = ["POST", "PUT", "PATCH"]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("methods"), key=KEY) as server:
        yield server


def _ask(port: int, method: str, body: bytes = CHAT) -> tuple[int, dict[str, str], bytes]:
    data = (f"{method} /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {KEY}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data + body)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head, _, rest = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, rest


@pytest.mark.parametrize("method", REFUSED + H11_ONLY + SERVED)
def test_only_the_methods_the_apis_define_are_forwarded(gw: Any, stub: Any, method: str) -> None:
    before = len(stub.app.seen)
    status, headers, body = _ask(gw.port, method)
    if method in SERVED:
        assert status == 200 and len(stub.app.seen) == before + 1, body[:300]
        return
    if method in H11_ONLY and gw.parser == "httptools":
        assert status == 400 and json.loads(body)["error"]["code"] == "invalid_http"
    else:
        assert status == 405, body[:300]
        assert json.loads(body)["error"]["code"] == "method_not_allowed"
        assert headers["allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert len(stub.app.seen) == before


def test_a_refused_method_needs_no_key(gw: Any, stub: Any) -> None:
    """Refused before the key is read: the same 405 whoever asks (no 401 telling a prober more)."""
    data = b"PROPFIND /v1/models HTTP/1.1\r\nhost: gw\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 405 ")
