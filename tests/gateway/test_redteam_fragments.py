"""serve30: a request target holding a ``#`` (a fragment) is refused alike under both parsers.

A request target never has a fragment (RFC 9112 §3.2: a client keeps it). llhttp's protocol
dropped it and served the path before it (``POST /v1/chat/completions#x`` was a chat), h11's
kept it in the path, which went upstream as ``/v1/chat/completions%23x``, and a proxy in front
may do either: the policy and the upstream could read two paths. Now both answer 400
``invalid_path`` before the key is looked at, nothing goes upstream, and a key in the fragment
is masked in the decision log (``#`` now splits a logged path's segment as ``;`` does).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from .conftest import parser_gateway, raw_bytes

KEY = "sk-gw-fragment-30"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
TARGETS = [
    b"/v1/chat/completions#x",
    b"/v1/chat/completions#",
    b"/v1/chat/completions?a=1#x",
    b"/v1/chat/completions#" + KEY.encode(),
    b"/v1/chat/completions?x=1#" + KEY.encode(),
    b"http://gw/v1/chat/completions#x",
    b"/v1/models#/../chat/completions",
]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("fragments"), key=KEY) as server:
        yield server



@pytest.mark.parametrize("target", TARGETS, ids=[f"target{i}" for i in range(len(TARGETS))])
def test_a_target_with_a_fragment_is_refused(gw: Any, stub: Any, caplog: pytest.LogCaptureFixture,
                                             target: bytes) -> None:
    before = len(stub.app.seen)
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        out = raw_bytes(gw.port, b"POST " + target + b" HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n"
                        b"authorization: Bearer " + KEY.encode() + b"\r\ncontent-type: application/json\r\n"
                        b"content-length: %d\r\n\r\n" % len(CHAT) + CHAT)
    assert out.startswith(b"HTTP/1.1 400 ") and b'"invalid_path"' in out and b"fragment" in out, out[:400]
    assert len(stub.app.seen) == before
    assert KEY not in "\n".join(rec.getMessage() for rec in caplog.records)
    assert KEY.encode() not in out


def test_a_target_without_one_is_served(gw: Any) -> None:
    out = raw_bytes(gw.port, b"POST /v1/chat/completions?a=%23 HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n"
                    b"authorization: Bearer " + KEY.encode() + b"\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % len(CHAT) + CHAT)
    assert out.startswith(b"HTTP/1.1 200 "), out[:400]
