"""The gateway's engine remembers few completed decisions (``GATEWAY_MAX_DONE``): it completes
each request once, within its exchange, and every decision kept is objects the garbage
collector walks again and again (docs/gateway.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from aigw_policy.gateway import Gateway
from aigw_policy.gateway.app import GATEWAY_MAX_DONE

POLICY = 'policy { on request { rule "t" { rate-limit { name: "t", capacity: 1_000_000, rate: 60s } } } }'
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
ANSWER = json.dumps({"id": "c1", "object": "chat.completion", "model": "gpt-4o",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()


async def _upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": ANSWER})


def test_the_gateway_remembers_at_most_its_bound_of_completed_decisions(tmp_path: Path) -> None:
    (tmp_path / "policy.aigw").write_text(POLICY)
    app = Gateway(policy=str(tmp_path / "policy.aigw"), upstream="http://127.0.0.1:9", watch=0, sighup=False)
    app.proxy = app.middleware.app = _upstream
    n = GATEWAY_MAX_DONE + 40

    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            return [(await client.post("/v1/chat/completions", json=CHAT)).status_code for _ in range(n)]

    assert asyncio.run(run()) == [200] * n
    engine = app.holder.current
    assert engine.max_done == GATEWAY_MAX_DONE < 4096
    assert len(engine._done) == GATEWAY_MAX_DONE  # every request completed; only the last ones kept
    assert not engine._pending and not engine._running
