"""What a request line says beyond its path.

An absolute-form target (``POST http://other.example/v1/chat/completions``) names the request's
host (RFC 9112 §3.2.2), and uvicorn kept only its path: the policy read the ``Host`` header's
host while a proxy in front may have routed on the target's. The two must agree, or the
request is refused (400 ``invalid_path``). TRACE (the upstream reflects the request it got,
with the credential and headers the gateway added) and CONNECT are not forwarded (405)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import ServerThread, policy_gateway, raw_exchange
from .stub import StubUpstream

pytest.importorskip("httptools")

KEY = "sk-gw-targets"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()


def _send(port: int, line: bytes, host: bytes = b"gw.example") -> tuple[int, Any]:
    data = (line + b"\r\nhost: " + host + b"\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(CHAT)
            + CHAT)
    status, _, body = raw_exchange(port, data)
    return status, json.loads(body)


@pytest.fixture(scope="module")
def gw() -> Any:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway("on_http_request: []\n", KEY, upstream=upstream.url) as server:
        server.stub = stub  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize("target", [b"http://other.example/v1/chat/completions",
                                   b"http://gw.example:8080/v1/chat/completions",
                                   b"https://evil@gw.example/v1/chat/completions"])
def test_an_absolute_target_for_another_host_is_refused(gw: Any, target: bytes) -> None:
    before = len(gw.stub.seen)
    status, body = _send(gw.port, b"POST " + target + b" HTTP/1.1")
    assert status == 400 and body["error"]["code"] == "invalid_path"
    assert len(gw.stub.seen) == before


@pytest.mark.parametrize("target", [b"http://gw.example/v1/chat/completions", b"http://GW.example/v1/chat/completions"])
def test_an_absolute_target_for_its_own_host_is_served(gw: Any, target: bytes) -> None:
    status, _ = _send(gw.port, b"POST " + target + b" HTTP/1.1")
    assert status == 200


@pytest.mark.parametrize("method", [b"TRACE"])
def test_trace_is_not_forwarded(gw: Any, method: bytes) -> None:
    before = len(gw.stub.seen)
    status, body = _send(gw.port, method + b" /v1/chat/completions HTTP/1.1")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    assert len(gw.stub.seen) == before
