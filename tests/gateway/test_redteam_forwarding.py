"""serve19: what a client says of its own address and connection never reaches the upstream
(serve22: nor in a spelling with `_`, which a CGI-style upstream reads as the same field).

A client's ``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP`` (and the other spellings CDNs use)
went upstream as sent: the upstream (a self-hosted server limiting per address, a log an
operator reads) took the client's word for an address the policy never decided on, since
``conn.client_ip`` is the socket's (or the one a proxy ``--forwarded-allow-ips`` names gave).
``Expect`` and ``HTTP2-Settings`` describe the client's connection, not the gateway's (the body
is whole before it goes); ``Proxy-*`` fields are for a proxy, and the gateway is the last.
Each row: a field a client sends; the upstream must get none of the client's value, and no
address of the gateway's either (the end user's address is not the provider's business unless
the operator says so), through the plain upstream and through a route alike. The policy's own
``add-headers`` may send any of these fields: they reach the upstream as the policy wrote them.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from aigw_policy.cli.serve import forwarded

from .conftest import ServerThread, lifespan

KEY = "sk-gw-forwarding"
SPOOF = "203.0.113.66"
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()

ROWS = [
    ("x-forwarded-for", SPOOF),
    ("X-Forwarded-For", f"{SPOOF}, 198.51.100.7"),
    ("forwarded", f"for={SPOOF};proto=https;host=evil.example"),
    ("x-real-ip", SPOOF),
    ("true-client-ip", SPOOF),
    ("cf-connecting-ip", SPOOF),
    ("fastly-client-ip", SPOOF),
    ("x-client-ip", SPOOF),
    ("x-cluster-client-ip", SPOOF),
    ("x-original-forwarded-for", SPOOF),
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-port", "443"),
    ("x-forwarded-prefix", "/admin"),
    ("via", "1.1 evil.example"),
    ("expect", "100-continue"),
    ("http2-settings", "AAMAAABkAAQAAP__"),
    ("proxy-authorization", "Basic c3B5OnNweQ=="),
    ("proxy-x-anything", "1"),
    # serve21: another method or target than the request line's, which some upstreams act on
    ("x-http-method-override", "GET"),
    ("X-HTTP-Method", "DELETE"),
    ("x-method-override", "PUT"),
    ("x-original-url", "/v1/files"),
    ("x-rewrite-url", "/v1/files"),
    # serve22: a name with `_` is the same field to a CGI-style upstream (WSGI's environ, PHP,
    # Rack: `HTTP_X_FORWARDED_FOR`), which read it past the filters above (nginx, Apache and
    # gunicorn drop such fields by default)
    ("x_forwarded_for", SPOOF),
    ("X_Real_IP", SPOOF),
    ("x_forwarded-host", "evil.example"),
    ("proxy_authorization", "Basic c3B5OnNweQ=="),
    ("x_http_method_override", "GET"),
    ("x_original_url", "/v1/files"),
    ("x_aigw_decision_id", "req-forged"),
    ("content_length", "5"),
]

TAGS = {"x-forwarded-for": "${conn.client_ip}", "x-client-ip": "${conn.client_ip}", "x-real-ip": "${conn.client_ip}",
        "forwarded": "for=${conn.client_ip}", "x-forwarded-proto": "https"}
TAG_RULE = "  - name: tag\n    actions: [{type: add-headers, config: {headers: " + json.dumps(TAGS) + "}}]\n"

ROUTE = """\
on_http_request:
TAGS  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - id: solo
              base_url: UPSTREAM/v1
              api_keys: [{value: sk-solo-upstream}]
              models: [{id: gpt-4o}]
"""


class Recorder:
    """An upstream that keeps each request's header list as it came (a dict would hide a second
    ``x-forwarded-for``) and answers a chat completion."""

    def __init__(self) -> None:
        self.seen: list[list[tuple[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        self.seen.append([(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]])
        body = json.dumps({"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def upstream() -> Any:
    app = Recorder()
    with ServerThread(app, **forwarded(None)) as server:
        server.app = app  # type: ignore[attr-defined]
        yield server


def _gateway(request: Any, upstream: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway, load_keys

    d: Path = tmp_path_factory.mktemp("fwd")
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-f}}\n")
    kind, tags = request.param
    tag = TAG_RULE if tags else ""
    if kind == "route":
        (d / "policy.yaml").write_text(ROUTE.replace("UPSTREAM", upstream.url).replace("TAGS", tag))
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), watch=0)
    else:
        (d / "policy.yaml").write_text("on_http_request:\n" + tag if tags else "on_http_request: []\n")
        app = Gateway(policy=d / "policy.yaml", upstream=upstream.url, keys=load_keys(d / "keys.yaml"), watch=0)
    with ServerThread(app, **forwarded(None)) as server:  # as serve runs it: no proxy believed
        yield server


@pytest.fixture(scope="module", params=[("upstream", False), ("route", False)], ids=["upstream", "route"])
def gw(request: Any, upstream: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from _gateway(request, upstream, tmp_path_factory)


@pytest.fixture(scope="module", params=[("upstream", True), ("route", True)], ids=["upstream", "route"])
def tagged(request: Any, upstream: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from _gateway(request, upstream, tmp_path_factory)


def _post(port: int, extra: bytes) -> bytes:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + f"authorization: Bearer {KEY}\r\n".encode()
            + b"content-type: application/json\r\n" + f"content-length: {len(CHAT)}\r\n".encode() + extra
            + b"connection: close\r\n\r\n")
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(20)
        s.sendall(head + CHAT)
        while chunk := s.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("name", "value"), ROWS, ids=[r[0] for r in ROWS])
def test_the_client_does_not_say_who_it_is_upstream(gw: Any, upstream: Any, name: str, value: str) -> None:
    before = len(upstream.app.seen)
    answer = _post(gw.port, f"{name}: {value}\r\n".encode())
    assert b"HTTP/1.1 200 " in answer, answer[:300]
    assert len(upstream.app.seen) == before + 1
    got = upstream.app.seen[-1]
    assert [(k, v) for k, v in got if k == name.lower() and k != "x-forwarded-for"] == []
    assert [v for _, v in got if SPOOF in v or "evil.example" in v] == []
    # and no address of the gateway's: the end user's address goes only where the policy sends it
    assert [v for k, v in got if k == "x-forwarded-for"] == []


@pytest.mark.parametrize(("name", "value"), ROWS[:3], ids=[r[0] for r in ROWS[:3]])
def test_the_policy_says_it_when_the_operator_wants_it(tagged: Any, upstream: Any, name: str, value: str) -> None:
    """The fields the client may not send, the policy's ``add-headers`` may: each reaches the
    upstream once, as the policy wrote it, whatever the client sent beside it."""
    answer = _post(tagged.port, f"{name}: {value}\r\n".encode())
    assert b"HTTP/1.1 200 " in answer, answer[:300]
    got = upstream.app.seen[-1]
    want = {k: v.replace("${conn.client_ip}", "127.0.0.1") for k, v in TAGS.items()}
    assert sorted((k, v) for k, v in got if k in TAGS) == sorted(want.items())
