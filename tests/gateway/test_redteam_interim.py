"""serve30: ``Expect: 100-continue`` answered alike under both parsers, and never to HTTP/1.0.

uvicorn's llhttp protocol sent ``HTTP/1.1 100 Continue`` to an HTTP/1.0 client that asked for
it, which RFC 9110 §15.2 forbids (a 1.0 client knows no interim answers: it took the 100 for
the answer, and the real one for garbage); h11 sent none. Each row: a request head, whether a
100 comes first, the final status. A refusal decided on the head (a wrong key, a body too
large) comes with no 100: the client never sends a body nobody reads.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from .conftest import parser_gateway

KEY = "sk-gw-interim-30"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()


def _head(version: bytes = b"1.1", key: str = KEY, length: int = len(CHAT)) -> bytes:
    return (b"POST /v1/chat/completions HTTP/" + version + b"\r\nhost: gw\r\nconnection: close\r\n"
            b"authorization: Bearer " + key.encode() + b"\r\ncontent-type: application/json\r\n"
            b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % length)


ROWS = {  # name: (head, a 100 first, final status)
    "http11": (_head(), True, 200),
    "http10": (_head(b"1.0"), False, 200),
    "wrong-key": (_head(key="sk-gw-not-a-key-30"), False, 401),
    "too-large": (_head(length=10**9), False, 413),
}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("interim"), key=KEY) as server:
        yield server


@pytest.mark.parametrize("name", list(ROWS))
def test_expect_100_continue(gw: Any, name: str) -> None:
    head, interim, status = ROWS[name]
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        if status == 200 and not interim:  # a client that heard nothing sends its body after a wait
            s.sendall(head + CHAT)
            first = s.recv(65536)
        else:
            s.sendall(head)
            first = s.recv(65536)
            if first.startswith(b"HTTP/1.1 100 "):  # (the client sends its body once told to)
                s.sendall(CHAT)
        out = first
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") == interim, out[:200]
    final = out.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert final.startswith(b"HTTP/1.1 %d " % status), out[:300]
