"""Through the middleware, a ``max-tokens`` output cap in reject mode refuses a request that
sets no cap of its own with a 413 in the ``aigw`` error object (code ``max-tokens``, the rule,
a reason saying to set one), before anything is forwarded; the same request with a cap within
the rule's is forwarded unchanged, and an embeddings request (nothing to cap) passes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware

POLICY = 'policy { on request { rule "cap-output" { max-tokens { output: 512 } } } }'
USER = [{"role": "user", "content": "hi"}]


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(json.loads(raw))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})


def send(host: str, path: str, body: dict[str, Any]) -> tuple[httpx.Response, list[Any]]:
    app = Recorder()
    mw = PolicyMiddleware(app, ap.Engine(ap.loads(POLICY)))

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url=f"http://{host}") as client:
            return await client.post(path, json=body)

    return asyncio.run(go()), app.bodies


CASES = [  # (host, path, uncapped body, the same with a cap of 512)
    ("api.openai.com", "/v1/chat/completions", {"model": "gpt-4o", "messages": USER},
     {"model": "gpt-4o", "max_completion_tokens": 512, "messages": USER}),
    ("api.openai.com", "/v1/responses", {"model": "gpt-5", "input": "hi", "stream": True},
     {"model": "gpt-5", "input": "hi", "stream": True, "max_output_tokens": 100}),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}]},
     {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 512}}),
    ("bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-pro-v1%3A0/converse",
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 8}}),
]


@pytest.mark.parametrize(("host", "path", "uncapped", "capped"), CASES, ids=[c[1] for c in CASES])
def test_an_uncapped_request_is_refused_before_it_is_forwarded(host: str, path: str, uncapped: dict[str, Any],
                                                               capped: dict[str, Any]) -> None:
    refused, forwarded = send(host, path, uncapped)
    assert refused.status_code == 413 and forwarded == []
    aigw = refused.json()["aigw"] if "aigw" in refused.json() else refused.json()["error"]["aigw"]  # by error shape
    assert aigw["code"] == "max-tokens" and aigw["rule"] == "cap-output"
    assert "sets no maximum output tokens" in aigw["reason"] and "512 or less" in aigw["reason"]
    served, forwarded = send(host, path, capped)
    assert served.status_code == 200 and forwarded == [capped]


def test_a_request_with_nothing_to_cap_is_forwarded() -> None:
    body = {"model": "text-embedding-3-small", "input": "hi"}
    served, forwarded = send("api.openai.com", "/v1/embeddings", body)
    assert served.status_code == 200 and forwarded == [body]
