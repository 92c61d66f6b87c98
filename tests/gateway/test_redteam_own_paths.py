"""serve23: ``/metrics`` and ``/healthz`` are the gateway's own, whatever the method or spelling.

Only a ``GET`` of the path exactly as written was answered by the gateway: ``HEAD /metrics``,
``POST /healthz``, ``//metrics``, ``/x/../metrics`` went through the policy to the upstream
(forwarded as ``/metrics``), where a self-hosted server's own ``/metrics`` (vLLM's, TGI's)
answered through the gateway, past ``--metrics-token``. Now each spelling whose canonical path
is one of them is answered by the gateway: ``GET`` and ``HEAD`` (the head alone), any other
method 405 with ``Allow``; the upstream hears of none.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from .conftest import ServerThread

TOKEN = "metrics-tok-123456"
AUTH = f"authorization: Bearer {TOKEN}\r\n"

ROWS = [
    # (method, target, extra head lines, status, body expected)
    ("GET", "/metrics", AUTH, 200, True),
    ("HEAD", "/metrics", AUTH, 200, False),
    ("HEAD", "/metrics", "", 401, False),
    ("HEAD", "/healthz", "", 200, False),
    ("GET", "//metrics", "", 401, True),
    ("GET", "//metrics", AUTH, 200, True),
    ("GET", "/v1/../metrics", AUTH, 200, True),
    ("GET", "/./healthz", "", 200, True),
    ("GET", "/metrics/", AUTH, 200, True),
    ("GET", "/%6detrics", AUTH, 200, True),
    ("POST", "/metrics", AUTH + "content-length: 2\r\n", 405, True),
    ("DELETE", "/healthz", "", 405, True),
    ("OPTIONS", "//healthz/", "", 405, True),
    ("PUT", "/metrics", "transfer-encoding: chunked\r\n", 405, True),
]


@pytest.fixture(scope="module")
def gw(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    d = tmp_path_factory.mktemp("own")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    app = Gateway(policy=d / "policy.yaml", upstream=stub.url, watch=0, metrics_token=TOKEN)
    with ServerThread(app, http=header_timeout_protocol(10.0)) as server:
        yield server


def _exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(30)
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.lower(), body


@pytest.mark.parametrize(("method", "target", "extra", "status", "has_body"), ROWS,
                         ids=[f"{r[0]} {r[1]} {r[3]}" for r in ROWS])
def test_the_gateways_own_paths_answer_for_themselves(gw: Any, stub: Any, method: str, target: str, extra: str,
                                                      status: int, has_body: bool) -> None:
    before = len(stub.app.seen)
    body = b"{}" if "content-length: 2" in extra else b"2\r\n{}\r\n0\r\n\r\n" if "chunked" in extra else b""
    head, got = _exchange(gw.port, f"{method} {target} HTTP/1.1\r\nhost: gw\r\n{extra}connection: close\r\n\r\n"
                          .encode() + body)
    assert head.startswith(b"http/1.1 %d" % status), head[:200]
    assert len(stub.app.seen) == before  # the upstream heard of none
    assert b"cache-control: no-store" in head and b"x-request-id: req-" in head
    assert bool(got) == has_body
    if status == 405:
        assert b"allow: get, head" in head
    if method == "HEAD" and status == 200:  # the length of the answer a GET gets
        assert int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) > 0


def test_a_body_sent_to_them_closes_the_connection(gw: Any) -> None:
    """The body is never read: the answer closes the connection rather than leave the server
    to read and drop it."""
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(30)
        s.sendall(b"POST /healthz HTTP/1.1\r\nhost: gw\r\ncontent-length: 5\r\n\r\nhello")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 405") and b"connection: close" in data.lower()
