"""ngrok's ``ai-gateway`` ``max_output_tokens`` ("Maximum number of tokens allowed in the
completion response", ``reference/configuration-schema``) through ``serve``: the provider is
asked for at most the cap, in the field of the request's own wire format; a request asking
for less is sent as it came. Before, the key loaded and nothing was written: the provider got
the client's cap, or none (answered up to the model's maximum)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import policy_gateway
from .raw_upstream import RawUpstream, parse_request, serve

KEY = "sk-gw-output-cap"
HI = [{"role": "user", "content": "hi"}]
ROWS: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    # (name, format, path, body, the top-level fields expected in what the provider got)
    ("chat over the cap", "openai", "/v1/chat/completions", {"model": "m1", "messages": HI, "max_tokens": 5000},
     {"max_tokens": 100}),
    ("chat with no cap", "openai", "/v1/chat/completions", {"model": "m1", "messages": HI},
     {"max_completion_tokens": 100}),
    ("chat under the cap", "openai", "/v1/chat/completions",
     {"model": "m1", "messages": HI, "max_completion_tokens": 40}, {"max_completion_tokens": 40}),
    ("responses", "openai", "/v1/responses", {"model": "m1", "input": "hi", "max_output_tokens": 900},
     {"max_output_tokens": 100}),
    ("anthropic messages", "anthropic", "/v1/messages", {"model": "m1", "messages": HI, "max_tokens": 4096},
     {"max_tokens": 100}),
]


def _reply(request: bytes) -> bytes:
    data = b'{"error": {"message": "refused here", "type": "invalid_request_error"}}'
    return b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(data), data)


@pytest.mark.parametrize(("fmt", "path", "body", "sent"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_provider_is_asked_for_at_most_the_cap(fmt: str, path: str, body: dict[str, Any],
                                                   sent: dict[str, Any]) -> None:
    with RawUpstream(serve(_reply)) as up:
        policy = f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          max_output_tokens: 100
          only_allow_configured_providers: true
          providers:
            - {{id: p0, base_url: "{up.url}", supported_api_surfaces: [{{format: {fmt}}}],
               api_keys: [{{value: sk-p0, id: k0}}], models: [{{id: m1}}]}}
"""
        with policy_gateway(policy, KEY) as gw:
            httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=30)
        requests = [r for peer in up.peers for r in peer.requests]
    assert len(requests) == 1
    got = json.loads(parse_request(requests[0])[2])
    assert {k: got.get(k) for k in sent} == sent, got
