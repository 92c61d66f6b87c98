"""serve24: what the operator wrote into ``--upstream`` reaches the upstream, and never a client.

``--upstream 'https://host/base?key=AIza...'`` (Gemini's key as a parameter, Azure Functions'
``code``) had the client's path appended after its query (``/base?key=AIza.../v1/...?x=1``):
every request went to the wrong place with the key glued to the path. And what the URL held
(that key, a ``user:pass@`` sent as ``Basic``) was not among the credentials scrubbed from
answers, so an upstream that quotes its request (an error naming the URL, a test server
echoing it) handed the operator's key to every client. Now the URL's query goes before the
client's, and its password, its ``Basic`` value and its credential-like parameters (as
``redact`` hides them in log lines) are ``***`` in answers as the configured keys are.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import httpx
import pytest

from .raw_upstream import RawUpstream, parse_request, serve

PASSWORD = "pw-upstream-PASSWORD"
KEY = "AIza-upstream-QUERYKEY"


def _echo(request: bytes) -> bytes:
    line, fields, _ = parse_request(request)
    body = json.dumps({"id": "x", "object": "chat.completion", "choices": [],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                       "request": [line.decode("latin-1"), *(f"{k.decode()}: {v.decode('latin-1')}" for k, v in fields)]
                       }).encode()
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-echo: " + line + b"\r\ncontent-length: %d\r\n\r\n"
            % len(body) + body)


@pytest.mark.parametrize("query", ["key", "code", "api_key"])
def test_the_upstream_urls_query_and_userinfo(query: str) -> None:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    with tempfile.TemporaryDirectory() as tmp, RawUpstream(serve(_echo)) as up:
        d = Path(tmp)
        (d / "policy.yaml").write_text("on_http_request: []\n")
        url = up.url.replace("://", f"://user:{PASSWORD}@", 1) + f"/base?{query}={KEY}&v=1"
        app = Gateway(policy=d / "policy.yaml", upstream=url, store="memory:", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions?x=1", timeout=30,
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    line = up.peers[0].requests[0].split(b"\r\n", 1)[0]
    assert line == f"POST /base/v1/chat/completions?{query}={KEY}&v=1&x=1 HTTP/1.1".encode(), line
    basic = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    assert f"authorization: Basic {basic}".encode() in up.peers[0].requests[0]
    for secret in (KEY, PASSWORD, basic):
        assert secret not in r.text and secret not in str(r.headers), (secret, r.text)
    assert "***" in r.text


def _echo_status(status: bytes) -> Any:
    def reply(request: bytes) -> bytes:
        line, fields, _ = parse_request(request)
        body = json.dumps({"error": {"message": "refused: " + line.decode("latin-1"), "type": "invalid_request_error",
                                     "request": [f"{k.decode()}: {v.decode('latin-1')}" for k, v in fields]}}
                          if status != b"200 OK" else
                          {"id": "x", "object": "chat.completion", "model": "gpt-4o",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": line.decode("latin-1")}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nx-echo: " + line
                + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    return reply


@pytest.mark.parametrize("status", [b"200 OK", b"400 Bad Request", b"503 Service Unavailable"])
@pytest.mark.parametrize("query", ["api-key", "code", "sig"])
def test_a_routed_providers_base_url_secrets_reach_no_client_and_no_log(
        status: bytes, query: str, caplog: pytest.LogCaptureFixture) -> None:
    """serve25: the routed path scrubbed the attempt's key from answers, not what the
    provider's ``base_url`` holds (a query credential, a ``user:pass@``): an upstream quoting
    its request (an error naming the URL, the all-failed answer listing each attempt's error)
    handed the operator's secret to the client, as the proxy did before serve24."""
    import logging

    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    with tempfile.TemporaryDirectory() as tmp, RawUpstream(serve(_echo_status(status))) as up:
        d = Path(tmp)
        base = up.url.replace("://", f"://user:{PASSWORD}@", 1) + f"/v1?{query}={KEY}&api-version=1"
        (d / "policy.yaml").write_text(f"""\
on_http_request:
  - actions:
      - type: ai-gateway
        config:
          providers:
            - id: alpha
              base_url: "{base}"
              api_keys: [{{value: sk-alpha-routed-key-1}}]
              models: [{{id: gpt-4o}}]
""")
        app = Gateway(policy=d / "policy.yaml", store="memory:", watch=0)
        with caplog.at_level(logging.DEBUG), ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", timeout=30,
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert up.peers, "the attempt never reached the upstream"
    assert KEY.encode() in up.peers[0].requests[0]  # the upstream is sent it
    basic = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in (KEY, PASSWORD, basic, "sk-alpha-routed-key-1"):
        assert secret not in r.text and secret not in str(r.headers), (secret, r.status_code, r.text)
        assert secret not in logged, (secret, logged)
