"""ngrok's debugging trace says what each upstream answered, whatever it was: its
``response.status_code`` is the status line that came (ngrok: "`status_code`, `headers`,
`body_on_error` capture details of the response"), 0 only when no answer came at all.

Before, an attempt whose answer came but could not be the API's (an HTML page, a body that is
no JSON, cut after its head, or whose coding does not decode: ``malformed``) said
``status_code: 0`` and no headers, as a refused connection does, though the upstream answered
200 (route26 left it): the operator reading the trace could not tell a proxy's page from a
provider that was down. Its ``status`` stays ``"error"`` and the attempt's outcome still carries
no status, so that no rule reads it as a success.

Each row: what the one upstream answers; the trace's ``status_code``, the attempt's ``error``
and the answer's ``content-type`` it shows (None: no header)."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from .conftest import policy_gateway, routed_policy
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-trace-answers"
AFTER = """\
  - name: debugging
    actions:
      - type: custom-response
        config:
          status_code: 503
          headers:
            content-type: application/json
          body: ${actions.ngrok.ai_gateway}
"""


def _head(status: int, ctype: str, body: bytes, length: int | None = None, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 %d X\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s\r\n%s"
            % (status, ctype.encode(), len(body) if length is None else length, extra, body))


LIMITED = json.dumps({"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}}).encode()
ROWS: list[tuple[str, bytes | None, int, str, str | None]] = [
    ("a 429 of the API", _head(429, "application/json", LIMITED), 429, "status 429", "application/json"),
    ("a proxy's HTML page with 200", _head(200, "text/html", b"<html><body>hello</body></html>"), 200,
     "malformed", "text/html"),
    ("a 200 whose JSON does not parse", _head(200, "application/json", b"{\"id\": "), 200, "malformed",
     "application/json"),
    ("a 200 that is plain text", _head(200, "text/plain", b"ok"), 200, "malformed", "text/plain"),
    ("a 200 cut after its head", _head(200, "application/json", b"{\"id\"", length=400), 200, "malformed",
     "application/json"),
    ("a 200 whose coding does not decode", _head(200, "application/json", b"not gzip at all",
                                                  extra=b"content-encoding: gzip\r\n"), 200, "malformed",
     "application/json"),
    ("a 201 HTML page", _head(201, "text/html", b"<html></html>"), 201, "malformed", "text/html"),
    ("no answer: the connection refused", None, 0, "connect", None),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _then_close(reply: bytes) -> Any:
    """Answers one request with ``reply``, then closes the connection (a body cut short)."""

    async def script(peer: Any) -> None:
        if await peer.read_request() is not None:
            await peer.send(reply)

    return script


@pytest.mark.parametrize(("reply", "status", "error", "ctype"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_trace_says_what_the_upstream_answered(reply: bytes | None, status: int, error: str,
                                                   ctype: str | None) -> None:
    script = serve(reply or b"") if reply is None or b"length: 400" not in reply else _then_close(reply)
    with RawUpstream(script) as up:
        url = up.url if reply is not None else f"http://127.0.0.1:{_closed_port()}"
        policy = routed_policy([url], key="sk-routed-trace", config="          on_error: continue\n") + AFTER
        with policy_gateway(policy, KEY) as gw:
            got = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert got.status_code == 503, got.text
    trace = got.json()
    made = trace["models_tried"][0]["requests_made"][0]
    assert (trace["status"], made["status"], made["error"]) == ("error", "error", error)
    assert made["response"]["status_code"] == status
    assert made["response"]["headers"].get("content-type") == ([ctype] if ctype else None)
