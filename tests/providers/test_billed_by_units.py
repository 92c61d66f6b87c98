"""Models billed by something else than tokens: what their answers name is priced by it, and
when they name nothing, the cost is unknown, never $0 (a free model, OpenAI's moderations,
stays $0: genai-prices prices it at nothing). Endpoints without output (embeddings, reranks)
read a lone ``total_tokens`` as their input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aigw_policy.providers import PriceBook, classify, extract_usage
from aigw_policy.providers.usage import Usage

OPENAI = "https://api.openai.com/v1"


@pytest.mark.parametrize(("provider", "model", "usage", "usd"), [
    ("openai", "whisper-1", Usage.of(0, 0, source="estimate"), None),  # response_format: text, no usage
    ("openai", "whisper-1", Usage.of(0, 0, units=(("audio_seconds", 60), ("input_audio_seconds", 60))), "0.006"),
    ("openai", "tts-1", Usage.of(12, 0, source="estimate"), None),  # billed per character
    ("groq", "whisper-large-v3", Usage.of(0, 3, source="estimate"), None),  # billed per hour of audio
    ("openai", "omni-moderation-latest", Usage.of(6, 0, source="estimate"), "0"),  # free
    ("openai", "gpt-4o", Usage.of(1000, 0), "0.0025"),
    ("openai", "text-embedding-3-small", Usage.of(1000, 0), "0.00002"),
])
def test_a_model_billed_otherwise_is_priced_by_what_it_names(provider: str, model: str, usage: Usage,
                                                             usd: str | None) -> None:
    cost = PriceBook().cost(provider, model, usage)
    if usd is None:
        assert cost.usd is None and cost.reason and "not billed by the token" in cost.reason
    else:
        assert cost.usd == Decimal(usd)


@pytest.mark.parametrize(("url", "body", "answer", "inp"), [
    ("https://api.voyageai.com/v1/rerank", {"model": "rerank-2", "query": "q", "documents": ["a", "b"]},
     {"object": "list", "data": [], "model": "rerank-2", "usage": {"total_tokens": 26}}, 26),
    ("http://10.0.0.5:8000/v1/rerank", {"model": "BAAI/bge-reranker-v2-m3", "query": "q", "documents": ["a"]},
     {"id": "r", "model": "BAAI/bge-reranker-v2-m3", "results": [], "usage": {"total_tokens": 15}}, 15),
    ("https://api.voyageai.com/v1/embeddings", {"model": "voyage-3", "input": ["a"]},
     {"object": "list", "data": [], "model": "voyage-3", "usage": {"total_tokens": 7}}, 7),
])
def test_a_lone_total_of_an_endpoint_without_output_is_its_input(url: str, body: dict[str, Any],
                                                                 answer: dict[str, Any], inp: int) -> None:
    ai = classify({"url": url, "body": body})
    u = extract_usage(ai, {"status_code": 200, "headers": {}, "body": answer})
    assert (u.input_tokens, u.output_tokens, u.source) == (inp, 0, "provider")


def test_a_chat_s_lone_total_is_still_estimated() -> None:
    ai = classify({"url": f"{OPENAI}/chat/completions", "body": {"model": "m", "messages": [{"role": "user",
                                                                                             "content": "hi"}]}})
    u = extract_usage(ai, {"status_code": 200, "headers": {}, "body": {"model": "m", "usage": {"total_tokens": 9}}})
    assert u.source == "estimate"


@pytest.mark.parametrize(("url", "body", "answer"), [
    (f"{OPENAI}/responses/input_tokens", {"model": "gpt-5", "input": "Tell me a joke about the sea, please."},
     {"object": "response.input_tokens", "input_tokens": 11}),
    ("https://api.anthropic.com/v1/messages/count_tokens",
     {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Tell me a joke about the sea."}]},
     {"input_tokens": 14}),
])
def test_a_token_count_is_not_billed(url: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
    """OpenAI's Responses token count (`/v1/responses/input_tokens`) was a `responses` call whose
    input estimate was charged and priced; like Anthropic's count_tokens it is free."""
    ai = classify({"url": url, "body": body})
    u = extract_usage(ai, {"status_code": 200, "headers": {}, "body": answer})
    assert (ai.operation, u.input_tokens, u.output_tokens, u.source) == ("other", 0, 0, "provider")
