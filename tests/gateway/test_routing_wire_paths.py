"""What a routed request becomes, per the wire format it came in (aigw_policy/routing/paths.py).

A routed request was sent to the candidate's ``base_url`` + the client's own path: an Ollama
``/api/chat`` went to ``{base}/v1/api/chat``, a Cohere ``/v2/chat`` and a Bedrock
``/model/{id}/converse`` likewise, paths no candidate serves (each attempt a 404, then 503);
the same body framed by another vendor's path (Azure's deployments, Cohere's compatibility
API, Gemini's OpenAI-compatible path, Vertex AI's) failed the same way. Now a request of a
provider format goes to that format's own path under each candidate's base; one of a vendor's
native API goes to the candidates of that vendor only (by id or ``base_url`` host), at its
native path under the base's root, the others skipped; with none of that vendor it is refused
422 ``ERR_NGROK_3805`` in the client's own error shape (no provider sees it). Through ``serve``
with the stub upstreams (tests/gateway/conftest.py, providers_stub.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .providers_stub import StubProvider

KEY = "sk-gw-wire-paths"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def _policy(url: str, vendors: str = "") -> str:
    return f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - {{id: po, base_url: "{url}/v1", api_keys: [{{value: k-o}}], models: [{{id: gpt-4o}}]}}
            - {{id: pa, base_url: "{url}", supported_api_surfaces: [{{format: anthropic}}],
               api_keys: [{{value: k-a}}], models: [{{id: claude-x}}]}}
            - {{id: pg, base_url: "{url}/v1beta", supported_api_surfaces: [{{format: gemini}}],
               api_keys: [{{value: k-g}}], models: [{{id: gemini-x}}]}}
{vendors}"""


VENDORS = """\
            - {{id: ollama, base_url: "{url}/v1/", api_keys: [{{value: k-ol}}], models: [{{id: llama3}}]}}
            - {{id: cohere, base_url: "{url}/compatibility/v1", api_keys: [{{value: k-co}}], models: [{{id: command-a}}]}}
            - {{id: bedrock, base_url: "{url}", api_keys: [{{value: k-br}}], models: [{{id: amazon.nova-pro-v1:0}}]}}
"""


@pytest.fixture(scope="module")
def gw(stub: Any) -> Any:
    with policy_gateway(_policy(stub.url), KEY) as server:
        yield server


@pytest.fixture(scope="module")
def vendor() -> Any:
    """A gateway whose providers include one of each native vendor (a stub that answers any path)
    and the OpenAI-format ``po`` serving every model too (the skipped candidate)."""
    up = StubProvider("vendor")
    with ServerThread(up) as server:
        models = "[{id: gpt-4o}, {id: llama3}, {id: command-a}, {id: amazon.nova-pro-v1:0}]"
        policy = _policy(server.url, VENDORS.format(url=server.url)).replace("models: [{id: gpt-4o}]",
                                                                             f"models: {models}")
        with policy_gateway(policy, KEY) as gw:
            yield gw, up


# (client path, body, the path its vendor is sent, the model in the body sent): the client's native
# path under the root of the vendor's base, the model the attempt's; no other candidate is sent it
NATIVE = [
    ("/api/chat", {"model": "llama3", **CHAT}, "/api/chat", "llama3"),
    ("/api/generate", {"model": "llama3", "prompt": "hi"}, "/api/generate", "llama3"),
    ("/v2/chat", {"model": "command-a", **CHAT}, "/v2/chat", "command-a"),
    ("/v1/chat", {"model": "command-a", "message": "hi"}, "/v1/chat", "command-a"),
    ("/model/amazon.nova-pro-v1%3A0/converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
     "/model/amazon.nova-pro-v1:0/converse", None),  # Bedrock's model is the path's: none put in the body
]


