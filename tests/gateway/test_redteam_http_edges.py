"""serve27: HTTP/1.1's edges through ``serve``'s own protocols, under both parsers.

- A websocket handshake is never a websocket. ``websockets`` (which google-genai requires) made
  uvicorn take a ``GET`` with ``Upgrade: websocket`` for one: under llhttp the head was lost
  (the gateway's trailer filter empties the header list uvicorn reads the upgrade from again)
  and the request was answered 400 with a traceback in the log; under h11 it reached the app as a
  websocket scope, closed with an uncoded 403. It is now a plain HTTP/1.1 ``GET``: judged,
  forwarded without its hop-by-hop ``Upgrade`` and ``Sec-WebSocket-*`` fields, never a ``101``.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from typing import Any

import pytest

from .conftest import parser_gateway

KEY = "sk-gw-http-edges"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
HANDSHAKE = (b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode() + b"\r\n"
             b"connection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n"
             b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # ws="auto" (not the tests' "none"): a websocket library, when installed, is offered; neither protocol upgrades
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("http-edges"), key=KEY, ws="auto") as server:
        yield server


def _one_answer(port: int, data: bytes) -> bytes:
    """The first answer to ``data`` (its head, and its body by its ``Content-Length``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out and (chunk := s.recv(65536)):
            out += chunk
        head = out.partition(b"\r\n\r\n")[0].lower()
        length = int(m.group(1)) if (m := re.search(rb"content-length: (\d+)", head)) else 0
        while len(out) < len(head) + 4 + length and (chunk := s.recv(65536)):
            out += chunk
    return out


@pytest.mark.parametrize("subprotocol", [b"", b"sec-websocket-protocol: realtime\r\n",
                                         b"sec-websocket-extensions: permessage-deflate\r\n"])
def test_a_websocket_handshake_is_plain_http(gw: Any, stub: Any, caplog: pytest.LogCaptureFixture,
                                             subprotocol: bytes) -> None:
    before = len(stub.app.seen)
    with caplog.at_level(logging.WARNING):
        out = _one_answer(gw.port, HANDSHAKE + subprotocol + b"\r\n")
    assert re.findall(rb"HTTP/1\.1 (\d{3})", out) == [b"404"], out[:600]  # the stub's own answer to a GET of /v1/models
    assert b"sec-websocket-accept" not in out.lower()
    seen = stub.app.seen[before:]
    assert [s["path"] for s in seen] == ["/v1/models"]
    assert "upgrade" not in seen[0]["headers"], seen[0]["headers"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- an HTTP/1.0 client -------------------------------------------------------------------------
# RFC 9112 §6.1: no `Transfer-Encoding` in an answer to an HTTP/1.0 request (it cannot read
# chunks: their sizes become part of the body it sees). uvicorn's llhttp protocol chunked every
# answer without a length, an SSE stream included, whatever the request's version; h11 does not.
# An answer of unknown length to HTTP/1.0 is delimited by the connection's close.

STREAM = json.dumps({"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()


def _http10(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /v1/chat/completions HTTP/1.0\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % len(body) + extra + b"\r\n" + body)


def _until_closed(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("extra", [b"", b"connection: keep-alive\r\n"], ids=["plain", "keep-alive"])
@pytest.mark.parametrize("body", [STREAM, CHAT], ids=["stream", "whole"])
def test_an_http10_client_gets_no_chunks(gw: Any, body: bytes, extra: bytes) -> None:
    out = _until_closed(gw.port, _http10(body, extra))
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), out[:400]
    assert b"transfer-encoding" not in head.lower(), head
    if body is STREAM:
        events = [line for line in rest.split(b"\n") if line]
        assert events and all(line.startswith(b"data: ") for line in events), rest[:300]
        assert events[-1] == b"data: [DONE]"
    else:
        assert json.loads(rest)["choices"][0]["message"]["content"]

