"""An idle kept-alive connection lives as long as the server's keep-alive says, not as long
as the header timeout: the header timer ran from the end of each answer, so a connection a
client (an SDK's pool, a load balancer in front, whose idle timeout is 60 s on AWS) kept for
its next request was closed after ``--header-timeout`` (and uvicorn's own keep-alive, 5 s by
default, was shorter still), and the next request on it failed: a 502 at the load balancer,
a connection error in the SDK. The next head's time now starts at its first byte, and
``serve`` keeps idle connections 75 s by default (``--keep-alive``, nginx's default)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from .conftest import ServerThread, lifespan

HEADER_TIMEOUT = 0.3
REQUEST = b"GET /x HTTP/1.1\r\nhost: gw\r\n\r\n"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if await lifespan(scope, receive, send):
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _answer(s: socket.socket) -> bytes:
    out = b""
    while not out.endswith(b"ok"):
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk
    return out


def _closed(s: socket.socket) -> bool:
    s.settimeout(10)
    try:
        return s.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        return True


@pytest.mark.parametrize("kind", ["httptools", "h11"])
def test_an_idle_connection_outlives_the_header_timeout_and_a_slow_head_still_does_not(kind: str) -> None:
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    if kind == "httptools":
        pytest.importorskip("httptools")
    protocol = header_timeout_protocol(HEADER_TIMEOUT) if kind == "httptools" else _h11_protocol(HEADER_TIMEOUT)
    with ServerThread(_app, http=protocol, timeout_keep_alive=30) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(REQUEST)
        assert _answer(s).startswith(b"HTTP/1.1 200")
        time.sleep(HEADER_TIMEOUT * 4)  # idle: longer than the header timeout, well within keep-alive
        s.sendall(REQUEST)
        assert _answer(s).startswith(b"HTTP/1.1 200"), "the idle connection was closed"
        s.sendall(REQUEST[:10])  # a head begun and never finished: cut after the header timeout
        assert _closed(s)


def test_serve_keeps_idle_connections_longer_than_a_load_balancer(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Any) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from aigw_policy.cli import app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(kw))
    (tmp_path / "p.aigw").write_text('policy "s" { default allow }')
    args = ["serve", "-p", str(tmp_path / "p.aigw"), "--upstream", "http://127.0.0.1:9"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert seen["timeout_keep_alive"] == 75.0
    assert CliRunner().invoke(app, [*args, "--keep-alive", "120"]).exit_code == 0
    assert seen["timeout_keep_alive"] == 120.0
