"""``response.FAST_USAGE`` (issue #15, the completion's cost): the usage of a parsed
OpenAI-shaped body read with plain dict lookups is exactly what the general way reads
(``Usage`` compares every field, ``notes`` and ``model`` included), for generated bodies of
the usual shape and of every unusual one around it (floats, bools, negative and huge counts,
the responses API's names, details, no model, a stream, other APIs, error statuses)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.providers import classify, extract_usage
from aigw_policy.providers import response as response_mod

COUNT = st.one_of(st.integers(0, 5000), st.sampled_from([-1, 2**53, 2**60, True, 7.0, 7.5, "12", None]))
MISSING = object()


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not MISSING:
        d[key] = value


@st.composite
def usages(draw: Any) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, [], "usage", 3]))
    u: dict[str, Any] = {}
    names = draw(st.sampled_from([("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens"),
                                  ("prompt_tokens", "output_tokens")]))
    for name in names:
        _put(u, name, draw(st.one_of(st.just(MISSING), COUNT)))
    if draw(st.booleans()):
        u["total_tokens"] = draw(COUNT)
    for beside in ("prompt_cache_hit_tokens", "cached_tokens", "citation_tokens", "reasoning_tokens"):
        if draw(st.integers(0, 5)) == 0:  # DeepSeek's, Moonshot's cache hits; Perplexity's parts apart
            u[beside] = draw(COUNT)
    for outer, inner in (("prompt_tokens_details", "cached_tokens"), ("completion_tokens_details", "reasoning_tokens"),
                         ("input_tokens_details", "cached_tokens")):
        if draw(st.integers(0, 2)) == 0:
            u[outer] = draw(st.one_of(st.builds(lambda v: {inner: v}, COUNT), st.sampled_from([None, {}, 4])))
            if type(u[outer]) is dict:  # the parts billed apart, or the zeros every answer carries
                for extra in ("audio_tokens", "cache_write_tokens", "image_tokens"):
                    if draw(st.booleans()):
                        u[outer][extra] = draw(st.one_of(st.just(0), COUNT))
    return u


@st.composite
def responses(draw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"}}]}
    _put(body, "usage", draw(st.one_of(st.just(MISSING), usages())))
    _put(body, "model", draw(st.sampled_from([MISSING, "gpt-4o-2024-08-06", "", None, 5, "m" * 300])))
    if draw(st.integers(0, 5)) == 0:
        body["response"] = {"usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    if draw(st.integers(0, 5)) == 0:
        body["modelVersion"] = "models/gemini-2.5-flash"
    if draw(st.booleans()):
        body["service_tier"] = draw(st.sampled_from(["default", "auto", "flex", "priority", None, "", 3]))
    resp: dict[str, Any] = {"status_code": draw(st.sampled_from([200, 400, 500])),
                            "headers": draw(st.sampled_from([{}, {"content-type": "application/json"},
                                                             {"Content-Encoding": "gzip"}, {"content-encoding": "br"}]))}
    shape = draw(st.integers(0, 9))
    resp["body"] = body if shape else draw(st.sampled_from(['{"usage": {"prompt_tokens": 1}}', b"", None, [body]]))
    if draw(st.integers(0, 9)) == 0:
        resp["sse"] = 'data: {"usage": {"prompt_tokens": 2, "completion_tokens": 3}}\n\ndata: [DONE]\n\n'
    return resp


URLS = ["https://api.openai.com/v1/chat/completions", "https://api.anthropic.com/v1/messages",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
        "http://localhost:11434/api/chat", "https://example.com/whatever"]


def _both(ai: Any, resp: dict[str, Any]) -> tuple[Any, Any]:
    was = response_mod.FAST_USAGE
    try:
        response_mod.FAST_USAGE = True
        fast = extract_usage(ai, resp)
        response_mod.FAST_USAGE = False
        plain = extract_usage(ai, resp)
    finally:
        response_mod.FAST_USAGE = was
    return fast, plain


@settings(max_examples=400, deadline=None)
@given(responses(), st.sampled_from(URLS), st.booleans())
def test_the_fast_usage_reads_what_the_general_way_reads(resp: dict[str, Any], url: str, stream: bool) -> None:
    ai = classify({"method": "POST", "url": url, "body": {"model": "gpt-4o", "stream": stream,
                                                          "messages": [{"role": "user", "content": "hello"}]}})
    fast, plain = _both(ai, resp)
    assert fast == plain


def test_the_usual_answer_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's usual answer is read by ``_openai_fast``, not the general way (and it is
    the same Usage); with the switch off, the general way."""
    ai = classify({"method": "POST", "url": URLS[0], "body": {"model": "gpt-4o", "messages": []}})
    resp = {"status_code": 200, "headers": {"content-type": "application/json"},
            "body": {"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 14, "completion_tokens": 7,
                                                              "prompt_tokens_details": {"cached_tokens": 4}}}}
    calls: list[str] = []
    general = response_mod.usage_from_body
    monkeypatch.setattr(response_mod, "usage_from_body", lambda *a: calls.append("general") or general(*a))
    fast, plain = _both(ai, resp)
    assert calls == ["general"]  # the plain call only
    assert fast == plain and fast.cached_input_tokens == 4 and fast.model == "gpt-4o-2024-08-06"


