"""serve25: an upstream's head the gateway would not take from a client is not passed to one.

serve24 saw a 200 KB header (and 500 fields) from an upstream passed on whole: the SDKs'
own parsers refuse such an answer (Node's 16 KiB, httpx's 100 KiB, Python's ``http.client``
more than 100 fields), an opaque error to the client. The answer's head is now bounded as a
client's is (64 KiB, ``http_answer.MAX_HEAD``) and counted (100 fields, ``MAX_FIELDS``): past
them the proxy answers 502, and a routed attempt fails over to the next provider.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest

from .raw_upstream import RawUpstream, serve

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
OK = (b'{"id":"x","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop",'
      b'"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,'
      b'"total_tokens":2}}')


def _answer(fields: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + fields
            + b"content-length: %d\r\n\r\n" % len(OK) + OK)


HEADS = {
    "200KB-field": (b"x-big: " + b"a" * (200 << 10) + b"\r\n", False),
    "500-fields": (b"".join(b"x-f%03d: v\r\n" % i for i in range(500)), False),
    "90-fields": (b"".join(b"x-f%03d: v\r\n" % i for i in range(90)), True),
    "40KB-field": (b"x-big: " + b"a" * (40 << 10) + b"\r\n", True),
}


@pytest.mark.parametrize("name", list(HEADS))
def test_an_answer_head_past_the_bounds_is_a_502_through_the_proxy(name: str) -> None:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    fields, passes = HEADS[name]
    with tempfile.TemporaryDirectory() as tmp, RawUpstream(serve(_answer(fields))) as up:
        (Path(tmp) / "policy.yaml").write_text("on_http_request: []\n")
        app = Gateway(policy=Path(tmp) / "policy.yaml", upstream=up.url, store="memory:", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=30)
    if passes:
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hi"
    else:
        assert r.status_code == 502, (r.status_code, len(r.headers))
        assert len(r.headers) < 20 and "x-big" not in r.headers


@pytest.mark.parametrize("name", ["200KB-field", "500-fields"])
def test_a_routed_attempt_with_such_a_head_fails_over(name: str) -> None:
    from aigw_policy.gateway import Gateway
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread

    fields, _ = HEADS[name]
    with tempfile.TemporaryDirectory() as tmp, RawUpstream(serve(_answer(fields))) as bad, \
            RawUpstream(serve(_answer(b""))) as good:
        (Path(tmp) / "policy.yaml").write_text(f"""\
on_http_request:
  - actions:
      - type: ai-gateway
        config:
          providers:
            - id: alpha
              base_url: "{bad.url}/v1"
              api_keys: [{{value: sk-alpha-heads-key-1}}]
              models: [{{id: gpt-4o}}]
            - id: beta
              base_url: "{good.url}/v1"
              api_keys: [{{value: sk-beta-heads-key-1}}]
              models: [{{id: gpt-4o}}]
""")
        app = Gateway(policy=Path(tmp) / "policy.yaml", store="memory:", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert r.status_code == 200 and "x-big" not in r.headers and "x-f001" not in r.headers
    assert bad.peers and good.peers  # alpha was tried first, and beta served
