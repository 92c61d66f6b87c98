"""serve26: a request whose head failed inside one of llhttp's callbacks into Python.

llhttp reports any exception of a callback as "User callback error". uvicorn's
``on_headers_complete`` parses the target with ``httptools.parse_url``, which refuses an
authority-form target (``CONNECT host:443``, what every forward-proxy client sends) and some
absolute ones (``http:///x``, a port past 65535, an unclosed ``[``): each was answered 400
``invalid_http`` "User callback error", where ``CONNECT /path`` got the clean 405
``method_not_allowed``, and a fault of the gateway's own callbacks would have been answered
the same way, with nothing in the log. An HTTP/2 connection preface got llhttp's "Pause on
PRI/Upgrade" as a 400, where a request line of HTTP/2.0 gets the 505. Run on both server
protocols of ``serve`` (h11 never had the first class: it reads the target as bytes).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from .conftest import parser_gateway, raw_exchange

ROWS = [
    # (case, request line and headers, status, code)
    ("CONNECT authority", b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nhost: 127.0.0.1:443\r\n", 405, "method_not_allowed"),
    ("CONNECT IPv6 authority", b"CONNECT [::1]:443 HTTP/1.1\r\nhost: [::1]:443\r\n", 405, "method_not_allowed"),
    ("CONNECT HTTP/1.0", b"CONNECT api.openai.com:443 HTTP/1.0\r\n", 405, "method_not_allowed"),
    ("CONNECT with a key", b"CONNECT gw:443 HTTP/1.1\r\nhost: gw:443\r\nauthorization: Bearer sk-x\r\n", 405,
     "method_not_allowed"),
    ("CONNECT path", b"CONNECT /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n", 405, "method_not_allowed"),
    ("no host in an absolute target", b"GET http:///v1/models HTTP/1.1\r\nhost: gw\r\n", 400, "invalid_path"),
    ("a port past 65535", b"GET http://gw:99999/v1/models HTTP/1.1\r\nhost: gw\r\n", 400, "invalid_path"),
    ("an unclosed IPv6 host", b"POST http://[::1/v1/chat/completions HTTP/1.1\r\nhost: gw\r\n", 400, "invalid_path"),
]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("parser-callbacks")) as server:
        server.kind = request.param  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("head", "status", "code"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_target_the_parser_cannot_read_gets_its_own_code(gw: Any, stub: Any, head: bytes, status: int,
                                                          code: str) -> None:
    before = len(stub.app.seen)
    got, headers, body = raw_exchange(gw.port, head + b"connection: close\r\n\r\n")
    answer = json.loads(body)
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert "callback" not in answer["error"]["message"]
    assert headers["x-aigw-decision-id"].startswith("req-")
    assert len(stub.app.seen) == before


def test_an_http2_preface_is_a_505(gw: Any) -> None:
    if gw.kind == "h11":
        pytest.skip("h11 refuses the preface's request line with its own 400")
    got, _, body = raw_exchange(gw.port, PREFACE)
    answer = json.loads(body)
    assert (got, answer["error"]["code"]) == (505, "http_version_not_supported"), answer


def test_a_fault_in_a_callback_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A callback's own exception (the gateway's fault, not the client's) is in the log with
    its traceback, and the client is told only that its head could not be read."""
    httptools = pytest.importorskip("httptools")
    from aigw_policy.gateway.parser_refusals import parser_refusal

    class Faulty:
        def on_headers_complete(self) -> None:
            raise KeyError("the gateway's own bug")

    caplog.set_level(logging.ERROR, logger="aigw_policy.gateway")
    try:
        httptools.HttpRequestParser(Faulty()).feed_data(b"GET / HTTP/1.1\r\nhost: gw\r\n\r\n")
    except httptools.HttpParserError:
        status, message, code = parser_refusal("GET")
    assert (status, code) == (400, "invalid_http")
    assert "bug" not in message and "callback" not in message
    [record] = caplog.records
    assert record.exc_info is not None and "the gateway's own bug" in str(record.exc_info[1])
