"""ngrok's ``supported_api_surfaces[].supported_params`` through ``serve``: "when
``supported_params`` is non-empty, any top-level request body parameter not on the list is
automatically removed before the request is forwarded to the provider", for the ``surface``
the entry names (``chat-completions``, ``responses``, ``messages``, ...); a model's
``unsupported_params`` are removed as well. Before (route27) the lists were read and
type-checked (AIGW143) but never applied: every parameter went upstream, and a provider that
refuses one it does not know (a 400) failed the request.

Each row: the surfaces the one provider declares, the client's path and body, and the
top-level keys the provider is sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import policy_gateway
from .raw_upstream import RawUpstream, parse_request, serve

KEY = "sk-gw-body-params"
CHAT = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "logprobs": True,
        "user": "u1", "seed": 7}
RESPONSES = {"model": "m1", "input": "hi", "store": False, "truncation": "auto"}
MESSAGES = {"model": "m1", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}], "metadata": {"user_id": "u"},
            "top_k": 3}
COUNT = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "system": "be brief"}
OPENAI_SURFACES = ("[{format: openai, surface: chat-completions, supported_params: [{name: model}, {name: messages}, "
                   "{name: temperature}, {name: seed}]}, {format: openai, surface: responses, supported_params: "
                   "[{name: model}, {name: input}]}]")
CHAT_ONLY = ("[{format: openai, surface: chat-completions, supported_params: [{name: messages}, "
             "{name: temperature}]}]")
ANTHROPIC = "[{format: anthropic, surface: messages, supported_params: [{name: model}, {name: messages}, {name: max_tokens}]}]"
ROWS: list[tuple[str, str, str, str, dict[str, Any], set[str]]] = [
    ("chat-completions narrowed", OPENAI_SURFACES, "", "/v1/chat/completions", CHAT,
     {"model", "messages", "temperature", "seed"}),
    ("responses narrowed by its own entry", OPENAI_SURFACES, "", "/v1/responses", RESPONSES, {"model", "input"}),
    ("responses not narrowed by the chat-completions entry", CHAT_ONLY, "", "/v1/responses", RESPONSES,
     set(RESPONSES)),
    ("the model is the attempt's, listed or not", CHAT_ONLY, "", "/v1/chat/completions", CHAT,
     {"model", "messages", "temperature"}),
    ("and a model's unsupported_params", OPENAI_SURFACES, ", unsupported_params: [{name: seed}]",
     "/v1/chat/completions", CHAT, {"model", "messages", "temperature"}),
    ("anthropic messages narrowed", ANTHROPIC, "", "/v1/messages", MESSAGES, {"model", "messages", "max_tokens"}),
    ("anthropic token count: no surface ngrok names", ANTHROPIC, "", "/v1/messages/count_tokens", COUNT, set(COUNT)),
    ("no supported_params: every key", "[{format: openai}]", "", "/v1/chat/completions", CHAT, set(CHAT)),
]


def _reply(request: bytes) -> bytes:
    data = b'{"error": {"message": "refused here", "type": "invalid_request_error"}}'
    return b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(data), data)


@pytest.mark.parametrize(("surfaces", "model_extra", "path", "body", "sent"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_a_surface_s_supported_params_narrow_the_body_sent(surfaces: str, model_extra: str, path: str,
                                                           body: dict[str, Any], sent: set[str]) -> None:
    with RawUpstream(serve(_reply)) as up:
        policy = f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - {{id: p0, base_url: "{up.url}", supported_api_surfaces: {surfaces},
               api_keys: [{{value: sk-p0, id: k0}}], models: [{{id: m1{model_extra}}}]}}
"""
        with policy_gateway(policy, KEY) as gw:
            httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=30)
        requests = [r for peer in up.peers for r in peer.requests]
    assert len(requests) == 1
    assert set(json.loads(parse_request(requests[0])[2])) == sent
