"""Classes around the fixtures in ``data/spec/{cohere,bedrock,vendors}`` (run through ``explain``
and split anywhere by test_spec_payloads.py / test_payload_classes.py):

- a vendor's own host names who serves and bills a request (its label and its genai-prices
  provider), whatever wire format the path speaks;
- Cohere's native usage: the billed units, never the model's whole token count beside them;
- Bedrock: the model in the path in every form, Converse's cache counts beside ``inputTokens``
  (or inside it, when ``totalTokens`` says so), AWS's binary event-stream split anywhere.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import replace
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.providers import PriceBook, classify, extract_usage, stream_usage
from aigw_policy.providers.eventstream import EventStreamParser, encode_message
from aigw_policy.providers.framing import MAX_EVENT_BYTES
from aigw_policy.providers.vendor_usage import bedrock_usage, cohere_usage

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("url", "model", "label"), [
    ("https://api.x.ai/v1/chat/completions", "grok-4", "xai"),
    ("https://api.mistral.ai/v1/chat/completions", "mistral-small-latest", "mistral"),
    ("https://api.deepseek.com/chat/completions", "deepseek-chat", "deepseek"),
    ("https://api.groq.com/openai/v1/chat/completions", "llama-3.3-70b-versatile", "groq"),
    ("https://api.together.xyz/v1/chat/completions", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together"),
    ("https://api.fireworks.ai/inference/v1/chat/completions", "accounts/fireworks/models/llama-v3p1-8b-instruct",
     "fireworks"),
    ("https://openrouter.ai/api/v1/chat/completions", "openai/gpt-4o", "openrouter"),
    ("https://api.perplexity.ai/chat/completions", "sonar-pro", "perplexity"),
    ("https://api.cerebras.ai/v1/chat/completions", "gpt-oss-120b", "cerebras"),
    ("https://api.moonshot.ai/v1/chat/completions", "kimi-k2-0905-preview", "moonshot"),
    ("https://api.cohere.com/compatibility/v1/chat/completions", "command-a-03-2025", "cohere"),
    ("https://contoso.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview", "DeepSeek-R1",
     "azure_ai"),
    # the hosts of genai-prices' providers (their `api_pattern`), labelled `openai` before payloads27: unpriced
    ("https://api.z.ai/api/paas/v4/chat/completions", "glm-4.7", "zai"),
    ("https://open.bigmodel.cn/api/paas/v4/chat/completions", "glm-4-plus", "zhipuai"),
    ("https://api.minimax.io/v1/chat/completions", "MiniMax-M2", "minimax"),
    ("https://api.minimaxi.com/v1/chat/completions", "MiniMax-M2", "minimax"),
    ("https://api.novita.ai/openai/v1/chat/completions", "baidu/ernie-4.5-21B-a3b", "novita"),
    ("https://inference.baseten.co/v1/chat/completions", "deepseek-ai/DeepSeek-V4-Pro", "baseten"),
    ("https://oai.endpoints.kepler.ai.cloud.ovh.net/v1/chat/completions", "Meta-Llama-3_3-70B-Instruct", "ovhcloud"),
    ("https://api.doubleword.ai/v1/chat/completions", "Qwen/Qwen3-14B-FP8", "doubleword"),
    ("https://api.arcee.ai/api/v1/chat/completions", "moonshotai/kimi-k3", "arcee"),
    ("https://api.avian.io/v1/chat/completions", "deepseek/deepseek-v3.2", "avian"),
    # Hugging Face's router names the provider in the path (genai-prices' `huggingface_{provider}`)
    ("https://router.huggingface.co/together/v1/chat/completions", "deepseek-ai/DeepSeek-R1", "huggingface_together"),
    ("https://router.huggingface.co/novita/v3/openai/chat/completions", "deepseek-ai/DeepSeek-R1", "huggingface_novita"),
    ("https://router.huggingface.co/fireworks-ai/inference/v1/chat/completions", "openai/gpt-oss-120b",
     "huggingface_fireworks-ai"),
    ("https://router.huggingface.co/cerebras/v1/chat/completions", "openai/gpt-oss-120b", "huggingface_cerebras"),
])
def test_a_vendor_host_names_the_provider_that_bills(url: str, model: str, label: str) -> None:
    """Labelled ``openai`` (an unknown host), these were priced at OpenAI's entry or not at all."""
    ai = classify({"method": "POST", "url": url, "body": {"model": model, **CHAT}})
    assert (ai.provider, ai.api, ai.operation) == (label, "openai", "chat")
    u = extract_usage(ai, {"status_code": 200, "body": {"model": model, "usage": {
        "prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}})
    cost = PriceBook().cost(ai.provider, u.model or ai.model, u, at=AT)
    assert cost.known and cost.usd > 0, cost.reason


@pytest.mark.parametrize(("url", "label"), [
    ("https://api.deepseek.com/anthropic/v1/messages", "deepseek"),
    ("https://api.moonshot.ai/anthropic/v1/messages", "moonshot"),
    ("https://contoso.services.ai.azure.com/anthropic/v1/messages", "azure_ai"),
])
def test_the_host_wins_over_the_wire_format_the_path_speaks(url: str, label: str) -> None:
    ai = classify({"url": url, "body": {"model": "m", "max_tokens": 5, **CHAT}})
    assert (ai.provider, ai.api, ai.operation) == (label, "anthropic", "messages")


def test_azure_openai_through_a_foundry_resource_is_azure_openai() -> None:
    for path in ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "/openai/v1/responses",
                 "/api/projects/proj1/openai/v1/responses"):
        ai = classify({"url": "https://contoso.services.ai.azure.com" + path, "body": CHAT})
        assert ai.provider == "azure_openai"


@pytest.mark.parametrize("segment", [
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1%3A0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1%3A0",
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Ainference-profile%2Fus.anthropic.claude-3-7-sonnet-20250219-v1%3A0",
])
@pytest.mark.parametrize(("action", "api", "op", "stream"), [
    ("converse", "bedrock", "chat", False), ("converse-stream", "bedrock", "chat", True),
    ("invoke", "anthropic", "messages", False), ("invoke-with-response-stream", "anthropic", "messages", True),
])
def test_bedrock_names_the_model_in_the_path(segment: str, action: str, api: str, op: str, stream: bool) -> None:
    ai = classify({"url": f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{segment}/{action}",
                   "body": {"messages": [{"role": "user", "content": [{"text": "hi"}]}],
                            "inferenceConfig": {"maxTokens": 64}}})
    assert (ai.provider, ai.api, ai.operation, ai.stream) == ("bedrock", api, op, stream)
    assert ai.model is not None and ai.model.endswith("anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert PriceBook().cost("bedrock", ai.model, extract_usage(ai, {"body": {"usage": {
        "inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "input_tokens": 10, "output_tokens": 5}}}), at=AT).known


def test_other_aws_hosts_are_not_bedrock() -> None:
    for host in ("runtime.sagemaker.us-east-1.amazonaws.com", "s3.amazonaws.com"):
        assert classify({"url": f"https://{host}/v1/chat/completions", "body": CHAT}).provider == "openai"
    vpce = "https://vpce-0a1b-x1y2.bedrock-runtime.us-east-1.vpce.amazonaws.com/v1/chat/completions"
    assert classify({"url": vpce, "body": {"model": "openai.gpt-oss-120b-1:0", **CHAT}}).provider == "bedrock"


# --- Cohere -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "want"), [
    ({"usage": {"billed_units": {"input_tokens": 5, "output_tokens": 418},
                "tokens": {"input_tokens": 71, "output_tokens": 418}}}, (5, 418)),  # v2 chat
    ({"meta": {"api_version": {"version": "1"}, "billed_units": {"input_tokens": 7, "output_tokens": 30}}}, (7, 30)),
    ({"meta": {"billed_units": {"input_tokens": 12}}}, (12, 0)),  # embed
    ({"usage": {"tokens": {"input_tokens": 71, "output_tokens": 9}}}, (71, 9)),  # no billed units
    ({"finish_reason": "COMPLETE", "usage": {"billed_units": {"input_tokens": "3", "output_tokens": 9.0}}}, (3, 9)),
])
def test_cohere_usage_is_the_billed_units(body: dict[str, Any], want: tuple[int, int]) -> None:
    u = cohere_usage(body)
    assert u is not None and (u.input_tokens, u.output_tokens, u.source) == (*want, "provider")


@pytest.mark.parametrize("units", [{"input_tokens": -1, "output_tokens": 3}, {"output_tokens": 3},
                                   {"input_tokens": "many"}, "5"])
def test_a_bad_billed_count_is_not_trusted_nor_replaced_by_tokens(units: object) -> None:
    assert cohere_usage({"usage": {"billed_units": units, "tokens": {"input_tokens": 71, "output_tokens": 3}}}) is None


def test_a_cohere_stream_without_message_end_is_estimated() -> None:
    ai = classify({"url": "https://api.cohere.com/v2/chat", "body": {"model": "command-a-03-2025", "stream": True,
                                                                     **CHAT}})
    event = {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "hello world"}}}}
    u = extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"},
                           "sse": f"event: content-delta\ndata: {json.dumps(event)}\n\n"})
    assert u.source == "estimate" and u.output_tokens > 0


