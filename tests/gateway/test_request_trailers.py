"""A chunked request body's trailer fields are not request headers.

uvicorn's httptools protocol appends every field llhttp reports to the list that is the
request's ``scope["headers"]``, trailers included, and a body that arrives in the same read as
the head has its trailers parsed before the app runs: a client's trailer was then a header the
policy decided on, the key lookup read, uvicorn's proxy-headers middleware believed
(``X-Forwarded-For`` from a trusted proxy that filters only the head) and the upstream received.
``serve``'s protocol keeps the head's fields only."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from .conftest import ServerThread, policy_gateway
from .stub import StubUpstream

pytest.importorskip("httptools")

KEY = "sk-gw-trailers"
POLICY = """\
on_http_request:
  - name: no-smuggled
    expressions: ["'x-smuggled' in req.headers || conn.client_ip == '6.6.6.6'"]
    actions:
      - type: deny
        config: {status_code: 403}
"""
CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
TRAILERS = {
    "a header the policy reads": b"x-smuggled: 1\r\n",
    "a second key": b"authorization: Bearer sk-someone-else\r\n",
    "a forwarded-for": b"x-forwarded-for: 6.6.6.6\r\n",
    "a provider header": b"openai-organization: org-victim\r\n",
}


def _send(port: int, trailer: bytes, split: bool) -> bytes:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
    body = b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(CHAT), CHAT, trailer)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if split:
            s.sendall(head)
            s.sendall(body)
        else:
            s.sendall(head + body)  # one read: the trailers are parsed before the app runs
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("split", [False, True], ids=["one read", "two reads"])
@pytest.mark.parametrize("name", sorted(TRAILERS))
def test_a_trailer_is_no_header_of_the_request(name: str, split: bool) -> None:
    stub = StubUpstream()
    with ServerThread(stub) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as gw:
        out = _send(gw.port, TRAILERS[name], split)
    assert out.startswith(b"HTTP/1.1 200 "), out[:300]
    seen = stub.seen[-1]["headers"]
    field, _, value = TRAILERS[name].decode().partition(":")
    # absent, or the gateway's own (its credential)
    assert seen.get(field) != value.strip()


def test_a_forwarded_for_trailer_is_not_believed_from_a_trusted_proxy(tmp_path: Any) -> None:
    """With ``--forwarded-allow-ips`` naming the proxy in front, the client address is the one
    the head's ``X-Forwarded-For`` says, never a trailer's."""
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k, team: t}}\n")
    stub = StubUpstream()
    with ServerThread(stub) as upstream:
        app = Gateway(policy=tmp_path / "policy.yaml", keys=load_keys(tmp_path / "keys.yaml"), upstream=upstream.url,
                      watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0), proxy_headers=True,
                          forwarded_allow_ips="127.0.0.1") as gw:
            out = _send(gw.port, b"x-forwarded-for: 6.6.6.6\r\n", False)
    assert out.startswith(b"HTTP/1.1 200 "), out[:300]
