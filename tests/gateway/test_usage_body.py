"""A stream past the capture limit has its usage read as it passes (``captured.py``) and
handed to the engine as a JSON body in the provider's own shape (``usage_body``): every count
the stream reported comes back the same, the 1-hour cache writes included, and the counts
priced apart (web searches, audio, image) and the service tier."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.gateway.captured import usage_body
from aigw_policy.providers import AiRequest, StreamUsage, extract_usage


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


ANTHROPIC = _sse(
    {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {
        "input_tokens": 10, "cache_read_input_tokens": 300, "cache_creation_input_tokens": 5000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 4000}, "output_tokens": 1}}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hello"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
     "usage": {"output_tokens": 42, "server_tool_use": {"web_search_requests": 3}, "cost_in_usd_ticks": 37756000,
               "output_tokens_details": {"thinking_tokens": 30}}},
)
OPENAI = (b'data: {"model":"gpt-4o","choices":[{"delta":{"content":"hi"}}]}\n\n'
          b'data: {"model":"gpt-4o","service_tier":"flex","choices":[],"usage":{"prompt_tokens":20,'
          b'"completion_tokens":7,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":8,"cache_write_tokens":4,'
          b'"audio_tokens":5},"completion_tokens_details":{"reasoning_tokens":3,"audio_tokens":2}}}\n\n'
          b"data: [DONE]\n\n")
GEMINI = (b'data: {"modelVersion":"gemini-2.5-flash-image","candidates":[{"content":{"parts":[{"text":"a"}]},'
          b'"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":1290,'
          b'"cachedContentTokenCount":100,"promptTokensDetails":[{"modality":"TEXT","tokenCount":40},'
          b'{"modality":"AUDIO","tokenCount":260}],"cacheTokensDetails":[{"modality":"AUDIO","tokenCount":100}],'
          b'"candidatesTokensDetails":[{"modality":"IMAGE","tokenCount":1290}]}}\n\n')

GROUNDED = (b'data: {"modelVersion":"gemini-3-pro-preview","candidates":[{"index":0,"content":{"parts":[{"text":"a"}]},'
            b'"finishReason":"STOP","groundingMetadata":{"webSearchQueries":["euro 2024 winner","euro 2024 final"]}}],'
            b'"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":9,"toolUsePromptTokenCount":200,'
            b'"totalTokenCount":239}}\n\n')
INTERACTIONS = (b'data: {"event_type":"step.delta","index":0,"delta":{"type":"text","text":"hi"}}\n\n'
                b'data: {"event_type":"interaction.completed","interaction":{"model":"gemini-2.5-flash","usage":'
                b'{"total_input_tokens":300,"total_cached_tokens":100,"total_output_tokens":9,"total_thought_tokens":40,'
                b'"total_tokens":349,"input_tokens_by_modality":[{"modality":"text","tokens":40},'
                b'{"modality":"audio","tokens":260}]}}}\n\n')
RESPONSES = _sse(
    {"type": "response.created", "response": {"model": "gpt-4o", "status": "in_progress", "output": []}},
    {"type": "response.completed", "response": {"model": "gpt-4o", "status": "completed", "output": [
        {"type": "web_search_call", "action": {"type": "search", "query": "euro 2024"}},
        {"type": "file_search_call", "queries": ["otters"]},
        {"type": "message", "content": [{"type": "output_text", "text": "Spain"}]}],
        "usage": {"input_tokens": 300, "output_tokens": 20, "total_tokens": 320,
                  "input_tokens_details": {"cached_tokens": 0, "image_tokens": 100},
                  "output_tokens_details": {"reasoning_tokens": 0}}}})

PLAIN_SEARCH = _sse(  # no modality detail: the body handed back took the chat fast path, its searches dropped
    {"type": "response.completed", "response": {"model": "gpt-4o", "status": "completed", "output": [
        {"type": "web_search_call", "action": {"type": "search", "query": "euro 2024"}}],
        "usage": {"input_tokens": 300, "output_tokens": 20, "total_tokens": 320}}})
IMAGE_GEN = _sse(  # the Responses API's image generation tool: its image model's counts apart (tool_models.py)
    {"type": "response.image_generation_call.partial_image", "partial_image_b64": "iVBORw0KGgo="},
    {"type": "response.completed", "response": {"model": "gpt-5.5", "status": "completed", "output": [
        {"type": "web_search_call", "action": {"type": "search", "query": "lighthouse"}}],
        "tools": [{"type": "image_generation", "model": "gpt-image-1-mini"}],
        "tool_usage": {"image_gen": {"input_tokens": 340, "input_tokens_details": {"image_tokens": 300, "text_tokens": 40},
                                     "output_tokens": 1056, "output_tokens_details": {"image_tokens": 1056},
                                     "total_tokens": 1396}},
        "usage": {"input_tokens": 1820, "output_tokens": 210, "total_tokens": 2030}}})


@pytest.mark.parametrize(("api", "provider", "stream"), [
    ("anthropic", "anthropic", ANTHROPIC), ("openai", "openai", OPENAI), ("gemini", "gemini", GEMINI),
    ("gemini", "gemini", GROUNDED), ("openai", "openai", RESPONSES), ("gemini", "gemini", INTERACTIONS),
    ("openai", "openai", PLAIN_SEARCH), ("openai", "openai", IMAGE_GEN)],
    ids=["anthropic", "openai", "gemini", "gemini grounded", "responses searches", "gemini interactions",
         "responses searches, no details", "responses image generation"])
def test_the_counts_come_back_the_same(api: str, provider: str, stream: bytes) -> None:
    acc = StreamUsage(api)
    acc.feed(stream)
    reported = acc.finish()
    assert reported.source == "provider"
    ai = AiRequest(provider, "chat", api=api)  # type: ignore[arg-type]
    back = extract_usage(ai, {"status_code": 200, "headers": {}, "body": usage_body(acc, api)})
    assert back.counts() == reported.counts()
    assert (back.units, back.service_tier) == (reported.units, reported.service_tier) and reported.units
    assert back.other_models == reported.other_models
    assert back.reported_usd == reported.reported_usd
    if api == "anthropic":  # xAI's ticks in Anthropic's shape come back (payloads20)
        assert str(back.reported_usd) == "0.0037756"
    if api == "anthropic":
        assert (back.cache_creation_1h_input_tokens, back.reasoning_tokens) == (4000, 30)


OPENROUTER = (b'data: {"model":"openai/gpt-4o","choices":[{"delta":{"content":"hi"}}]}\n\n'
              b'data: {"model":"openai/gpt-4o","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":7,'
              b'"total_tokens":27,"cost":0.0000351,"is_byok":true,"cost_details":{"upstream_inference_cost":0.000702}}}\n\n'
              b"data: [DONE]\n\n")


def test_the_cost_openrouter_reported_comes_back_the_same() -> None:
    """An overflowing OpenRouter stream: its reported cost (fee and upstream charge) is what
    the engine prices, as for a stream kept whole (before: dropped, priced from genai-prices)."""
    acc = StreamUsage("openai")
    acc.feed(OPENROUTER)
    reported = acc.finish()
    assert str(reported.reported_usd) == "0.0007371"
    back = extract_usage(AiRequest("openrouter", "chat", api="openai"),
                         {"status_code": 200, "headers": {}, "body": usage_body(acc, "openai")})
    assert (back.counts(), back.reported_usd) == (reported.counts(), reported.reported_usd)


GROQ_COMPOUND = (b'data: {"model":"groq/compound","choices":[{"delta":{"content":"hi"}}]}\n\n'
                 b'data: {"model":"groq/compound","choices":[{"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r",'
                 b'"usage":{"prompt_tokens":5120,"completion_tokens":737,"total_tokens":5857},"usage_breakdown":'
                 b'{"models":[{"model":"openai/gpt-oss-120b","usage":{"prompt_tokens":3912,"completion_tokens":640,'
                 b'"total_tokens":4552}},{"model":"meta-llama/llama-4-scout-17b-16e-instruct","usage":'
                 b'{"prompt_tokens":1208,"completion_tokens":97,"total_tokens":1305}}]}}}\n\n'
                 b"data: [DONE]\n\n")


def test_the_models_a_groq_compound_stream_ran_come_back_the_same() -> None:
    """An overflowing Groq compound stream (tests/providers/test_groq_compound.py): its models
    and their counts come back as ``usage_breakdown``, priced by its parts; not as the image
    tool of the Responses API, which the other models of a usage were before (payloads22)."""
    acc = StreamUsage("openai")
    acc.feed(GROQ_COMPOUND)
    reported = acc.finish()
    assert reported.by_parts and len(reported.other_models) == 2
    back = extract_usage(AiRequest("groq", "chat", api="openai"),
                         {"status_code": 200, "headers": {}, "body": usage_body(acc, "openai")})
    assert (back.counts(), back.other_models, back.by_parts) == (reported.counts(), reported.other_models, True)


VERTEX_PRIORITY = (b'data: {"modelVersion":"gemini-2.5-flash","candidates":[{"content":{"parts":[{"text":"a"}]},'
                   b'"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":9,'
                   b'"totalTokenCount":309,"trafficType":"ON_DEMAND_PRIORITY"}}\n\n')


def test_the_tier_a_vertex_stream_was_served_at_comes_back_the_same() -> None:
    """Vertex AI names its tier in ``usageMetadata.trafficType`` (payloads22): an overflowing
    stream's rebuilt body names it so too, or a priority answer past the capture limit would
    be priced standard."""
    acc = StreamUsage("gemini")
    acc.feed(VERTEX_PRIORITY)
    reported = acc.finish()
    assert reported.service_tier == "priority"
    back = extract_usage(AiRequest("vertex_ai", "chat", api="gemini"),
                         {"status_code": 200, "headers": {}, "body": usage_body(acc, "gemini")})
    assert (back.counts(), back.service_tier) == (reported.counts(), "priority")
