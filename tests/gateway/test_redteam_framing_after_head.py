"""serve23: a request whose framing the parser refuses after passing its head on is never served.

llhttp hands a request's head to uvicorn (which starts the app) before it reads what follows; a
``Transfer-Encoding: identity`` is refused only then, and a chunk that is no chunk as it comes.
The client got the 400 ``invalid_http`` and the connection closed, but the app, started in the
same step, read what body had come before it heard of the close: the policy decided on it
(an ``allow`` in the decision log, a request in the metrics) and an empty chat went upstream
with the operator's key, answered to nobody. Now the refusal ends that request first: no
decision, nothing upstream. Each row is sent in one write, as an attacker would.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import pytest

from .conftest import WAIT, ServerThread

CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"

ROWS = [
    ("transfer-encoding identity", HEAD + b"transfer-encoding: identity\r\n\r\n" + CHAT),
    ("a chunk size that is no number", HEAD + b"transfer-encoding: chunked\r\n\r\nzz\r\n" + CHAT + b"\r\n0\r\n\r\n"),
    ("a chunk without its CRLF", HEAD + b"transfer-encoding: chunked\r\n\r\n%x\r\n" % len(CHAT) + CHAT + b"0\r\n\r\n"),
]


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import _h11_protocol, header_timeout_protocol

    d = tmp_path_factory.mktemp("framing")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    app = Gateway(policy=d / "policy.yaml", upstream=stub.url, watch=0)
    protocol = header_timeout_protocol(10.0) if request.param == "httptools" else _h11_protocol(10.0)
    with ServerThread(app, http=protocol) as server:
        yield server


def _settled(server: Any) -> None:
    """Until the server runs no request's task (the refused one's included)."""
    deadline = time.monotonic() + WAIT
    while server.server.server_state.tasks or server.server.server_state.connections:
        assert time.monotonic() < deadline, "the server still runs a request"
        time.sleep(0.01)


@pytest.mark.parametrize("data", [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_request_refused_after_its_head_is_not_served(gw: Any, stub: Any, caplog: pytest.LogCaptureFixture,
                                                        data: bytes) -> None:
    before = len(stub.app.seen)
    with caplog.at_level(logging.INFO, logger="aigw_policy.gateway.decisions"):
        with socket.create_connection(("127.0.0.1", gw.port)) as s:
            s.settimeout(WAIT)
            s.sendall(data)
            answer = b""
            try:
                while chunk := s.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass
        _settled(gw)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert len(stub.app.seen) == before, stub.app.seen[-1]
    verdicts = [json.loads(r.getMessage()).get("aigw.verdict") for r in caplog.records
                if r.name == "aigw_policy.gateway.decisions"]
    assert "allow" not in verdicts, "\n".join(r.getMessage() for r in caplog.records)