@pytest.mark.parametrize(("path", "body", "sent", "model"), NATIVE, ids=[p for p, *_ in NATIVE])
def test_a_native_request_goes_to_its_vendor_only_at_its_native_path(vendor: Any, path: str, body: Any, sent: str,
                                                                     model: str | None) -> None:
    gw, up = vendor
    up.reset()
    r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert [s["path"] for s in up.seen] == [sent]
    assert up.seen[0]["body"].get("model") == model
    assert up.seen[0]["key"] == {"/api": "k-ol", "/v1/": "k-co", "/v2/": "k-co", "/mod": "k-br"}[path[:4]]  # the vendor's


# (client path, body, the path the stub is sent): the format's own path, whatever frame it came in
SERVED = [
    ("/v1/chat/completions", {"model": "gpt-4o", **CHAT}, "/v1/chat/completions"),
    ("/openai/deployments/gpt-4o/chat/completions", {"model": "gpt-4o", **CHAT}, "/v1/chat/completions"),
    ("/openai/deployments/gpt-4o/chat/completions", CHAT, "/v1/chat/completions"),  # the path names it
    ("/compatibility/v1/chat/completions", {"model": "gpt-4o", **CHAT}, "/v1/chat/completions"),
    ("/v1beta/openai/chat/completions", {"model": "gpt-4o", **CHAT}, "/v1/chat/completions"),
    ("/api/v1/chat/completions", {"model": "gpt-4o", **CHAT}, "/v1/chat/completions"),  # OpenRouter's
    ("/v1/messages", {"model": "claude-x", "max_tokens": 5, **CHAT}, "/v1/messages"),
    ("/v1beta/models/gemini-x:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]},
     "/v1beta/models/gemini-x:generateContent"),
    ("/v1/projects/p/locations/l/publishers/google/models/gemini-x:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}]}, "/v1beta/models/gemini-x:generateContent"),
]
# (client path, body, the error's shape: where its message is): no provider speaks these
REFUSED = [
    ("/api/chat", {"model": "gpt-4o", **CHAT}, lambda b: b["error"]),  # Ollama
    ("/api/generate", {"model": "gpt-4o", "prompt": "hi"}, lambda b: b["error"]),
    ("/api/embed", {"model": "gpt-4o", "input": "hi"}, lambda b: b["error"]),
    ("/v2/chat", {"model": "gpt-4o", **CHAT}, lambda b: b["message"]),  # Cohere
    ("/v1/chat", {"model": "gpt-4o", "message": "hi"}, lambda b: b["message"]),
    ("/v2/embed", {"model": "gpt-4o", "texts": ["hi"]}, lambda b: b["message"]),
    ("/model/gpt-4o/converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
     lambda b: b["message"]),  # Bedrock
    ("/model/gpt-4o/converse-stream", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
     lambda b: b["message"]),
    ("/model/gpt-4o/invoke", {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, **CHAT},
     lambda b: b["message"]),  # Claude's body as Bedrock frames it
    ("/v1/projects/p/locations/l/publishers/anthropic/models/gpt-4o:rawPredict",
     {"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, **CHAT}, lambda b: b["error"]["message"]),
]


@pytest.mark.parametrize(("path", "body", "sent"), SERVED, ids=[p for p, _, _ in SERVED])
def test_a_routed_request_goes_to_its_formats_own_path(gw: Any, stub: Any, path: str, body: Any,
                                                       sent: str) -> None:
    before = len(stub.app.seen)
    r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert [s["path"] for s in stub.app.seen[before:]] == [sent]


@pytest.mark.parametrize(("path", "body", "said"), REFUSED, ids=[p for p, _, _ in REFUSED])
def test_a_request_of_a_format_no_provider_speaks_is_refused_in_its_own_shape(gw: Any, stub: Any, path: str,
                                                                              body: Any, said: Any) -> None:
    before = len(stub.app.seen)
    r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 422, r.text
    assert "ERR_NGROK_3805" in said(r.json()) and "API format" in said(r.json())
    assert stub.app.seen[before:] == []
