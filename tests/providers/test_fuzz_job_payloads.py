"""Hostile answers to every request that reads or runs a job, a batch or a stored response (the
readers of payloads18-29: background responses, OpenAI file batches, Gemini inline batches and
interactions, Perplexity async jobs, xAI deferred completions, Anthropic batch results) and to
streams of media: whatever their body, status, headers and framing, the usage is a Usage (never a
traceback), its counts whole and non-negative, its price a Cost, and through the engine each call
gives a decision. The older properties (test_properties.py) drew POSTs to inference paths only."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.providers import PriceBook, Usage, classify, extract_usage
from aigw_policy.providers.background import background_of
from aigw_policy.providers.sse import StreamUsage

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CALLS = [  # (method, url) of every reader's requests
    ("GET", "https://api.anthropic.com/v1/messages/batches/msgbatch_01/results"),
    ("POST", "https://api.anthropic.com/v1/messages/batches"),
    ("GET", "https://api.anthropic.com/v1/messages/batches/msgbatch_01"),
    ("GET", "https://api.x.ai/v1/chat/deferred-completion/f15c-11"),
    ("POST", "https://api.x.ai/v1/chat/completions"),
    ("GET", "http://gw/v1/chat/deferred-completion/f15c-11"),
    ("POST", "https://api.perplexity.ai/async/chat/completions"),
    ("GET", "https://api.perplexity.ai/async/chat/completions/3c90c3cc"),
    ("GET", "http://gw/v1/async/sonar/3c90c3cc"),
    ("GET", "https://api.perplexity.ai/async/chat/completions"),
    ("POST", "https://api.openai.com/v1/responses"),
    ("GET", "https://api.openai.com/v1/responses/resp_1"),
    ("POST", "https://api.openai.com/v1/responses/resp_1/cancel"),
    ("POST", "https://api.openai.com/v1/batches"),
    ("GET", "https://api.openai.com/v1/batches/batch_1"),
    ("POST", "https://api.openai.com/v1/images/generations"),
    ("POST", "https://api.openai.com/v1/chat/completions"),
    ("POST", "https://generativelanguage.googleapis.com/v1beta/interactions"),
    ("GET", "https://generativelanguage.googleapis.com/v1beta/interactions/i_1"),
    ("GET", "https://generativelanguage.googleapis.com/v1beta/batches/b_1"),
    ("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchGenerateContent"),
]
KEYS = ["id", "object", "status", "background", "usage", "request_id", "choices", "created_at", "response",
        "custom_id", "result", "type", "message", "model", "output_tokens", "input_tokens", "prompt_tokens",
        "completion_tokens", "name", "metadata", "state", "output", "inlinedResponses", "usageMetadata",
        "candidatesTokenCount", "delta", "audio", "data", "size", "quality", "tools", "partial_image_index",
        "processing_status", "requests", "interaction", "tool_usage", "image_gen"]
WORDS = ["succeeded", "errored", "COMPLETED", "CREATED", "FAILED", "completed", "queued", "in_progress", "batch",
         "response", "message", "BATCH_STATE_SUCCEEDED", "batches/b_1", "resp_1", "msgbatch_01", "chat.completion",
         "image_generation.partial_image", "image_edit.partial_image", "response.image_generation_call.partial_image",
         "response.completed", "response.created", "interaction.completed", "image_generation", "1024x1024", "high",
         "auto", "AAAA"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.sampled_from(WORDS)
    | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), kids,
                                                              max_size=6),
    max_leaves=30)


def _text(value: Any, how: int) -> Any:
    """A body as it may come: parsed, JSON text, JSONL of its items, SSE of its items, bytes."""
    items = value if isinstance(value, list) else [value]
    if how == 1:
        return json.dumps(value)
    if how == 2:
        return "".join(json.dumps(v) + "\n" for v in items)
    if how == 3:
        return "".join(f"data: {json.dumps(v)}\n\n" for v in items)
    if how == 4:
        return "".join(json.dumps(v) + "\n" for v in items).encode()
    return value


answers = st.fixed_dictionaries({
    "status_code": st.sampled_from([200, 200, 202, 400, 404, 429, 500, 0, -1]),
    "headers": st.sampled_from([{}, {"content-type": "application/x-jsonl"}, {"content-type": "text/event-stream"},
                                {"content-type": "application/json", "content-encoding": "gzip"},
                                {"content-type": "audio/mpeg"}]),
}).flatmap(lambda head: st.tuples(json_values, st.integers(0, 4)).map(
    lambda body: {**head, "body": _text(*body)}))


@SETTINGS
@given(call=st.sampled_from(CALLS), body=json_values, answer=answers)
def test_every_reader_gives_usage_for_any_answer(call: tuple[str, str], body: Any, answer: dict[str, Any]) -> None:
    method, url = call
    ai = classify({"method": method, "url": url, "body": body if method == "POST" else None})
    usage = extract_usage(ai, answer)
    assert isinstance(usage, Usage)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert min(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens) >= 0
    assert all(isinstance(n, int) and n >= 0 for _, n in usage.units)
    PriceBook().cost(ai.provider, usage.model or ai.model, usage)
    background_of(ai.api, ai.operation, answer, ai.provider, ai.notes)


@SETTINGS
@example(api="openai", events=[{"type": []}], cuts=[])  # (an event type no string: found by this property)
@given(api=st.sampled_from(["openai", "anthropic"]), events=st.lists(json_values, max_size=12),
       cuts=st.lists(st.integers(0, 4000), max_size=6))
def test_any_media_stream_split_anywhere_gives_the_same_usage(api: str, events: list[Any], cuts: list[int]) -> None:
    data = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
    whole = StreamUsage(api, input_estimate=3)
    whole.feed(data)
    parts = StreamUsage(api, input_estimate=3)
    at = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        parts.feed(data[at:cut])
        at = cut
    assert parts.finish() == whole.finish()
    assert whole.finish().output_tokens >= 0


POLICY = """\
on_http_request:
  - name: budget
    actions:
      - type: token-limit
        config: {name: team-tokens, capacity: 100000000, rate: 1h, bucket_key: [identity.team]}
"""
ENGINE = ap.Engine(ap.loads(POLICY, format="yaml"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(st.tuples(st.sampled_from(CALLS), json_values, answers), min_size=1, max_size=4))
def test_the_engine_decides_every_call_whatever_its_answer(calls: list[Any]) -> None:
    for (method, url), body, answer in calls:
        request: dict[str, Any] = {"method": method, "url": url, "headers": {"content-type": "application/json"}}
        if method == "POST":
            request["body"] = body if isinstance(body, dict) else {"value": body}
        first = ENGINE.evaluate({"identity": {"team": "t"}, "request": request})
        decision = ENGINE.complete(first.id, {**answer, "status_code": answer["status_code"]
                                              if 100 <= answer["status_code"] <= 599 else 502})
        assert decision.usage is None or decision.usage["total_tokens"] >= 0
