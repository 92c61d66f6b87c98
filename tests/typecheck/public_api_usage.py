"""Embedding code as an application writes it: ``mypy --strict`` must accept this file (and
reject a typo in it: see tests/engine/test_typing.py). Not a test module: it is type-checked,
and run once to be sure it is true."""

from __future__ import annotations

import asyncio
from typing import Any

import aigw_policy as ap

POLICY = ap.loads('policy { on request { rule "tpm" { token-limit { name: "team-tpm", capacity: 1000, '
                  'rate: 60s, bucket_key: [identity.team] } } } }')
REQUEST: dict[str, Any] = {
    "id": "r1", "identity": {"key": "k1", "team": "research"},
    "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                "body": {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}}}
RESPONSE: dict[str, Any] = {"status_code": 200, "body": {"usage": {"prompt_tokens": 5, "completion_tokens": 10}}}


def forward(engine: ap.Engine) -> tuple[int, str | None, float | None]:
    decision: ap.Decision = engine.evaluate(REQUEST)
    verdict: ap.Verdict = decision.verdict
    if verdict == "deny":
        return decision.status_code, decision.reason, None
    final = engine.complete(decision.id, RESPONSE)
    limits: list[dict[str, Any]] = final.limits
    used: float = limits[0]["used"]
    cost: float | None = final.cost_usd
    assert final.complete and final.usage is not None and used >= 0
    return final.status_code, final.rule, cost


async def aforward(engine: ap.Engine) -> ap.Decision:
    await engine.acheck()
    decision = await engine.aevaluate({**REQUEST, "id": "r2"})
    try:
        return await engine.acomplete(decision.id, RESPONSE)
    except ap.UnknownRequestError as error:
        missing: str = error.request_id
        raise RuntimeError(missing) from error


def main() -> None:
    store: ap.stores.LimitStore = ap.stores.MemoryStore(max_records=10_000)
    engine = ap.Engine(POLICY, store=store, max_pending=1_000)
    try:
        engine.check()
    except ap.StoreUnavailableError as error:
        raise SystemExit(f"cannot start: {error}") from None
    status, rule, cost = forward(engine)
    final = asyncio.run(aforward(engine))
    headers: dict[str, Any] = final.effects
    notes: list[str] = final.notes
    print(status, rule, cost, final.to_dict()["verdict"], headers, notes, final.at, final.text())


if __name__ == "__main__":
    main()
