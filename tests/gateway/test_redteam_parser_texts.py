"""serve29: what a parser says of a request it refuses never quotes the request.

h11's errors quote the bytes they refused (``illegal request line: bytearray(b'GET
/v1/sk-...')``, ``illegal chunk header: ...``, ``illegal header line: ...``), and the gateway
passed that text on as its 400's message, its operator's log line and the decision log's
``aigw.reason``: a key in a request line, a chunk-size line or a header line was written whole
into the log (the decision line's word masking missed ``sk-...\\r\\n'``, a repr's escapes). A
method h11 takes (any token) was the decision line's ``http.request.method`` as sent, a field
the log holds to be the gateway's own. Now the parser's text is cut before its quote, and a
method outside the known ones is logged as OpenTelemetry's ``_OTHER``; llhttp's texts, which
quote nothing, are unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aigw_policy.gateway.key_forms import key_forms

from .conftest import parser_gateway, raw_bytes

KEY = "sk-gw-parser-texts-29"
K = KEY.encode()
AUTH = b"authorization: Bearer " + K + b"\r\n"
ROWS = {
    "request line": b"GET /v1/" + K + b"\r\n\r\n",
    "request line, extra word": b"GET /v1/" + K + b" HTTP/1.1 x\r\nhost: gw\r\n\r\n",
    "version": b"GET /v1/models HTTP/" + K + b"\r\nhost: gw\r\n\r\n",
    "header line": b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-a " + K + b"\r\n\r\n",
    "header value": b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx: " + K + b"\x00\r\n\r\n",
    "chunk size line": b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + AUTH
                       + b"transfer-encoding: chunked\r\n\r\n" + K + b"\r\n",
    "chunk end": b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + AUTH
                 + b"transfer-encoding: chunked\r\n\r\n2\r\nab" + K + b"\r\n",
    "method": b"G" + K + b" /v1/models HTTP/1.1\r\nhost: gw\r\n" + AUTH + b"\r\n",
}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def gw(request: Any, stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with parser_gateway(request.param, stub.url, tmp_path_factory.mktemp("texts"), key=KEY) as server:
        yield server



@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_a_refusal_quotes_nothing_of_the_request(gw: Any, caplog: pytest.LogCaptureFixture, row: str) -> None:
    with caplog.at_level(logging.DEBUG, logger="aigw_policy"):
        out = raw_bytes(gw.port, ROWS[row])
        assert out.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 405 ", b"HTTP/1.1 505 ")), out[:300]
        assert b'"code": "' in out, out[:600]
        logged = "\n".join(rec.getMessage() for rec in caplog.records)
    text = out.decode("latin-1")
    assert not [f for f in key_forms(KEY) if f in text], text
    assert not [f for f in key_forms(KEY) if f in logged], logged
