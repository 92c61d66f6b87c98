"""Classes of real provider payloads: counts written as strings or null, details larger than
their totals, cumulative stream counts (charged once, never wiped by a placeholder), Gemini's
JSON-array streams split anywhere or cut off, and the routes that name the model in the path
(Azure deployments, Claude on Vertex AI). The fixtures are in ``data/spec/`` (run through
``explain`` by test_spec_payloads.py); these are the properties around them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aigw_policy.providers import PriceBook, classify, extract_usage, stream_usage
from aigw_policy.providers.sse import JSONArrayParser, StreamUsage
from aigw_policy.providers.usage import tok

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPEC = Path(__file__).parent / "data" / "spec"


def _stream_cases() -> list[tuple[str, dict[str, Any], bytes, str | None]]:
    """(id, request, payload, framing) of every spec fixture whose answer is a stream."""
    out = []
    for path in sorted(SPEC.glob("*/*.json")):
        if path.name.endswith(".expected.json"):
            continue
        case = json.loads(path.read_text())
        resp = case["response"]
        ctype = resp.get("headers", {}).get("content-type", "")
        text = resp.get("sse")
        framing = None
        if text is None and isinstance(resp.get("body"), str):
            text = resp["body"]
            if "ndjson" not in ctype and "stream+json" not in ctype:  # (Cohere v1's NDJSON)
                if not text.lstrip().startswith("["):
                    continue
                framing = "json-array"
        if text is not None:  # AWS's binary event-stream: its bytes one character each (latin-1)
            payload = text.encode("latin-1") if text[:1] == "\x00" else text.encode()
            out.append((f"{path.parent.name}/{path.stem}", case["request"], payload, framing))
    return out


STREAMS = _stream_cases()


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


def _acc(request: dict[str, Any], framing: str | None) -> StreamUsage:
    ai = classify(request)
    if framing is None:
        return stream_usage(ai)
    return StreamUsage(ai.api, input_estimate=ai.input_tokens, model=ai.model, framing=framing)


def test_the_spec_streams_include_the_new_shapes() -> None:
    ids = {i for i, *_ in STREAMS}
    assert {"gemini/stream_json_array_cut", "anthropic/messages_stream_delta_placeholder_zero",
            "vertex_ai/claude_stream_raw_predict", "azure_openai/chat_stream_content_filter",
            "vllm/chat_stream_continuous_usage", "bedrock/invoke_llama_stream_metrics", "bedrock/invoke_nova_stream",
            "bedrock/invoke_llama_stream_cut", "cohere/chat_v1_stream_ndjson", "vendors/openrouter_byok_stream"} <= ids


@pytest.mark.parametrize(("name", "request_", "payload", "framing"), STREAMS, ids=[s[0] for s in STREAMS])
@SETTINGS
@given(cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=30))
def test_any_split_of_a_spec_stream_gives_its_usage(name: str, request_: dict[str, Any], payload: bytes,
                                                    framing: str | None, cuts: list[int]) -> None:
    whole = _acc(request_, framing)
    whole.feed(payload)
    acc = _acc(request_, framing)
    for chunk in _split(payload, cuts):
        acc.feed(chunk)
    got = acc.finish()
    assert got == whole.finish()
    if framing is None:  # the whole text through extract_usage reads the same
        ai = classify(request_)
        assert got == extract_usage(ai, {"status_code": 200, "headers": {"content-type": "text/event-stream"},
                                         "sse": _text(payload)}) or ai.api == "ollama"


def _text(payload: bytes) -> str:
    return payload.decode("latin-1") if payload[:1] == b"\x00" else payload.decode()


# --- JSON-array framing -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet='{}[]",\\ab\n\r', max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(alphabet='{}"\\ab', max_size=4), kids, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(objs=st.lists(st.dictionaries(st.text(alphabet='{}"\\ab', max_size=4), json_values, max_size=3), max_size=5),
       sep=st.sampled_from([",", "\r\n,\r\n", " , ", ",\n"]), cuts=st.lists(st.integers(0, 5000), max_size=12))
def test_json_array_framing_gives_each_object_once_for_any_split(objs: list[dict[str, Any]], sep: str,
                                                                 cuts: list[int]) -> None:
    data = ("[" + sep.join(json.dumps(o, ensure_ascii=False) for o in objs) + "]").encode()
    parser = JSONArrayParser()
    events = []
    for chunk in _split(data, cuts):
        events += parser.feed(chunk)
    events += parser.finish()
    assert [json.loads(d) for _, d in events] == objs


@SETTINGS
@given(data=st.binary(max_size=1500), cuts=st.lists(st.integers(0, 1500), max_size=10))
def test_json_array_framing_of_garbage_does_not_depend_on_splits(data: bytes, cuts: list[int]) -> None:
    one = JSONArrayParser()
    events = one.feed(data) + one.finish()
    other = JSONArrayParser()
    got = []
    for chunk in _split(data, cuts):
        got += other.feed(chunk)
    assert got + other.finish() == events


def test_a_cut_gemini_array_keeps_the_chunks_that_arrived() -> None:
    ai = classify({"url": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                   "body": {"contents": [{"parts": [{"text": "hi"}]}]}})
    chunk = {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}],
             "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 1, "totalTokenCount": 12}}
    whole = "[" + json.dumps(chunk) + ",\r\n" + json.dumps({**chunk, "candidates": [{"finishReason": "STOP"}]}) + "]"
    done = extract_usage(ai, {"status_code": 200, "body": whole})
    assert (done.input_tokens, done.output_tokens, done.source) == (11, 1, "provider")
    cut = extract_usage(ai, {"status_code": 200, "body": whole[: len(whole) // 2 + 40]})
    assert (cut.input_tokens, cut.source) == (11, "estimate") and cut.notes
    failed = extract_usage(ai, {"status_code": 500, "body": '[{"error": {"code": 500'})
    assert (failed.output_tokens, failed.source) == (0, "estimate")


# --- counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "want"), [
    (12, 12), (12.0, 12), ("12", 12), ("0", 0), ("007", 7), ("9" * 16, None), ("9" * 17, None),
    ("-1", None), ("1.5", None), (" 12", None), ("12 ", None), ("", None), ("١٢", None), ("1e3", None),
    (True, None), (-1, None), (1.5, None), (2**53, None), (None, None), ([1], None),
])
def test_a_count_is_a_whole_number_or_its_digits(raw: object, want: int | None) -> None:
    assert tok(raw) == want


COUNT = st.one_of(st.integers(0, 10**6), st.integers(0, 10**6).map(str), st.sampled_from([None, -3, "x", 2.5, True]))


@st.composite
def usage_objects(draw: Any) -> tuple[str, dict[str, Any]]:
    api = draw(st.sampled_from(["openai", "responses", "anthropic", "gemini", "ollama"]))
    names = {
        "openai": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "responses": ["input_tokens", "output_tokens", "total_tokens"],
        "anthropic": ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"],
        "gemini": ["promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount",
                   "toolUsePromptTokenCount", "totalTokenCount"],
        "ollama": ["prompt_eval_count", "eval_count", "prompt_eval_cached_count"],
    }[api]
    u = {n: draw(COUNT) for n in names if draw(st.booleans())}
    if api == "openai":
        u["prompt_tokens_details"] = {"cached_tokens": draw(COUNT), "cache_write_tokens": draw(COUNT),
                                      "audio_tokens": draw(COUNT)}
        u["completion_tokens_details"] = {"reasoning_tokens": draw(COUNT), "audio_tokens": draw(COUNT)}
    if api == "responses":
        u["input_tokens_details"] = {"cached_tokens": draw(COUNT), "cache_write_tokens": draw(COUNT)}
        u["output_tokens_details"] = {"reasoning_tokens": draw(COUNT)}
    if api == "gemini":
        for key in ("promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails"):
            if draw(st.booleans()):
                u[key] = [{"modality": draw(st.sampled_from(["TEXT", "AUDIO", "IMAGE", "VIDEO", "DOCUMENT", None, ["AUDIO"]])),
                           "tokenCount": draw(COUNT)} for _ in range(draw(st.integers(0, 3)))]
    if api == "anthropic" and draw(st.booleans()):
        u["server_tool_use"] = {"web_search_requests": draw(COUNT)}
    return api, u


_REQUESTS = {
    "openai": {"url": "https://api.openai.com/v1/chat/completions", "body": {"model": "gpt-4o", "messages": []}},
    "responses": {"url": "https://api.openai.com/v1/responses", "body": {"model": "o4-mini", "input": "hi"}},
    "anthropic": {"url": "https://api.anthropic.com/v1/messages", "body": {"model": "claude-x", "max_tokens": 9, "messages": []}},
    "gemini": {"url": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
               "body": {"contents": []}},
    "ollama": {"url": "http://localhost:11434/api/chat", "body": {"model": "llama3.2", "messages": [], "stream": False}},
}


def _body(api: str, u: dict[str, Any]) -> dict[str, Any]:
    if api == "gemini":
        return {"usageMetadata": u}
    if api == "ollama":
        return {"done": True, **u}
    return {"usage": u}


_BOOK = PriceBook()
_AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
_PROVIDERS = {"openai": "openai", "responses": "openai", "anthropic": "anthropic", "gemini": "gemini"}


@settings(max_examples=300, deadline=None)
@given(usage_objects())
# found by the property in a full run: no promptTokenCount, so the request's estimate (0 here)
# replaced the input, and the prompt's audio detail of the provider's partial count stayed above it
@example(("gemini", {"candidatesTokenCount": 0, "toolUsePromptTokenCount": 1,
                     "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 1}]}))
@example(("gemini", {"candidatesTokenCount": 2, "toolUsePromptTokenCount": 5, "cachedContentTokenCount": 3,
                     "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 2}],
                     "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 4}]}))
def test_usage_is_never_negative_and_details_stay_within_their_totals(obj: tuple[str, dict[str, Any]]) -> None:
    api, u = obj
    usage = extract_usage(classify(_REQUESTS[api]), {"status_code": 200, "body": _body(api, u)})
    counts = usage.counts()
    assert all(type(v) is int and v >= 0 for v in counts.values()), counts
    assert usage.cached_input_tokens + usage.cache_creation_input_tokens <= usage.input_tokens
    assert usage.reasoning_tokens <= usage.output_tokens
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    # what is billed apart is a part of its total (genai-prices refuses a usage otherwise)
    units = dict(usage.units)
    assert all(type(n) is int and n > 0 for n in units.values())
    assert sum(n for k, n in units.items() if k.startswith("input_")) <= usage.input_tokens
    assert sum(n for k, n in units.items() if k.startswith("cache_")) <= usage.cached_input_tokens
    assert sum(n for k, n in units.items() if k.startswith("output_")) <= usage.output_tokens
    if usage.source == "provider":  # and genai-prices prices it, the parts billed apart included
        model = {"openai": "gpt-realtime", "responses": "gpt-5.6-sol", "anthropic": "claude-sonnet-4-5",
                 "gemini": "gemini-2.5-flash", "ollama": None}[api]
        if model:
            cost = _BOOK.cost(_PROVIDERS[api], model, usage, at=_AT)
            assert cost.known, cost.reason


def test_null_completion_and_string_counts_are_read() -> None:
    ai = classify(_REQUESTS["openai"])
    emb = extract_usage(ai, {"status_code": 200, "body": {"usage": {"prompt_tokens": 6, "completion_tokens": None}}})
    assert (emb.input_tokens, emb.output_tokens, emb.source) == (6, 0, "provider")
    s = extract_usage(ai, {"status_code": 200, "body": {"usage": {"prompt_tokens": "30", "completion_tokens": "4",
                                                                   "prompt_tokens_details": {"cached_tokens": "16"}}}})
    assert (s.input_tokens, s.output_tokens, s.cached_input_tokens, s.source) == (30, 4, 16, "provider")


def test_a_detail_above_its_total_is_clamped_with_a_note() -> None:
    ai = classify(_REQUESTS["openai"])
    u = extract_usage(ai, {"status_code": 200, "body": {"model": "gpt-4o", "usage": {
        "prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4096},
        "completion_tokens_details": {"reasoning_tokens": 9}}}})
    assert (u.cached_input_tokens, u.reasoning_tokens, u.source) == (5, 3, "provider")
    assert len(u.notes) == 2


def test_a_total_above_input_plus_output_is_output() -> None:
    ai = classify(_REQUESTS["openai"])
    u = extract_usage(ai, {"status_code": 200, "body": {"model": "gemini-2.5-flash", "usage": {
        "prompt_tokens": 20, "completion_tokens": 424, "total_tokens": 1016}}})
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (20, 996, 1016) and u.notes
    same = extract_usage(ai, {"status_code": 200, "body": {"model": "gpt-4o", "usage": {
        "prompt_tokens": 20, "completion_tokens": 424, "total_tokens": 444}}})
    assert same.output_tokens == 424 and not same.notes


def test_an_untrusted_count_makes_the_whole_usage_untrusted() -> None:
    """Anthropic ``input_tokens: -5`` is not read as 0 input (it was, with the output trusted)."""
    ai = classify(_REQUESTS["anthropic"])
    u = extract_usage(ai, {"status_code": 200, "body": {"usage": {"input_tokens": -5, "output_tokens": 10}}})
    assert u.source == "estimate"
    g = extract_usage(classify(_REQUESTS["gemini"]), {"status_code": 200, "body": {"usageMetadata": {
        "promptTokenCount": 8, "candidatesTokenCount": 2, "thoughtsTokenCount": "many"}}})
    assert g.source == "estimate"


# --- cumulative streams: charged once ---------------------------------------------------------

ANTHROPIC = {"url": "https://api.anthropic.com/v1/messages",
             "body": {"model": "claude-x", "max_tokens": 99, "stream": True, "messages": [{"role": "user", "content": "hi"}]}}


def _sse(*objs: dict[str, Any]) -> str:
    return "".join(f"event: {o.get('type', 'message')}\ndata: {json.dumps(o)}\n\n" for o in objs)


@SETTINGS
@given(inp=st.integers(0, 10**5), read=st.integers(0, 10**5), outs=st.lists(st.integers(1, 5000), min_size=1, max_size=6),
       placeholder=st.booleans(), repeat=st.integers(1, 3))
def test_anthropic_stream_usage_is_the_latest_cumulative_counts_once(inp: int, read: int, outs: list[int],
                                                                     placeholder: bool, repeat: int) -> None:
    """Deltas carry cumulative counts (sorted here, as a stream reports them), some repeating
    the input counts, some (compatible servers) a placeholder 0: the usage is message_start's
    input and the last output, however often a delta is repeated."""
    outs = sorted(outs)
    start = {"type": "message_start", "message": {"model": "claude-x", "usage": {
        "input_tokens": inp, "cache_read_input_tokens": read, "output_tokens": 1}}}
    deltas = []
    for n in outs:
        usage: dict[str, Any] = {"output_tokens": n}
        if placeholder:
            usage.update(input_tokens=0, cache_read_input_tokens=0)
        else:
            usage.update(input_tokens=inp, cache_read_input_tokens=read)
        deltas += [{"type": "message_delta", "delta": {"stop_reason": None}, "usage": usage}] * repeat
    ai = classify(ANTHROPIC)
    u = extract_usage(ai, {"status_code": 200, "sse": _sse(start, *deltas, {"type": "message_stop"})})
    if inp + read == 0:  # no input counted for a prompt: a placeholder, estimated (usage.ZERO_INPUT)
        assert (u.input_tokens, u.output_tokens, u.source) == (ai.input_tokens, max(outs), "estimate")
        return
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens, u.source) == (inp + read, read, max(outs), "provider")


GEMINI = {"url": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
          "body": {"contents": [{"parts": [{"text": "hi"}]}]}}


@SETTINGS
@given(prompt=st.integers(0, 10**5), cands=st.lists(st.integers(0, 5000), min_size=1, max_size=6),
       thoughts=st.integers(0, 5000), partial_meta=st.booleans())
def test_gemini_stream_usage_is_the_final_cumulative_counts_once(prompt: int, cands: list[int], thoughts: int,
                                                                 partial_meta: bool) -> None:
    cands = sorted(cands)
    chunks = []
    for i, n in enumerate(cands):
        last = i == len(cands) - 1
        meta: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": n, "thoughtsTokenCount": thoughts}
        if partial_meta and not last:
            meta = {"candidatesTokenCount": n}  # a chunk naming only part of the counts
        cand: dict[str, Any] = {"content": {"parts": [{"text": "x"}]}}
        if last:
            cand["finishReason"] = "STOP"
        chunks.append(f"data: {json.dumps({'candidates': [cand], 'usageMetadata': meta})}\r\n\r\n")
    ai = classify(GEMINI)
    u = extract_usage(ai, {"status_code": 200, "sse": "".join(chunks)})
    if cands[-1] + thoughts == 0:  # no output counted beside the text: estimated (usage.ZERO_OUTPUT)
        assert (u.input_tokens, u.output_tokens > 0, u.source) == (prompt or ai.input_tokens, True, "estimate")
        return
    if prompt == 0:  # no input counted for a prompt: a placeholder, estimated (usage.ZERO_INPUT)
        assert (u.input_tokens, u.source) == (ai.input_tokens, "estimate")
        assert (u.output_tokens, u.reasoning_tokens) == (cands[-1] + thoughts, thoughts)
        return
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.source) == (prompt, cands[-1] + thoughts, thoughts,
                                                                                "provider")


@SETTINGS
@given(inp=st.integers(0, 10**5), out=st.integers(0, 10**4), repeat=st.integers(1, 4))
def test_an_openai_usage_chunk_repeated_is_charged_once(inp: int, out: int, repeat: int) -> None:
    ai = classify({"url": "https://api.openai.com/v1/chat/completions",
                   "body": {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}})
    chunk = {"choices": [], "model": "gpt-4o", "usage": {"prompt_tokens": inp, "completion_tokens": out}}
    sse = "".join(f"data: {json.dumps(chunk)}\n\n" for _ in range(repeat)) + "data: [DONE]\n\n"
    u = extract_usage(ai, {"status_code": 200, "sse": sse})
    if inp == 0:  # no input counted for a prompt: a placeholder, estimated (usage.ZERO_INPUT, ZERO_USAGE)
        assert (u.input_tokens, u.output_tokens, u.source) == (ai.input_tokens, out, "estimate")
        return
    assert (u.input_tokens, u.output_tokens, u.source) == (inp, out, "provider")


# --- Ollama ---------------------------------------------------------------------------------


def test_ollama_without_prompt_eval_count_keeps_its_output_count() -> None:
    ai = classify(_REQUESTS["ollama"] | {"body": {"model": "llama3.2", "stream": False,
                                                  "messages": [{"role": "user", "content": "Why is the sky blue?"}]}})
    u = extract_usage(ai, {"status_code": 200, "body": {"model": "llama3.2", "done": True, "eval_count": 23,
                                                        "message": {"role": "assistant", "content": "x " * 200}}})
    assert (u.input_tokens, u.output_tokens, u.source) == (ai.input_tokens, 23, "estimate") and u.notes
    streamed = stream_usage(ai)
    streamed.feed(b'{"model":"llama3.2","message":{"content":"hi"},"done":false}\n{"model":"llama3.2","done":true,"eval_count":23}\n')
    assert streamed.finish() == u


# --- classification ---------------------------------------------------------------------------


def test_azure_deployment_names_the_model_when_the_body_does_not() -> None:
    url = "https://contoso.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    ai = classify({"url": url, "body": {"messages": [{"role": "user", "content": "hi"}]}})
    assert (ai.provider, ai.operation, ai.model) == ("azure_openai", "chat", "gpt-4o-prod")
    # a body naming another model than the deployment Azure serves is refused (serve21)
    assert classify({"url": url, "body": {"model": "gpt-4o", "messages": []}}).problems[0][0] == "request.body.model"
    assert not classify({"url": url, "body": {"model": "gpt-4o-prod", "messages": []}}).problems
    emb = classify({"url": url.replace("chat/completions", "embeddings"), "body": {"input": "x"}})
    assert (emb.operation, emb.model) == ("embeddings", "gpt-4o-prod")


@pytest.mark.parametrize(("action", "stream", "op"), [("rawPredict", False, "messages"),
                                                     ("streamRawPredict", True, "messages")])
def test_claude_on_vertex_is_read_as_anthropic(action: str, stream: bool, op: str) -> None:
    url = ("https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
           f"claude-sonnet-4-5@20250929:{action}")
    ai = classify({"url": url, "body": {"anthropic_version": "vertex-2023-10-16", "max_tokens": 5,
                                        "messages": [{"role": "user", "content": "hi"}]}})
    assert (ai.provider, ai.api, ai.operation, ai.model, ai.stream) == (
        "vertex_ai", "anthropic", op, "claude-sonnet-4-5@20250929", stream)
    count = classify({"url": url.replace("claude-sonnet-4-5@20250929:" + action, "count-tokens:rawPredict"), "body": {}})
    assert (count.api, count.operation) == ("anthropic", "other")
    gemini = classify({"url": url.replace("anthropic/models/claude-sonnet-4-5@20250929:" + action,
                                          "google/models/gemini-2.5-pro:generateContent"), "body": {}})
    assert (gemini.provider, gemini.api, gemini.model) == ("vertex_ai", "gemini", "gemini-2.5-pro")


# --- SSE framing tolerance ------------------------------------------------------------------


def test_events_run_together_without_blank_lines_are_each_read() -> None:
    """A server or proxy that ends each ``data:`` line with one newline only: WHATWG joins the
    lines into one event whose data is no JSON; each line is then read as its own event."""
    ai = classify({"url": "https://api.openai.com/v1/chat/completions",
                   "body": {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}})
    chunks = [{"choices": [{"delta": {"content": "Hello"}}], "model": "gpt-4o"},
              {"choices": [], "model": "gpt-4o", "usage": {"prompt_tokens": 8, "completion_tokens": 2}}]
    sse = "".join(f"data: {json.dumps(c)}\n" for c in chunks) + "data:  [DONE] \n\n"
    u = extract_usage(ai, {"status_code": 200, "sse": sse})
    assert (u.input_tokens, u.output_tokens, u.source, u.notes) == (8, 2, "provider", ())
    multi = 'data: {"choices": [],\ndata:  "usage": {"prompt_tokens": 3, "completion_tokens": 1}}\n\n'
    assert extract_usage(ai, {"status_code": 200, "sse": multi}).input_tokens == 3  # a JSON split over lines


@SETTINGS
@given(lead=st.sampled_from(["", "\r\n", "  \n", "\ufeff"]), cuts=st.lists(st.integers(0, 3000), max_size=12))
def test_a_gemini_stream_is_sse_or_a_json_array_by_its_first_byte(lead: str, cuts: list[int]) -> None:
    """Fed as a stream (``sse`` or a gateway's bytes), a JSON array is read as one too."""
    ai = classify(GEMINI)
    chunks = [{"candidates": [{"content": {"parts": [{"text": "a"}]}}], "usageMetadata": {"promptTokenCount": 4}},
              {"candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}}]
    for text in (lead + "[" + ",\r\n".join(json.dumps(c) for c in chunks) + "]",
                 lead + "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks)):
        acc = stream_usage(ai)
        for chunk in _split(text.encode(), cuts):
            acc.feed(chunk)
        u = acc.finish()
        assert (u.input_tokens, u.output_tokens, u.source) == (4, 2, "provider"), text[:20]
        assert extract_usage(ai, {"status_code": 200, "sse": text}) == u


def test_tool_call_arguments_count_in_output_estimates() -> None:
    args = {"city": "Paris", "days": 3, "notes": "a fairly long note " * 20}
    cut = f"data: {json.dumps({'candidates': [{'content': {'parts': [{'functionCall': {'name': 'f', 'args': args}}]}}], 'usageMetadata': {'promptTokenCount': 9}})}\n\n"
    u = extract_usage(classify(GEMINI), {"status_code": 200, "sse": cut})
    assert (u.input_tokens, u.source) == (9, "estimate") and u.output_tokens > 50
    ai = classify(_REQUESTS["responses"])
    body = {"output": [{"type": "function_call", "name": "f", "arguments": json.dumps(args)}]}
    assert extract_usage(ai, {"status_code": 200, "body": body}).output_tokens > 50


def test_newer_azure_openai_endpoints_are_azure() -> None:
    url = "https://acme-res.cognitiveservices.azure.com/openai/deployments/o4-mini/chat/completions?api-version=2025-01-01-preview"
    ai = classify({"url": url, "body": {"messages": [{"role": "user", "content": "hi"}]}})
    assert (ai.provider, ai.model) == ("azure_openai", "o4-mini")


surrogate_text = st.lists(st.sampled_from(["\udcff", "\ud83d", "\ude00", "a", "{", "\n", "data: ", '"', "é"]),
                          max_size=30).map("".join)


@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini", "ollama"])
@SETTINGS
@given(pieces=st.lists(surrogate_text, max_size=8))
def test_text_chunks_with_lone_surrogates_never_raise(api: str, pieces: list[str]) -> None:
    """JSON may escape a lone surrogate (``"\\udcff"``): a stream given as such text is read,
    as the same usage whatever its split, and a response's ``sse`` text too."""
    whole = StreamUsage(api, input_estimate=3)
    whole.feed("".join(pieces))
    split = StreamUsage(api, input_estimate=3)
    for p in pieces:
        split.feed(p)
    assert split.finish() == whole.finish()
    ai = classify({"url": "/v1/chat/completions", "body": {"model": "m", "stream": True, "messages": []}})
    assert extract_usage(ai, {"status_code": 200, "sse": "".join(pieces)}).source == "estimate"


def test_a_zeroed_usage_chunk_after_the_real_one_does_not_wipe_it() -> None:
    ai = classify({"url": "https://api.openai.com/v1/chat/completions",
                   "body": {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}})
    real = {"choices": [], "model": "gpt-4o", "usage": {"prompt_tokens": 50, "completion_tokens": 9,
                                                         "prompt_tokens_details": {"cached_tokens": 32}}}
    zero = {"choices": [], "model": "gpt-4o", "usage": {"prompt_tokens": 0, "completion_tokens": 0}}
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in (real, zero)) + "data: [DONE]\n\n"
    u = extract_usage(ai, {"status_code": 200, "sse": sse})
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.source) == (50, 9, 32, "provider")


@pytest.mark.parametrize(("url", "body", "answer"), [
    ("https://api.anthropic.com/v1/messages/count_tokens",
     {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "a long prompt " * 50}]}, {"input_tokens": 412}),
    ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens",
     {"contents": [{"parts": [{"text": "a long prompt " * 50}]}]},
     {"totalTokens": 402, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 402}]}),
])
def test_token_counting_calls_use_no_tokens(url: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
    ai = classify({"url": url, "body": body})
    assert ai.operation == "other" and ai.input_tokens > 100 and not ai.inference
    u = extract_usage(ai, {"status_code": 200, "body": answer})
    assert (u.input_tokens, u.output_tokens, u.source) == (0, 0, "provider") and u.notes
    # the path says it runs no model (payloads23: tests/providers/test_no_model_calls.py), whatever it answers
    other = extract_usage(ai, {"status_code": 200, "body": {"something": "else"}})
    assert (other.input_tokens, other.output_tokens, other.source) == (0, 0, "provider")


def test_other_publishers_on_vertex_are_not_gemini() -> None:
    url = ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/mistralai/"
           "models/mistral-large-2411:rawPredict")
    ai = classify({"url": url, "body": {"model": "mistral-large-2411", "messages": [{"role": "user", "content": "hi"}]}})
    assert (ai.provider, ai.api, ai.operation, ai.model) == ("vertex_ai", "openai", "chat", "mistral-large-2411")
    u = extract_usage(ai, {"status_code": 200, "body": {"model": "mistral-large-2411", "usage": {
        "prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}}})
    assert (u.input_tokens, u.output_tokens, u.source) == (12, 30, "provider")


@pytest.mark.parametrize(("url", "status", "body", "note"), [
    ("https://api.openai.com/v1/chat/completions", 429,
     {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
     "upstream error 429: rate_limit_exceeded"),
    ("https://api.anthropic.com/v1/messages", 529,
     {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "upstream error 529: overloaded_error"),
    ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent", 429,
     [{"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}],
     "upstream error 429: RESOURCE_EXHAUSTED"),
    ("http://localhost:11434/api/chat", 404, {"error": "model 'llama9' not found"}, "upstream error 404"),
    ("https://api.openai.com/v1/chat/completions", 502, "<html>Bad gateway</html>", "upstream error 502"),
    # Bedrock: `{"message"}` alone, the kind in the X-Amzn-ErrorType header (`Kind:uri`)
    ("https://bedrock-runtime.us-east-1.amazonaws.com/model/meta.llama3-8b-instruct-v1:0/invoke", 429,
     {"message": "Too many requests, please wait before trying again."}, "upstream error 429: ThrottlingException"),
])
def test_an_upstream_error_names_its_status_and_kind(url: str, status: int, body: object, note: str) -> None:
    ai = classify({"url": url, "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                        "contents": [{"parts": [{"text": "hi"}]}], "stream": False}})
    headers = {"X-Amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    u = extract_usage(ai, {"status_code": status, "body": body, "headers": headers if "amazonaws" in url else {}})
    assert (u.input_tokens, u.output_tokens, u.source) == (ai.input_tokens, 0, "estimate")
    assert u.notes[-1] == note