# --- Bedrock Converse -------------------------------------------------------------------------


@pytest.mark.parametrize(("usage", "want"), [
    # the cache counts beside inputTokens (totalTokens counts them): added
    ({"inputTokens": 9, "outputTokens": 134, "totalTokens": 1447, "cacheReadInputTokens": 1304,
      "cacheWriteInputTokens": 0}, (1313, 134, 1304, 0)),
    ({"inputTokens": 9, "outputTokens": 134, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 200},
     (309, 134, 100, 200)),
    # a totalTokens of input + output: the cache counts are a part of inputTokens
    ({"inputTokens": 1313, "outputTokens": 134, "totalTokens": 1447, "cacheReadInputTokens": 1304}, (1313, 134, 1304, 0)),
    ({"inputTokens": 20, "outputTokens": 5, "totalTokens": 25}, (20, 5, 0, 0)),
])
def test_converse_cache_counts_are_input_once(usage: dict[str, int], want: tuple[int, ...]) -> None:
    u = bedrock_usage(usage)
    assert u is not None
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_creation_input_tokens) == want
    assert u.total_tokens == u.input_tokens + u.output_tokens


def test_converse_one_hour_writes_come_from_cache_details() -> None:
    u = bedrock_usage({"inputTokens": 1, "outputTokens": 2, "cacheWriteInputTokens": 500,
                       "cacheDetails": [{"ttl": "1h", "inputTokens": 400}, {"ttl": "5m", "inputTokens": 100}]})
    assert u is not None and (u.cache_creation_input_tokens, u.cache_creation_1h_input_tokens) == (500, 400)
    assert bedrock_usage({"inputTokens": 1, "cacheDetails": [{"ttl": "1h", "inputTokens": -4}]}) is None
    assert bedrock_usage({"inputTokens": -1, "outputTokens": 2}) is None


