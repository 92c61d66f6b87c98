"""A vendor's native request fails over between candidates of that vendor, through ``serve``.

A request of Ollama's, Cohere's or Bedrock's native API is sent only to candidates of that
vendor (routing/paths.py): a provider whose id or alias is the vendor's name, whose
``base_url`` host is the vendor's (Ollama's port 11434), or, now, whose
``supported_api_surfaces`` declare the format. Before, a second Ollama host behind a proxy, or
a second Bedrock endpoint under another id, could not be said to be the vendor's (``format``
took ``openai``, ``anthropic``, ``gemini`` only, and ids are unique): it was skipped as not
speaking the format, so a failing first host was the end of the route (503). And a provider
whose alias was another provider's id took that id over: the other's candidate was sent
with the wrong base and no key.

Each row: the providers (the first key, ``bad``, is answered 503 by whichever upstream it
reaches; the other, ``good``, the vendor's native answer), the request, and what is served:
the key that served, the path it was sent to, the tokens charged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import policy_gateway, record_of
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-native-failover"
OLLAMA = ("/api/chat", {"model": "llama3", "messages": [{"role": "user", "content": "hi"}], "stream": False},
          {"model": "llama3", "message": {"role": "assistant", "content": "hello"}, "done": True,
           "prompt_eval_count": 26, "eval_count": 5}, 31)
COHERE = ("/v2/chat", {"model": "command-a", "messages": [{"role": "user", "content": "hi"}]},
          {"id": "c1", "finish_reason": "COMPLETE", "message": {"role": "assistant", "content": [
              {"type": "text", "text": "hello"}]}, "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 3},
                                                         "tokens": {"input_tokens": 71, "output_tokens": 3}}}, 8)
BEDROCK = ("/model/amazon.nova-pro-v1:0/converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
           {"output": {"message": {"role": "assistant", "content": [{"text": "hello"}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 7, "outputTokens": 4, "totalTokens": 11}, "metrics": {"latencyMs": 9}}, 11)


def _provider(pid: str, url: str, model: str, keys: str, extra: str = "") -> str:
    return (f"            - {{id: {pid}, base_url: \"{url}\", {extra}api_keys: [{keys}], "
            f"models: [{{id: \"{model}\"}}]}}\n")


BAD, GOOD = "{value: bad, id: k-bad}", "{value: good, id: k-good}"
DECLARE = "supported_api_surfaces: [{{format: {}}}], "
# (id, the providers given the two upstreams' URLs, the request, the path the serving upstream is sent);
# the bad one's id sorts first: the providers of a name are tried alphabetically (route27)
ROWS: list[tuple[str, Any, tuple[Any, ...], str]] = [
    ("two Ollama hosts, the second declared", lambda a, b: _provider("ollama", a + "/v1/", "llama3", BAD)
     + _provider("remote-gpu", b, "llama3", GOOD, DECLARE.format("ollama")), OLLAMA, "/api/chat"),
    ("two Ollama hosts, both declared", lambda a, b: _provider("gpu1", a, "llama3", BAD, DECLARE.format("ollama"))
     + _provider("gpu2", b + "/v1", "llama3", GOOD, DECLARE.format("ollama")), OLLAMA, "/api/chat"),
    ("an alias that is another provider's id", lambda a, b: _provider("ollama", a, "llama3", BAD)
     + _provider("remote-gpu", b, "llama3", GOOD, "id_aliases: [ollama], "), OLLAMA, "/api/chat"),
    ("two Bedrock endpoints", lambda a, b: _provider("bedrock", a, "amazon.nova-pro-v1:0", BAD)
     + _provider("bedrock-west", b, "amazon.nova-pro-v1:0", GOOD, DECLARE.format("bedrock")), BEDROCK,
     "/model/amazon.nova-pro-v1%3A0/converse"),
    ("two Cohere keys", lambda a, b: _provider("cohere", a + "/compatibility/v1", "command-a", f"{BAD}, {GOOD}"),
     COHERE, "/v2/chat"),
]


def _reply(answer: Any) -> Any:
    def reply(request: bytes) -> bytes:
        if b"bearer bad" in request.lower():
            return b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        data = json.dumps(answer).encode()
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data)
    return reply


@pytest.mark.parametrize(("providers", "call", "sent"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_native_request_fails_over_to_another_candidate_of_its_vendor(providers: Any, call: tuple[Any, ...],
                                                                       sent: str) -> None:
    path, body, answer, tokens = call
    with RawUpstream(serve(_reply(answer))) as a, RawUpstream(serve(_reply(answer))) as b:
        policy = ("on_http_request:\n  - name: route\n    actions:\n      - type: ai-gateway\n        config:\n"
                  "          only_allow_configured_providers: true\n          providers:\n" + providers(a.url, b.url))
        with policy_gateway(policy, KEY) as gw:
            r = httpx.post(gw.url + path, json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=20)
            assert r.status_code == 200, r.text
            assert r.json() == answer
            rec = record_of(gw.ledger, r.headers["x-aigw-decision-id"])
            assert (rec["aigw.attempts"], rec["aigw.route.key_id"]) == (2, "k-good")
            assert rec["aigw.usage.total_tokens"] == tokens and rec["aigw.usage.source"] == "provider"
            asked = [req.split(b" ", 2)[1].decode() for up in (a, b) for peer in up.peers for req in peer.requests]
            assert asked[-1] == sent and len(asked) == 2
