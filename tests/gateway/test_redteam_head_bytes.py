r"""serve30: a head's bytes that llhttp refuses are refused alike under h11.

llhttp refused a request head whose line ended in a bare LF, a header line that began with a
space or a tab (obsolete line folding), a field value holding a control character, a
``Content-Length`` given twice or as a list, and whitespace after a chunk's size; h11 read a
bare LF as a line end, joined a folded line to the field before it, passed ``\x01`` or
``\x7f`` upstream in a value, took two ``Content-Length`` that agree as one and ``13 \r\n``
as a size. A proxy in front reading such a head the other way and the gateway behind it
disagreed on the request's fields (its framing among them: request smuggling). Now both answer
400 ``invalid_http``, quote nothing of the head (the folded line holds a key here), and send
nothing upstream. A chunked body's trailer section is read the same way. Each row is one
request (a head, and a body when it has one); ``pipelined`` rows follow a good request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import parser_gateway, raw_bytes

KEY = "sk-gw-line-ends-30"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
        + b"\r\ncontent-type: application/json\r\n")
SIZED = b"content-length: %d\r\n" % len(CHAT)
CHUNKS = b"%x\r\n" % len(CHAT) + CHAT + b"\r\n0\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n\r\n" + CHUNKS
ROWS = {  # name: (request, pipelined after a good one)
    "fold-space": (HEAD + b"x-note: a\r\n " + KEY.encode() + b"\r\n" + SIZED + b"\r\n" + CHAT, False),
    "fold-tab": (HEAD + b"x-note: a\r\n\tb\r\n" + SIZED + b"\r\n" + CHAT, False),
    "fold-first-field": (b"POST /v1/chat/completions HTTP/1.1\r\n host: gw\r\n" + SIZED + b"\r\n" + CHAT, False),
    "fold-hides-length": (HEAD + b"x-note: a\r\n content-length: 0\r\n" + SIZED + b"\r\n" + CHAT, False),
    "lf-field": (HEAD + b"x-note: a\n" + SIZED + b"\r\n" + CHAT, False),
    "lf-request-line": (HEAD.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\n") + SIZED + b"\r\n" + CHAT, False),
    "lf-everywhere": ((HEAD + SIZED + b"\r\n").replace(b"\r\n", b"\n") + CHAT, False),
    "lf-blank-line": (HEAD + SIZED + b"\n" + CHAT, False),
    "lf-hides-length": (HEAD + b"x-note: a\ncontent-length: 0\r\n" + SIZED + b"\r\n" + CHAT, False),
    "pipelined-fold": (HEAD + b"x-note: a\r\n b\r\n" + SIZED + b"\r\n" + CHAT, True),
    "pipelined-lf": (HEAD + b"x-note: a\n" + SIZED + b"\r\n" + CHAT, True),
    "trailer-fold": (HEAD + CHUNKED + b"x-t: a\r\n b\r\n\r\n", False),
    "trailer-lf": (HEAD + CHUNKED + b"x-t: a\n\r\n", False),
    "trailer-lf-end": (HEAD + CHUNKED + b"\n", False),
    "control-soh": (HEAD + b"x-note: a\x01b\r\n" + SIZED + b"\r\n" + CHAT, False),
    "control-us": (HEAD + b"x-note: a\x1fb\r\n" + SIZED + b"\r\n" + CHAT, False),
    "control-del": (HEAD + b"x-note: a\x7f\r\n" + SIZED + b"\r\n" + CHAT, False),
    "control-esc-first": (HEAD + b"x-note: \x1b[2J\r\n" + SIZED + b"\r\n" + CHAT, False),
    "control-trailer": (HEAD + CHUNKED + b"x-t: a\x08b\r\n\r\n", False),
    "two-lengths-agreeing": (HEAD + SIZED + SIZED + b"\r\n" + CHAT, False),
    "two-lengths-spelt-apart": (HEAD + SIZED + SIZED.upper() + b"\r\n" + CHAT, False),
    "length-list": (HEAD + b"content-length: %d, %d\r\n\r\n" % (len(CHAT), len(CHAT)) + CHAT, False),
    "pipelined-two-lengths": (HEAD + SIZED + SIZED + b"\r\n" + CHAT, True),
    "chunk-size-space": (HEAD + b"transfer-encoding: chunked\r\n\r\n" + CHUNKS.replace(b"\r\n", b" \r\n", 1)
                         + b"\r\n", False),
    "chunk-size-tab-ext": (HEAD + b"transfer-encoding: chunked\r\n\r\n"
                           + CHUNKS.replace(b"\r\n", b"\t;a=b\r\n", 1) + b"\r\n", False),
    "last-chunk-size-space": (HEAD + b"transfer-encoding: chunked\r\n\r\n" + CHUNKS[:-3] + b"0 \r\n\r\n", False),
}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("lines"), key=KEY) as server:
        yield server



@pytest.mark.parametrize("name", list(ROWS))
def test_a_head_llhttp_refuses_is_refused_under_both(gw: Any, stub: Any, name: str) -> None:
    request, pipelined = ROWS[name]
    good = HEAD + SIZED + b"\r\n" + CHAT
    before = len(stub.app.seen)
    out = raw_bytes(gw.port, (good if pipelined else b"") + request)
    refused = out[out.rindex(b"HTTP/1.1 "):]
    assert refused.startswith(b"HTTP/1.1 400 "), out[:400]
    assert b'"invalid_http"' in refused and b"\r\nconnection: close\r\n" in refused.lower(), refused[:600]
    assert KEY.encode() not in out
    # llhttp refuses the pipelined head in the read that holds the good request too: that one goes unserved
    assert len(stub.app.seen) - before <= pipelined


def test_a_plain_head_still_passes(gw: Any, stub: Any) -> None:
    for request in (HEAD + SIZED + b"x-note: a\tb\r\n\r\n" + CHAT, HEAD + CHUNKED + b"x-t: a\r\n\r\n",
                    HEAD + b"x-content-length: 1\r\n" + SIZED + b"\r\n" + CHAT,
                    HEAD + b"transfer-encoding: chunked\r\n\r\n%04x;a=b\r\n" % len(CHAT) + CHAT + b"\r\n0;x=1\r\n\r\n"):
        out = raw_bytes(gw.port, request.replace(b"host: gw", b"host: gw\r\nconnection: close"))
        assert out.startswith(b"HTTP/1.1 200 "), out[:400]
