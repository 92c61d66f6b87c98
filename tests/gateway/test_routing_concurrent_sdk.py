"""Fifty async SDK sessions at once through `serve` while its first provider fails over (500,
429, too slow) and another model's every attempt stalls until its clients give up: the limit
store and the ledger, both on SQLite, say exactly what was served. Each served request is
charged once (the per-model cap and the team's token limit hold 14 tokens per served answer,
nothing for the requests nobody was served), every request has one final ledger row and none
stays pending."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import openai

from aigw_policy.limits.model import Charge

from .conftest import WAIT, ServerThread
from .providers_stub import OPENAI_USAGE, Reply, StubProvider

KEY = "sk-gw-concurrent"
SERVED, STALLED = 40, 10  # gpt-4o requests (half streamed), and gpt-4o-mini ones that stall


def _policy(a: str, b: str) -> str:
    return f"""\
on_http_request:
  - name: caps
    actions:
      - type: usage-cap
        config: {{name: model-tokens, limit: 1000000000, unit: tokens, period: day, bucket_key: ["ai.model"]}}
      - type: token-limit
        config: {{name: team-tokens, capacity: 100000000, rate: 1h, bucket_key: ["identity.team"]}}
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 1s
          total_timeout: 3s
          only_allow_configured_providers: true
          providers:
            - {{id: a, base_url: "{a}/v1", api_keys: [{{value: sk-concurrent-a-key, id: ka}}],
               models: [{{id: gpt-4o}}, {{id: gpt-4o-mini}}]}}
            - {{id: b, base_url: "{b}/v1", api_keys: [{{value: sk-concurrent-b-key, id: kb}}],
               models: [{{id: gpt-4o}}, {{id: gpt-4o-mini}}]}}
"""


async def _sessions(url: str) -> tuple[list[Any], list[Any]]:
    served = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    leaving = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=0.5)
    msg = [{"role": "user", "content": "hi"}]

    async def one(i: int) -> str:
        if i % 2:
            text = []
            async for chunk in await served.chat.completions.create(model="gpt-4o", messages=msg, stream=True):
                text.extend(c.delta.content or "" for c in chunk.choices)
            return "".join(text)
        done = await served.chat.completions.create(model="gpt-4o", messages=msg)
        return done.choices[0].message.content or ""

    try:
        ok = await asyncio.gather(*(one(i) for i in range(SERVED)), return_exceptions=True)
        gone = await asyncio.gather(*(leaving.chat.completions.create(model="gpt-4o-mini", messages=msg)
                                      for _ in range(STALLED)), return_exceptions=True)
    finally:
        await served.close()
        await leaving.close()
    return ok, gone


def _final_rows(db: Path, want: int) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + WAIT
    while True:
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT request_id, verdict, status_code, request_model, total_tokens "
                               "FROM aigw_usage").fetchall()
        final = [r for r in rows if r[1] != "pending"]
        if len(final) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_fifty_sessions_through_failover_are_charged_exactly_once(tmp_path: Path) -> None:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    a, b = StubProvider("a"), StubProvider("b")
    a.push(Reply(500, model="gpt-4o", times=12), Reply(429, model="gpt-4o", times=8),
           Reply(delay=1.6, model="gpt-4o", times=4), Reply(delay=1.5, model="gpt-4o-mini", times=1000))
    b.push(Reply(delay=1.5, model="gpt-4o-mini", times=1000))
    with ServerThread(a) as up_a, ServerThread(b) as up_b:
        (tmp_path / "policy.yaml").write_text(_policy(up_a.url, up_b.url))
        (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-c, team: crowd}}\n")
        app = Gateway(policy=tmp_path / "policy.yaml", keys=load_keys(tmp_path / "keys.yaml"),
                      store=f"sqlite:{tmp_path / 'limits.db'}", ledger=f"sqlite:{tmp_path / 'usage.db'}", watch=0)
        with ServerThread(app, http=header_timeout_protocol(10.0)) as gw:
            ok, gone = asyncio.run(_sessions(gw.url))
            assert all(text in ("a:gpt-4o routed by the gateway", "b:gpt-4o routed by the gateway", "a:gpt-4o",
                                "b:gpt-4o") for text in ok), ok
            assert all(isinstance(e, (openai.APITimeoutError, openai.APIStatusError)) for e in gone), gone
            rows = _final_rows(tmp_path / "usage.db", SERVED + STALLED)
            engine = app.holder.current
            now = time.time()

            def used(limit: str, key: str) -> float:
                spec = engine.compiled.limits[limit][1].limit.spec
                return engine.store.check([Charge(spec, key, 0)], now)[0].used

            tokens = OPENAI_USAGE["total_tokens"]
            assert sorted(r[1] for r in rows).count("pending") == 0, rows
            assert len(rows) == len({r[0] for r in rows}) == SERVED + STALLED
            served = [r for r in rows if r[2] == 200]
            assert len(served) == SERVED and {r[3] for r in served} == {"gpt-4o"}
            assert sum(r[4] for r in served) == SERVED * tokens
            assert used("model-tokens", "gpt-4o") == SERVED * tokens
            assert used("model-tokens", "gpt-4o-mini") == 0
            assert used("team-tokens", "crowd") == SERVED * tokens  # the stalled ones' reservations released
