"""A request for several outputs (OpenAI ``n`` / ``best_of``, Gemini ``candidateCount``)
reserves room for each of them: every choice may be up to the output cap, and every one is
billed. Reserving one choice's worth let ``n: 8`` take eight times what its limit admitted."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap

POLICY = ap.loads('policy { on request { rule "tpm" { token-limit { name: "tpm", capacity: 100_000, rate: 1m } } } }')


def _openai(**extra: Any) -> dict[str, Any]:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 200, **extra}
    return {"id": "r1", "now": "2026-11-26T12:00:00Z", "identity": {"key": "k1"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "body": body}}


def _gemini(**config: Any) -> dict[str, Any]:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"maxOutputTokens": 200, **config}}
    return {"id": "r1", "now": "2026-11-26T12:00:00Z", "identity": {"key": "k1"},
            "request": {"method": "POST", "body": body,
                        "url": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"}}


def _reserved(request: dict[str, Any]) -> float:
    decision = ap.Engine(POLICY).evaluate(request, expect_response=False)
    [entry] = decision.to_dict()["limits"]
    return entry["cost"]


@pytest.mark.parametrize(("make", "field", "count"), [
    (_openai, "n", 3), (_openai, "best_of", 4), (_gemini, "candidateCount", 5)])
def test_each_requested_output_is_reserved(make: Any, field: str, count: int) -> None:
    one = _reserved(make())
    many = _reserved(make(**{field: count}))
    assert many - one == 200 * (count - 1)


def test_one_output_when_none_is_said() -> None:
    assert _reserved(_openai(n=1)) == _reserved(_openai())