def test_the_gateway_s_usage_body_reads_back_the_same() -> None:
    """A stream too long to keep is read incrementally; ``serve`` hands the engine its usage as
    a JSON body in the same wire format (gateway.captured.usage_body)."""
    from aigw_policy.gateway.captured import usage_body

    for api, u_in in (("bedrock", {"usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 1513,
                                             "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 500,
                                             "cacheDetails": [{"ttl": "1h", "inputTokens": 300}]}}),
                      ("cohere", {"type": "message-end", "delta": {"usage": {
                          "billed_units": {"input_tokens": 3, "output_tokens": 9}, "cached_tokens": 2}}})):
        ai = classify({"url": {"bedrock": "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream",
                               "cohere": "https://api.cohere.com/v2/chat"}[api],
                       "body": {"model": "m", "stream": True, **CHAT}})
        acc = stream_usage(ai)
        if api == "bedrock":
            acc.feed(_event("metadata", u_in))
        else:
            acc.feed(f"event: message-end\ndata: {json.dumps(u_in)}\n\n")
        first = acc.finish()
        assert first.source == "provider"
        again = extract_usage(ai, {"status_code": 200, "body": usage_body(acc, api)})
        assert again.counts() == first.counts()


# --- AWS event-stream framing -----------------------------------------------------------------


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return encode_message({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                          json.dumps(payload).encode())


def _chunk(obj: dict[str, Any]) -> bytes:
    return _event("chunk", {"bytes": base64.b64encode(json.dumps(obj).encode()).decode()})


CONVERSE = (_event("messageStart", {"role": "assistant"})
            + b"".join(_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"word{i} "}})
                       for i in range(8))
            + _event("messageStop", {"stopReason": "end_turn"})
            + _event("metadata", {"usage": {"inputTokens": 7, "outputTokens": 16, "totalTokens": 23}}))


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(0, 10**5), max_size=25))
def test_event_stream_framing_does_not_depend_on_splits(cuts: list[int]) -> None:
    whole = EventStreamParser().feed(CONVERSE)
    parser = EventStreamParser()
    got = [e for piece in _split(CONVERSE, cuts) for e in parser.feed(piece)]
    assert got == whole and len(got) == 11 and parser.finish() == [] and parser.dropped == 0
    ai = classify({"url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-lite-v1%3A0/converse-stream",
                   "body": CHAT})
    acc = stream_usage(ai)
    for piece in _split(CONVERSE, cuts):
        acc.feed(piece)
    u = acc.finish()
    assert (u.input_tokens, u.output_tokens, u.source) == (7, 16, "provider")


