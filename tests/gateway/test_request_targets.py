"""What a request line says beyond its path.

An absolute-form target (``POST http://other.example/v1/chat/completions``) names the request's
host (RFC 9112 §3.2.2), and uvicorn kept only its path: the policy read the ``Host`` header's
host while a proxy in front may have routed on the target's. The two must agree, or the
request is refused (400 ``invalid_path``). TRACE (the upstream reflects the request it got,
with the credential and headers the gateway added) and CONNECT are not forwarded (405). A request
line of another version than HTTP/1.1 or 1.0 is refused (505)."""

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


# -- the version a request line claims ------------------------------------------------------
# uvicorn's parsers pass on whatever version a request line claims (llhttp: HTTP/2.0 and
# HTTP/0.9 besides 1.x; h11: any digit.digit), and the policy read it as `req.version`: a
# client over HTTP/1.1 looked like HTTP/2. Refused with 505 (the connection closed), logged.

VERSION_POLICY = """\
on_http_request:
  - name: h2-only-trusted
    expressions: ["req.version == 'HTTP/2.0'"]
    actions: [{type: custom-response, config: {status_code: 299, body: "trusted HTTP/2 path"}}]
"""
LLHTTP_PASSES = [b"2.0", b"0.9"]  # what llhttp itself refuses (HTTP/3.0, 1.2, ...) is its own 400
H11_PASSES = LLHTTP_PASSES + [b"3.0", b"1.2", b"9.9"]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def versions_gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    d = tmp_path_factory.mktemp("versions")
    (d / "policy.yaml").write_text(VERSION_POLICY)
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-v, team: v}}\n")
    protocol = header_timeout_protocol(10.0) if request.param == "httptools" else _h11_protocol(10.0)
    stub = StubUpstream()
    with ServerThread(stub) as upstream:
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), upstream=upstream.url, watch=0)
        with ServerThread(app, http=protocol) as gw:
            gw.stub, gw.parser = stub, request.param  # type: ignore[attr-defined]
            yield gw


@pytest.mark.parametrize("version", H11_PASSES)
def test_a_request_line_of_another_http_version_is_505(versions_gw: Any, version: bytes) -> None:
    before = len(versions_gw.stub.seen)
    data = (b"POST /v1/chat/completions HTTP/" + version + b"\r\nhost: gw.example\r\nauthorization: Bearer "
            + KEY.encode() + b"\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(CHAT) + CHAT)
    status, headers, body = raw_exchange(versions_gw.port, data)  # returns once the gateway closed
    if versions_gw.parser == "httptools" and version not in LLHTTP_PASSES:  # llhttp refuses it itself
        assert status == 400 and json.loads(body)["error"]["code"] == "invalid_http"
    else:
        assert status == 505 and json.loads(body)["error"]["code"] == "http_version_not_supported"
    assert headers["connection"] == "close"
    assert len(versions_gw.stub.seen) == before  # neither the policy's custom response nor the upstream
    import httpx

    metrics = httpx.get(versions_gw.url + "/metrics").text
    assert 'status_code="505"' in metrics  # counted as every refusal of the gateway is (and logged)


@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
def test_http_1_request_lines_are_served(versions_gw: Any, version: bytes) -> None:
    data = (b"POST /v1/chat/completions HTTP/" + version + b"\r\nhost: gw.example\r\nauthorization: Bearer "
            + KEY.encode() + b"\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
            % len(CHAT) + CHAT)
    status, _, _ = raw_exchange(versions_gw.port, data)
    assert status == 200
