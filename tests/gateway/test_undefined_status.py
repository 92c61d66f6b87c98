"""An answer whose status HTTP does not define (999) is a broken upstream: no traceback, and
the request's reservation is settled, never left held."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

import aigw_policy as ap
from aigw_policy.gateway.middleware import PolicyMiddleware

POLICY = 'policy { on request { rule "tpm" { token-limit { name: "tpm", capacity: 100_000, rate: 1h } } } }'
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


async def _status_999(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    body = b'{"usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}'
    await send({"type": "http.response.start", "status": 999, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def test_an_undefined_status_is_settled_without_a_traceback() -> None:
    engine = ap.Engine(ap.loads(POLICY))
    app = PolicyMiddleware(_status_999, engine)

    async def run() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            r = await client.post("/v1/chat/completions", json=CHAT)
            return r.status_code

    asyncio.run(run())
    assert len(engine._pending) == 0  # completed (as a 502: nothing to read), not left waiting


def test_a_body_that_starts_as_json_is_judged_as_json_whatever_its_type() -> None:
    """`{"model": "gpt-4o"}{}` sent as image/png: an upstream that reads JSON regardless of the
    content type and ignores trailing bytes would serve gpt-4o past a model rule."""
    import pytest

    from aigw_policy.gateway.request_body import BadBody, parse_body

    for media in ("image/png", "application/octet-stream", "text/html"):
        with pytest.raises(BadBody):
            parse_body(b'{"model": "gpt-4o", "max_tokens": 100000}{}', media)
        with pytest.raises(BadBody):
            parse_body(b'  [1, 2] x', media)
    assert parse_body(b"GIF89a\x00\x01", "image/gif") == "GIF89a\x00\x01"  # not JSON: passes as text
    assert parse_body(b'{"model": "gpt-4o"}', "image/png") == {"model": "gpt-4o"}


def test_the_clamp_on_ollama_s_native_api_sets_num_predict() -> None:
    from aigw_policy.gateway.effects import set_max_tokens

    for path in ("/api/chat", "/api/generate"):
        body = {"model": "llama3", "options": {"num_predict": 5_000_000, "temperature": 0}}
        set_max_tokens(body, "ollama", "chat", path, 512)
        assert body["options"] == {"num_predict": 512, "temperature": 0} and "max_tokens" not in body
