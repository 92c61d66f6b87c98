"""Every provider fixture: classification fields and exact usage (provider or estimate)."""

from __future__ import annotations

import pytest

from aigw_policy.providers import classify, extract_usage, stream_usage

from .conftest import CASES, STREAM_CASES, Case


def test_fixture_set_is_complete() -> None:
    have = {(c.provider, c.kind) for c in CASES}
    for provider in ("openai", "anthropic", "gemini", "vllm", "ollama"):
        assert (provider, "json") in have
        assert any(p == provider and k != "json" for p, k in have), provider
    ops = {classify(c.expected["request"]).operation for c in CASES}
    assert {"chat", "completion", "responses", "messages", "embeddings"} <= ops


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_classification(case: Case) -> None:
    ai = classify(case.expected["request"]).to_cel()
    for key, want in case.expected.get("ai", {}).items():
        assert ai[key] == want, key
    assert ai["input_tokens"] > 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_usage(case: Case) -> None:
    ai = classify(case.expected["request"])
    usage = extract_usage(ai, case.response())
    want = dict(case.expected["usage"])
    model = want.pop("model", None)
    assert usage.to_dict() == want
    if model is not None:
        assert usage.model == model
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    if usage.source == "estimate":
        assert usage.notes, "an estimate says why"


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda c: c.id)
def test_stream_fed_byte_by_byte(case: Case) -> None:
    ai = classify(case.expected["request"])
    acc = stream_usage(ai)
    for i in range(len(case.payload)):
        acc.feed(case.payload[i : i + 1])
    assert acc.finish() == extract_usage(ai, case.response())
