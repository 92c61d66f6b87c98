"""Overrides, include_usage injection, token counters, prices."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from aigw_policy.providers import (
    HeuristicCounter,
    PriceBook,
    ProviderError,
    Usage,
    classify,
    inject_include_usage,
    tiktoken_counter,
)
from aigw_policy.providers.price_file import load_price_file

CHAT = {"method": "POST", "url": "https://gw.example/v1/chat/completions", "headers": {},
        "body": {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}}


def test_explicit_override_and_header() -> None:
    assert classify(CHAT, provider="vllm").provider == "vllm"
    assert classify({**CHAT, "headers": {"X-AIGW-Provider": ["ollama"]}}).provider == "ollama"
    assert classify(CHAT, operation="other").operation == "other"


def test_body_shape_detection_without_a_known_path() -> None:
    def op(body: dict) -> tuple[str, str]:
        ai = classify({"url": "https://gw.example/proxy", "body": body})
        return ai.provider, ai.operation

    assert op({"model": "x", "messages": []}) == ("openai", "chat")
    assert op({"model": "x", "system": "s", "max_tokens": 3, "messages": []}) == ("anthropic", "messages")
    assert op({"contents": [{"parts": [{"text": "a"}]}]}) == ("gemini", "chat")
    assert op({"model": "x", "input": "a", "encoding_format": "float"}) == ("openai", "embeddings")
    assert op({"model": "x", "input": [{"role": "user", "content": "a"}]}) == ("openai", "responses")
    assert op({"model": "x", "prompt": "a"}) == ("openai", "completion")
    assert op({}) == ("unknown", "other")


def test_body_as_json_string_and_garbage() -> None:
    ai = classify({**CHAT, "body": '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'})
    assert (ai.model, ai.messages, ai.prompt) == ("gpt-4o", 1, "hi")
    bad = classify({**CHAT, "body": "{not json"})
    assert bad.operation == "chat" and bad.model is None and bad.notes


def test_inject_include_usage() -> None:
    ai = classify(CHAT)
    body, changed = inject_include_usage(ai, CHAT["body"])
    assert changed and body["stream_options"] == {"include_usage": True}
    assert "stream_options" not in CHAT["body"]  # never mutated
    again = classify({**CHAT, "body": body})
    assert again.include_usage and inject_include_usage(again, body) == (body, False)
    ai_msg = classify({"url": "/v1/messages", "body": {"model": "c", "stream": True, "max_tokens": 1, "messages": []}})
    assert inject_include_usage(ai_msg, {"a": 1}) == ({"a": 1}, False)


def test_heuristic_counter_is_deterministic_and_monotonic() -> None:
    c = HeuristicCounter()
    assert c.count("") == 0
    assert c.count("hello world") == 3
    assert c.count("a " * 100) == 100  # words dominate
    assert c.count("x" * 400) == 100
    assert c.count("日本語") == 3  # 9 bytes


def test_tiktoken_is_never_downloaded(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert tiktoken_counter("o200k_base") is None  # no cache file: no network, just None
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"corrupt")
    assert tiktoken_counter("o200k_base") is None  # wrong hash: refused, not re-fetched
    assert tiktoken_counter("no_such_encoding") is None


U = Usage.of(1_000_000, 100_000, cached_input_tokens=200_000, cache_creation_input_tokens=100_000)


def test_override_prices_exact_glob_and_cache_rates() -> None:
    book = PriceBook.from_mapping({
        "openai/gpt-4o": {"input": 2, "output": 10, "cached_input": 1, "cache_creation": 3},
        "vllm/*": {"input": 0, "output": 0},
    })
    cost = book.cost("openai", "gpt-4o", U)
    # 700k plain * 2 + 200k * 1 + 100k * 3 = 1.4 + 0.2 + 0.3 ; 100k * 10 = 1.0
    assert (cost.usd, cost.input_usd, cost.output_usd, cost.source) == (Decimal("2.9"), Decimal("1.9"), Decimal("1"), "override")
    assert book.cost("vllm", "llama", U).usd == 0


def test_unknown_price_is_unknown_never_zero() -> None:
    book = PriceBook()
    for provider, model in (("openai", "no-such-model-xyz"), ("ollama", "llama3.2"), ("openai", None)):
        cost = book.cost(provider, model, U)
        assert cost.usd is None and not cost.known and cost.reason
    assert PriceBook(use_library=False).cost("openai", "gpt-4o", U).usd is None


def test_library_prices_are_used_and_deterministic_with_a_time() -> None:
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    usage = Usage.of(1000, 500, cached_input_tokens=200)
    cost = PriceBook().cost("openai", "gpt-4o", usage, at=at)
    assert cost.source == "genai-prices" and cost.usd is not None and cost.usd > 0
    assert cost == PriceBook().cost("openai", "gpt-4o", usage, at=at)
    assert PriceBook().cost("anthropic", "claude-sonnet-4-20250514", usage, at=at).known
    assert PriceBook().cost("gemini", "gemini-2.5-flash", usage, at=at).known


@pytest.mark.parametrize("bad", [{"input": 1}, {"input": "x", "output": 1}, {"input": -1, "output": 1},
                                 {"input": 1, "output": 1, "cahced_input": 1}, "cheap"])
def test_bad_overrides_are_clear_errors(bad: object) -> None:
    with pytest.raises(ProviderError) as err:
        PriceBook.from_mapping({"m": bad})
    assert err.value.code == "bad-override" and "`m`" in err.value.message


def test_price_file(tmp_path) -> None:
    p = tmp_path / "prices.yaml"
    p.write_text("models:\n  my-model: {input: 1, output: 2}\n")
    assert load_price_file(p).cost("vllm", "my-model", Usage.of(1_000_000, 0)).usd == 1
    with pytest.raises(ProviderError):
        load_price_file(tmp_path / "missing.json")
    bom = tmp_path / "prices.json"  # a BOM (Windows editors write one) is not part of the JSON
    bom.write_bytes(b'\xef\xbb\xbf{"models": {"my-model": {"input": 1, "output": 2}}}')
    assert load_price_file(bom).cost("vllm", "my-model", Usage.of(1_000_000, 0)).usd == 1


def test_gemini_model_version_resource_name_is_priced() -> None:
    """Gemini sends ``modelVersion: "models/gemini-2.5-flash"``: the served model is the name
    without the prefix (as in the URL), so the price is found (it was unknown before)."""
    from aigw_policy.providers import extract_usage

    chunk = {
        "candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        "modelVersion": "models/gemini-2.5-flash",
    }
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
    for action, response in (
        (":generateContent", {"status_code": 200, "headers": {}, "body": chunk}),
        (":streamGenerateContent?alt=sse", {"status_code": 200, "headers": {}, "sse": "data: " + json.dumps(chunk) + "\r\n\r\n"}),
        (":streamGenerateContent", {"status_code": 200, "headers": {}, "body": [chunk]}),
    ):
        ai = classify({"method": "POST", "url": url + action, "headers": {}, "body": {"contents": []}})
        usage = extract_usage(ai, response)
        assert usage.model == "gemini-2.5-flash", action
        assert PriceBook().cost(ai.provider, usage.model, usage).usd is not None, action
    # an OpenAI-compatible server may really name a model `models/...`: kept as sent
    ai = classify({"method": "POST", "url": "http://vllm:8000/v1/chat/completions", "headers": {"x-aigw-provider": "vllm"},
                   "body": {"model": "models/llama", "messages": []}})
    body = {"model": "models/llama", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    assert extract_usage(ai, {"status_code": 200, "headers": {}, "body": body}).model == "models/llama"


def test_gemini_stream_cut_before_final_chunk_is_an_estimate() -> None:
    """usageMetadata is cumulative: a stream cut (or failing) before the chunk with
    finishReason has only partial counts, so the output is estimated (SPEC §7)."""
    from aigw_policy.providers import extract_usage

    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    ai = classify({"method": "POST", "url": url, "headers": {}, "body": {"contents": [{"parts": [{"text": "hi"}]}]}})
    first = {"candidates": [{"content": {"parts": [{"text": "Hello there my friend"}], "role": "model"}}],
             "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    for tail in ('data: {"candi', "data: " + json.dumps(error) + "\r\n\r\n"):
        usage = extract_usage(ai, {"status_code": 200, "headers": {}, "sse": "data: " + json.dumps(first) + "\r\n\r\n" + tail})
        assert usage.source == "estimate"
        assert (usage.input_tokens, usage.output_tokens) == (5, 6)  # "Hello there my friend": 21 bytes -> 6
        assert usage.notes
    last = {**first, "candidates": [{"content": {"parts": [{"text": "!"}], "role": "model"}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 6, "totalTokenCount": 11}}
    sse = "".join("data: " + json.dumps(c) + "\r\n\r\n" for c in (first, last))
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "sse": sse})
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (5, 6, "provider")


def test_sse_leading_bom_is_dropped_wherever_the_stream_is_split() -> None:
    """WHATWG: one leading U+FEFF is stripped; the first event (here the usage) is kept."""
    from aigw_policy.providers import stream_usage

    ai = classify(CHAT)
    data = ("\ufeffdata: " + json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
            + "\n\ndata: [DONE]\n\n").encode()
    for size in (1, 2, 3, 5, len(data)):
        acc = stream_usage(ai)
        for i in range(0, len(data), size):
            acc.feed(data[i : i + size])
        usage = acc.finish()
        assert (usage.input_tokens, usage.output_tokens, usage.source) == (3, 4, "provider"), size


def test_a_misspelled_models_key_is_not_read_as_a_model() -> None:
    from aigw_policy.providers.errors import ProviderError
    from aigw_policy.providers.prices import PriceBook

    with pytest.raises(ProviderError, match="write the models under `models:`"):
        PriceBook.from_mapping({"modles": {"gpt-4o": {"input": 2.5, "output": 10}}})