@pytest.mark.parametrize(("usage", "tier", "units", "written"), [
    ({"prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 6}}, None, {"input_audio_tokens": 6}, 0),
    ({"completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 5}}, None, {"output_audio_tokens": 5}, 0),
    ({"prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 8}}, None, {}, 8),
    ({"prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0}}, "flex", {}, 0),
    ({"prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0}}, "default", {}, 0),
    ({"prompt_tokens_details": {"cached_tokens": 0, "image_tokens": 9}}, None, {"input_image_tokens": 9}, 0),
    ({"completion_tokens_details": {"image_tokens": 7}}, None, {"output_image_tokens": 7}, 0),
])
def test_what_is_priced_apart_is_read_on_the_fast_path_too(usage: dict[str, Any], tier: str | None,
                                                           units: dict[str, int], written: int) -> None:
    """An answer with audio or image tokens, cache writes or a tier of its own prices reads the same
    with the fast path on (it leaves them to the general way) as off."""
    ai = classify({"method": "POST", "url": URLS[0], "body": {"model": "gpt-4o", "messages": []}})
    body = {"model": "gpt-4o-audio-preview", "service_tier": tier,
            "usage": {"prompt_tokens": 14, "completion_tokens": 7, **usage}}
    fast, plain = _both(ai, {"status_code": 200, "headers": {}, "body": body})
    assert fast == plain
    assert (dict(fast.units), fast.cache_creation_input_tokens) == (units, written)
    assert fast.service_tier == (None if tier == "default" else tier)


def test_deepseek_cache_hits_are_read_either_way() -> None:
    """DeepSeek names its cache reads ``prompt_cache_hit_tokens`` (no ``prompt_tokens_details``):
    the fast path leaves such a body to the general way, which reads them."""
    ai = classify({"method": "POST", "url": "https://api.deepseek.com/chat/completions",
                   "body": {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hello"}]}},
                  provider="openai_compatible")
    body = {"model": "deepseek-chat", "usage": {"prompt_tokens": 1215, "completion_tokens": 10, "total_tokens": 1225,
                                                "prompt_cache_hit_tokens": 1152, "prompt_cache_miss_tokens": 63}}
    fast, plain = _both(ai, {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body})
    assert fast == plain and fast.cached_input_tokens == 1152


@pytest.mark.parametrize(("beside", "want"), [
    ({"cached_tokens": 1152}, (1215, 10, 1152, 0)),  # Moonshot's cache reads
    ({"citation_tokens": 300}, (1515, 10, 0, 0)),  # Perplexity's search results read: input
    ({"reasoning_tokens": 40, "num_search_queries": 3}, (1215, 50, 0, 40)),  # Perplexity's reasoning step: output
    ({"reasoning_tokens": 6}, (1215, 10, 0, 6)),  # SGLang's: of completion_tokens
    ({"reasoning_tokens": 4, "completion_tokens_details": {"reasoning_tokens": 4}}, (1215, 10, 0, 4)),  # a copy
])
def test_counts_beside_the_totals_are_read_either_way(beside: dict[str, Any], want: tuple[int, ...]) -> None:
    """Counts some OpenAI-compatible providers put at the top level of ``usage`` (``BESIDE``):
    the fast path leaves such a body to the general way, which reads them."""
    ai = classify({"method": "POST", "url": "https://api.example.com/v1/chat/completions",
                   "body": {"model": "m", "messages": [{"role": "user", "content": "hello"}]}},
                  provider="openai_compatible")
    body = {"model": "m", "usage": {"prompt_tokens": 1215, "completion_tokens": 10, "total_tokens": 1225, **beside}}
    fast, plain = _both(ai, {"status_code": 200, "headers": {"content-type": "application/json"}, "body": body})
    assert fast == plain
    assert (fast.input_tokens, fast.output_tokens, fast.cached_input_tokens, fast.reasoning_tokens) == want
