"""serve25: an upstream's gzip answer of several members reaches the client whole, and one
with bytes after its end is a 502, through a real server (see
tests/providers/test_decode_members.py: the answer was cut after its first member, silently)."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import httpx
import pytest

from .raw_upstream import RawUpstream, serve

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
OK = (b'{"id":"x","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop",'
      b'"message":{"role":"assistant","content":"hello there"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,'
      b'"total_tokens":2}}')


def _answer(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            b"content-length: %d\r\n\r\n" % len(body) + body)


@pytest.mark.parametrize(("body", "status"), [
    (gzip.compress(OK[:40]) + gzip.compress(OK[40:]), 200),
    (gzip.compress(OK) + b"TRAILING-BYTES", 502),
])
def test_a_gzip_answers_members(body: bytes, status: int) -> None:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    with tempfile.TemporaryDirectory() as tmp, RawUpstream(serve(_answer(body))) as up:
        (Path(tmp) / "policy.yaml").write_text("on_http_request: []\n")
        app = Gateway(policy=Path(tmp) / "policy.yaml", upstream=up.url, store="memory:", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=30,
                           headers={"accept-encoding": "identity"})
    assert r.status_code == status, (r.status_code, r.content[:300])
    if status == 200:
        assert r.json()["choices"][0]["message"]["content"] == "hello there"
