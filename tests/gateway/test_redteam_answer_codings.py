"""serve30: an upstream answer with a transfer coding the gateway does not undo is a 502.

``Transfer-Encoding: gzip, chunked`` (or ``gzip`` read to the close): llhttp undid the chunks
only, and the gzip bytes went to the client unlabelled (``transfer-encoding`` is hop-by-hop;
no ``content-encoding`` said what they were), past the key scrubber and the usage reader: an
error body quoting the upstream key reached the client, compressed. Such an answer is now
a broken one (502, a failed attempt to the router); plain chunks pass as before. Of the same
family, two ``content-encoding: gzip`` fields were read as one (the first): the body was decoded
once and its inner gzip went on unlabelled; now the fields are joined (``gzip, gzip``), as the
client joins them, and the body decoded twice (its key masked).
"""

from __future__ import annotations

import gzip
import json
import tempfile
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from .raw_upstream import RawUpstream, chunked, serve

UPSTREAM_KEY = "sk-upstream-codings-30"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
OK = (b'{"id":"x","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop",'
      b'"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,'
      b'"total_tokens":2}}')
ERROR = json.dumps({"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}"}}).encode()


def _answer(status: bytes, coding: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ntransfer-encoding: " + coding
            + b"\r\n\r\n" + body)


def _coded(status: bytes, fields: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n" + fields
            + b"content-length: %d\r\n\r\n" % len(body) + body)


ROWS = {  # name: (answer, status the client gets)
    "gzip-chunked-401": (_answer(b"401 Unauthorized", b"gzip, chunked", chunked([gzip.compress(ERROR)])), 502),
    "deflate-chunked-200": (_answer(b"200 OK", b"deflate, chunked", chunked([zlib.compress(OK)])), 502),
    "gzip-to-close": (_answer(b"200 OK", b"gzip", gzip.compress(OK)), 502),
    "x-custom-chunked": (_answer(b"200 OK", b"x-custom, chunked", chunked([OK])), 502),
    "chunked": (_answer(b"200 OK", b"chunked", chunked([OK])), 200),
    "CHUNKED": (_answer(b"200 OK", b"CHUNKED", chunked([OK])), 200),
    "gzip-in-two-fields": (_coded(b"401 Unauthorized", b"content-encoding: gzip\r\ncontent-encoding: gzip\r\n",
                                  gzip.compress(gzip.compress(ERROR))), 401),
    "gzip-then-identity-field": (_coded(b"401 Unauthorized",
                                        b"content-encoding: gzip\r\ncontent-encoding: identity\r\n",
                                        gzip.compress(ERROR)), 401),
    "gzip-gzip-in-one-field": (_coded(b"401 Unauthorized", b"content-encoding: gzip, gzip\r\n",
                                      gzip.compress(gzip.compress(ERROR))), 401),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_an_answer_coded_past_the_chunks_is_a_502(name: str) -> None:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    reply, status = ROWS[name]

    async def close_after(peer: Any) -> None:  # (a body read to the close ends with it)
        await peer.read_request()
        await peer.send(reply)

    script = close_after if name == "gzip-to-close" else serve(reply)
    with tempfile.TemporaryDirectory() as tmp, RawUpstream(script) as up:
        d = Path(tmp)
        (d / "policy.yaml").write_text("on_http_request: []\n")
        (d / "keys.yaml").write_text("keys:\n  - key: sk-gw-codings-30\n    identity: {key: k, team: t}\n"
                                     f"upstream_auth:\n  openai: {{authorization: \"Bearer {UPSTREAM_KEY}\"}}\n")
        app = Gateway(policy=d / "policy.yaml", upstream=up.url, keys=load_keys(d / "keys.yaml"), store="memory:",
                      watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=30,
                           headers={"authorization": "Bearer sk-gw-codings-30"})
    assert r.status_code == status, (r.status_code, r.content[:200])
    said = r.content
    said = gzip.decompress(said) if said[:2] == b"\x1f\x8b" else zlib.decompress(said) if said[:1] == b"x" else said
    assert UPSTREAM_KEY.encode() not in said
    if status == 200:
        assert r.json()["choices"][0]["message"]["content"] == "hi"
    elif status == 401:  # the upstream's own error, decoded whole, its key masked
        assert r.json()["error"]["message"] == "Incorrect API key provided: ***", r.text
    else:
        assert r.json()["error"]["code"].startswith("upstream_"), r.text