@pytest.mark.parametrize("damage", ["prelude", "message", "cut"])
def test_damaged_event_streams_are_dropped_never_raise(damage: str) -> None:
    data = bytearray(CONVERSE)
    if damage == "prelude":
        data[1] ^= 0xFF  # the first message's length: nothing after it can be framed
    elif damage == "message":
        data[-10] ^= 0xFF  # inside the metadata payload: its CRC fails
    else:
        data = data[:-5]
    ai = classify({"url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream", "body": CHAT})
    for pieces in ([bytes(data)], [bytes(data[i:i + 3]) for i in range(0, len(data), 3)]):
        acc = stream_usage(ai)
        for piece in pieces:
            acc.feed(piece)
        u = acc.finish()
        assert u.source == "estimate" and any("dropped" in n for n in u.notes)


def test_an_oversized_message_is_skipped_and_the_rest_read() -> None:
    total = MAX_EVENT_BYTES + 100
    prelude = struct.pack(">II", total, 0)
    big = prelude + struct.pack(">I", zlib.crc32(prelude)) + bytes(total - 12)
    data = big + CONVERSE
    ai = classify({"url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream", "body": CHAT})
    for size in (len(data), 4096, 1 << 20):
        acc = stream_usage(ai)
        for i in range(0, len(data), size):
            acc.feed(data[i:i + size])
        u = acc.finish()
        assert (u.input_tokens, u.output_tokens, u.source) == (7, 16, "provider")
        assert "1 oversized event(s) dropped" in u.notes


