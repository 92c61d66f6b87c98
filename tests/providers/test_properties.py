"""Properties: stream splitting never changes usage; hostile input never crashes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.providers import ProviderError, Usage, classify, extract_usage, stream_usage
from aigw_policy.providers.sse import SSEParser

from .conftest import STREAM_CASES, Case

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda c: c.id)
@SETTINGS
@given(cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=40))
def test_any_split_gives_the_same_usage(case: Case, cuts: list[int]) -> None:
    ai = classify(case.expected["request"])
    whole = stream_usage(ai)
    whole.feed(case.payload)
    acc = stream_usage(ai)
    for chunk in _split(case.payload, cuts):
        acc.feed(chunk)
    assert acc.finish() == whole.finish()


@SETTINGS
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=10))
def test_sse_parser_events_do_not_depend_on_splits(data: bytes, cuts: list[int]) -> None:
    one = SSEParser()
    events = one.feed(data) + one.finish()
    other = SSEParser()
    got = []
    for chunk in _split(data, cuts):
        got += other.feed(chunk)
    assert got + other.finish() == events


sse_like = st.lists(
    st.one_of(
        st.sampled_from([b"data: ", b"event: message_delta\n", b"\n\n", b"\r\n", b"\r", b": ping\n", b"data: [DONE]\n\n"]),
        st.binary(max_size=40),
        st.builds(lambda o: b"data: " + json.dumps(o).encode() + b"\n\n", st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
            lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                st.sampled_from(["usage", "type", "message", "output_tokens", "input_tokens", "usageMetadata",
                                 "promptTokenCount", "choices", "delta", "response", "done", "prompt_eval_count",
                                 # Bedrock InvokeModel's families, Cohere v1, reported costs (session 14)
                                 "amazon-bedrock-invocationMetrics", "inputTokenCount", "prompt_token_count",
                                 "generation_token_count", "inputTextTokenCount", "metadata", "event_type",
                                 "is_finished", "meta", "billed_units", "cost", "is_byok", "seconds",
                                 # Groq's compound systems, Vertex AI's tier (payloads22)
                                 "x_groq", "usage_breakdown", "models", "model", "prompt_tokens", "trafficType"]),
                kids, max_size=4),
            max_leaves=12)),
    ),
    max_size=30,
)


@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini", "ollama", "cohere", "bedrock"])
@SETTINGS
@given(parts=sse_like)
def test_hostile_streams_give_usage_never_crash(api: str, parts: list[bytes]) -> None:
    from aigw_policy.providers.sse import StreamUsage

    acc = StreamUsage(api, input_estimate=10)
    for p in parts:
        acc.feed(p)
    usage = acc.finish()
    assert isinstance(usage, Usage)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert min(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) >= 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["model", "messages", "content", "usage", "prompt_tokens", "input_tokens", "contents",
                         "parts", "text", "tools", "function", "name", "stream", "max_tokens", "input",
                         "generationConfig", "maxOutputTokens", "system", "candidates", "usageMetadata",
                         "inputText", "max_gen_len", "textGenerationConfig", "inferenceConfig", "max_new_tokens",
                         "toolConfig", "toolSpec", "toolUse", "toolResult", "chat_history", "preamble", "message",
                         "cost", "is_byok", "seconds", "search_units", "meta", "billed_units",
                         "prompt_audio_seconds"]) | st.text(max_size=5),
        kids, max_size=5),
    max_leaves=25,
)
urls = st.sampled_from(["/v1/chat/completions", "https://api.anthropic.com/v1/messages", "/v1/responses",
                        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "/api/chat", "", "::::", "/x",
                        "https://bedrock-runtime.us-east-1.amazonaws.com/model/meta.llama3-8b-instruct-v1:0/invoke",
                        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
                        "https://api.cohere.com/v1/chat", "https://api.cohere.com/v2/rerank",
                        "https://openrouter.ai/api/v1/chat/completions"])


@SETTINGS
@given(url=urls, body=json_values | st.text(max_size=50), headers=json_values, response=json_values)
def test_hostile_payloads_classify_and_extract(url: str, body: object, headers: object, response: object) -> None:
    ai = classify({"method": "POST", "url": url, "headers": headers, "body": body})
    usage = extract_usage(ai, {"status_code": 200, "headers": {}, "body": response})
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_deeply_nested_json_is_an_estimate_not_a_crash() -> None:
    ai = classify({"url": "/v1/chat/completions", "body": "[" * 100000})
    assert ai.operation == "chat" and ai.notes
    usage = extract_usage(ai, {"status_code": 200, "body": "[" * 100000})
    assert usage.source == "estimate"
    acc = stream_usage(ai)
    acc.feed(b"data: " + b"[" * 100000 + b"\n\n")
    assert acc.finish().source == "estimate"


def test_oversized_event_is_dropped_and_noted() -> None:
    ai = classify({"url": "/v1/chat/completions", "body": {"model": "m", "messages": [], "stream": True}})
    acc = stream_usage(ai)
    acc.feed(b"data: " + b"x" * (9 * 1024 * 1024))
    acc.feed(b"\n\ndata: " + json.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}).encode() + b"\n\n")
    usage = acc.finish()
    assert (usage.input_tokens, usage.output_tokens, usage.source) == (1, 2, "provider")
    assert any("oversized" in n for n in usage.notes)


def test_bad_usage_numbers_are_not_trusted() -> None:
    ai = classify({"url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}})
    for bad in (-5, "-12", "1.5", " 12", "12abc", "", "9" * 17, True, 1.5, 10**30, None):
        usage = extract_usage(ai, {"status_code": 200, "body": {"usage": {"prompt_tokens": bad, "completion_tokens": 1}}})
        assert usage.source == "estimate", bad


def test_upstream_error_without_usage_is_zero_output_estimate() -> None:
    ai = classify({"url": "/v1/messages", "body": {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}})
    usage = extract_usage(ai, {"status_code": 529, "body": {"type": "error", "error": {"type": "overloaded_error"}}})
    assert (usage.output_tokens, usage.source) == (0, "estimate")
    assert usage.input_tokens == ai.input_tokens


def test_unknown_override_is_a_clear_error() -> None:
    with pytest.raises(ProviderError) as err:
        classify({"url": "/v1/chat/completions"}, provider="openia")
    assert err.value.code == "bad-override" and "`openia`" in err.value.message
