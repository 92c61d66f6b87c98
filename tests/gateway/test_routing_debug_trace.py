"""ngrok's debugging trace through ``serve``: the guide's "return results as response" pattern
(``on_error: continue``, then a ``custom-response`` whose body is ``${actions.ngrok.ai_gateway}``)
answers with what the gateway did: the upstream URL it sent to, what the upstream answered
(status, headers, its message), how long it took, by key id and never key text (the
upstream's message quotes the key: it is ``***`` there)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, lifespan, policy_gateway, routed_policy

KEY = "sk-gw-debug-trace"
UPSTREAM_KEY = "sk-routed-debug"  # routed_policy's key: sk-routed-debug-0, id k0
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


async def limited(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An upstream that answers 429, quoting the key it was sent."""
    if await lifespan(scope, receive, send):
        return
    while (await receive()).get("more_body"):
        pass
    key = dict(scope["headers"]).get(b"authorization", b"").decode().removeprefix("Bearer ")
    data = json.dumps({"error": {"message": f"Rate limit exceeded for key {key}", "type": "rate_limit_error"}}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module")
def trace() -> Any:
    with ServerThread(limited) as up:
        policy = routed_policy([up.url], key=UPSTREAM_KEY, config="          on_error: continue\n") + AFTER
        with policy_gateway(policy, KEY) as gw:
            answer = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
            yield up.url, answer


def test_the_answer_is_the_trace(trace: Any) -> None:
    _, answer = trace
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["status"], body["error"]["code"]) == ("error", "ERR_NGROK_3807")
    assert body["client"]["user_agent"].startswith("python-httpx/")


def test_each_request_made_says_where_it_went_and_what_came_back(trace: Any) -> None:
    upstream, answer = trace
    made = answer.json()["models_tried"][0]["requests_made"][0]
    assert made["request"] == {"url": upstream + "/v1/chat/completions", "api_key": "k0"}
    assert made["response"]["status_code"] == 429
    assert made["response"]["headers"]["content-type"] == ["application/json"]
    assert made["response"]["body_on_error"].startswith("429 Rate limit exceeded for key ")
    latency = made["upstream_latency"]
    # whole milliseconds, as ngrok's variables page types them (integer)
    assert type(latency["total_ms"]) is int and type(latency["time_to_first_byte_ms"]) is int


def test_no_key_text_is_in_the_trace(trace: Any) -> None:
    _, answer = trace
    assert UPSTREAM_KEY not in answer.text and KEY not in answer.text
    assert answer.json()["client"]["api_key_hash"] == ""  # the gateway's key is not the policy's to see