def test_an_exception_message_is_noted_by_its_kind_never_its_message() -> None:
    data = _event("messageStart", {"role": "assistant"}) + encode_message(
        {":message-type": "exception", ":exception-type": "throttlingException"}, b'{"message": "secret prompt text"}')
    parser = EventStreamParser()
    events = parser.feed(data)
    assert events[-1] == ("error", json.dumps({"type": "error", "error": {"type": "throttlingException"}}))
    ai = classify({"url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream", "body": CHAT})
    u = extract_usage(ai, {"status_code": 200, "sse": data})
    assert "stream reported an error: throttlingException" in u.notes and "secret" not in repr(u)


def test_invoke_stream_chunks_are_the_model_s_own_events() -> None:
    inner = [{"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 12, "output_tokens": 1}}},
             {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
             {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 30}},
             {"type": "message_stop"}]
    data = b"".join(_chunk(o) for o in inner)
    ai = classify({"url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-x/"
                          "invoke-with-response-stream", "body": {"max_tokens": 9, **CHAT}})
    for given_as in (data, data.decode("latin-1")):  # bytes, or text a character a byte (serve)
        for key in ("sse", "body"):  # a body of that type is a stream, whatever the request said
            u = extract_usage(replace(ai, stream=False) if key == "body" else ai, {
                "status_code": 200, "headers": {"content-type": "application/vnd.amazon.eventstream"}, key: given_as})
            assert (u.input_tokens, u.output_tokens, u.source) == (12, 30, "provider")


# --- embeddings whose usage names only a total ------------------------------------------------


@pytest.mark.parametrize(("url", "usage", "want"), [
    ("https://api.voyageai.com/v1/embeddings", {"total_tokens": 10}, (10, "provider")),
    ("https://api.voyageai.com/v1/embeddings", {"total_tokens": "7"}, (7, "provider")),
    ("http://tei.internal/v1/embeddings", {"total_tokens": 3}, (3, "provider")),  # any OpenAI-shaped server
    ("https://api.voyageai.com/v1/embeddings", {"total_tokens": -1}, (None, "estimate")),
    ("https://api.voyageai.com/v1/embeddings", {"prompt_tokens": "x", "total_tokens": 5}, (None, "estimate")),
])
def test_an_embedding_s_total_is_its_input(url: str, usage: dict[str, object], want: tuple[int | None, str]) -> None:
    ai = classify({"url": url, "body": {"model": "voyage-3.5", "input": ["a b c", "d e"]}})
    u = extract_usage(ai, {"status_code": 200, "body": {"model": "voyage-3.5", "usage": usage}})
    assert (u.source, u.output_tokens) == (want[1], 0)
    if want[0] is not None:
        assert u.input_tokens == want[0]


def test_a_chat_answer_s_total_alone_is_not_read_as_input() -> None:
    ai = classify({"url": "https://api.voyageai.com/v1/chat/completions", "body": {"model": "m", **CHAT}})
    u = extract_usage(ai, {"status_code": 200, "body": {"choices": [{"message": {"content": "hello there"}}],
                                                        "usage": {"total_tokens": 99}}})
    assert u.source == "estimate"


@pytest.mark.parametrize(("label", "otel"), [("bedrock", "aws.bedrock"), ("xai", "x_ai"), ("mistral", "mistral_ai"),
                                             ("azure_ai", "azure.ai.inference"), ("cohere", "cohere"),
                                             ("deepseek", "deepseek"), ("groq", "groq"), ("perplexity", "perplexity")])
def test_the_ledger_and_metrics_name_a_vendor_as_opentelemetry_does(label: str, otel: str) -> None:
    """``gen_ai.provider.name``'s well-known values (OpenTelemetry GenAI semantic conventions)."""
    from aigw_policy.gateway.metrics import _OTEL_PROVIDER
    from aigw_policy.ledger.record import OTEL_PROVIDER
    from aigw_policy.providers import PROVIDERS

    assert label in PROVIDERS
    assert OTEL_PROVIDER.get(label, label) == _OTEL_PROVIDER.get(label, label) == otel
