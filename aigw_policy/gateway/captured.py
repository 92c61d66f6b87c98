"""An answer as the middleware keeps it to read its usage: its text (content coding undone),
or, for a stream too long to keep, an incremental usage reader and the JSON body it stands for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..providers.encoding import codings, decode_body
from ..providers.errors import ProviderError
from ..providers.usage_gemini import TRAFFIC_TIERS

__all__ = ["STREAM_TYPES", "answer_text", "header_value", "overflow_usage", "streamed", "usage_body"]

STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/ndjson", "application/jsonl",
                "application/stream+json",  # Cohere v1's stream (a JSON object a line)
                EVENT_STREAM := "application/vnd.amazon.eventstream")  # Bedrock's binary stream
_STREAM_TYPE = re.compile("|".join(re.escape(t) for t in STREAM_TYPES))  # one of them, anywhere in a Content-Type


def streamed(ctype: str, status: int, path: str) -> bool:
    """Whether an answer is a stream, passed on as it comes: an event-stream or NDJSON
    ``ctype`` (lower-case), or Gemini's ``:streamGenerateContent`` answering ``status`` < 400
    (without ``alt=sse`` it streams a JSON array as ``application/json``).

    >>> streamed("application/json", 200, "/v1beta/models/g:streamGenerateContent"), streamed("application/json", 200, "/")
    (True, False)
    """
    return _STREAM_TYPE.search(ctype) is not None or (status < 400 and ":streamGenerateContent" in path)


def header_value(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    """The first ``name`` header (lower case) of an ASGI header list, or ``""``."""
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


def answer_text(body: bytearray, headers: Mapping[str, str]) -> str:
    """An answer's text for usage and the response phase, its content coding undone (an app
    other than UpstreamProxy may send gzip, br, ... to a client that accepts it)."""
    data = bytes(body)
    if codings(headers.get("content-encoding")):
        try:
            data = decode_body(data, headers.get("content-encoding"))
        except ProviderError:
            pass  # left as is: usage is then estimated
    if EVENT_STREAM in (headers.get("content-type") or "").lower():
        return data.decode("latin-1")  # binary frames: a character a byte, as the usage reader takes them
    return data.decode("utf-8", "replace")


def overflow_usage(decision: Any, head: bytes, request: Mapping[str, Any]) -> Any:
    """An incremental usage reader for a stream too long to keep whole, in the answer's wire
    format as the engine reads it (``AiRequest.api`` of the engine ``request``: a provider
    label is not enough, Claude on Vertex speaks Anthropic's events, Ollama's native API
    NDJSON, Gemini's OpenAI endpoint OpenAI's)."""
    from ..providers import StreamUsage
    from .effects import decision_api

    ai = decision.ai
    api = decision_api(decision)
    acc = StreamUsage(api, input_estimate=int(ai.get("input_tokens") or 0), model=ai.get("model") or None)
    acc.feed(head)
    return acc


def usage_body(acc: Any, api: str) -> Any:
    """A JSON body the engine reads back as the usage an overflowing stream reported, the
    counts priced apart (``Usage.units``) and the service tier included."""
    u = acc.finish()
    if u.source != "provider":
        return None  # the engine estimates from the request
    if api == "anthropic":
        fresh = u.input_tokens - u.cached_input_tokens - u.cache_creation_input_tokens
        return {"model": u.model, "usage": {"input_tokens": fresh, "output_tokens": u.output_tokens,
                                            "cache_read_input_tokens": u.cached_input_tokens,
                                            "cache_creation_input_tokens": u.cache_creation_input_tokens,
                                            "cache_creation": {
                                                "ephemeral_1h_input_tokens": u.cache_creation_1h_input_tokens},
                                            "server_tool_use": {"web_search_requests": u.unit("web_searches")},
                                            "output_tokens_details": {"thinking_tokens": u.reasoning_tokens},
                                            **_ticks(u), **({"speed": "fast"} if u.service_tier == "fast" else {})}}
    if api == "cohere":
        return {"model": u.model, "usage": {"billed_units": {"input_tokens": u.input_tokens,
                                                             "output_tokens": u.output_tokens},
                                            "cached_tokens": u.cached_input_tokens}}
    if api == "bedrock":
        fresh = u.input_tokens - u.cached_input_tokens - u.cache_creation_input_tokens
        return {"model": u.model, "usage": {
            "inputTokens": fresh, "outputTokens": u.output_tokens,
            "totalTokens": u.total_tokens, "cacheReadInputTokens": u.cached_input_tokens,
            "cacheWriteInputTokens": u.cache_creation_input_tokens,
            "cacheDetails": [{"ttl": "1h", "inputTokens": u.cache_creation_1h_input_tokens}]}}
    if api == "gemini":  # the searches it was grounded with as as many queries (billed.grounded_searches)
        searches = u.unit("web_searches")
        return {"modelVersion": u.model, "usageMetadata": {
            "promptTokenCount": u.input_tokens, "candidatesTokenCount": u.output_tokens - u.reasoning_tokens,
            "thoughtsTokenCount": u.reasoning_tokens, "cachedContentTokenCount": u.cached_input_tokens,
            "totalTokenCount": u.total_tokens, **_modalities(u.units), **_traffic(u.service_tier)},
            **({"candidates": [{"index": 0, "groundingMetadata": {
                "webSearchQueries": [f"search {i + 1}" for i in range(searches)]}}]} if searches else {})}
    calls = [{"type": "web_search_call", "action": {"type": "search"}}] * u.unit("web_searches") + [
        {"type": "file_search_call"}] * u.unit("storage_searches")  # the Responses API's, billed per call
    return {"model": u.model, "service_tier": u.service_tier, **({"output": calls} if calls else {}),
            **_tool_models(u),
            "usage": {**({"cost": float(u.reported_usd)} if u.reported_usd is not None else {}),
                      "prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                      "total_tokens": u.total_tokens,
                      "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens,
                                                "cache_write_tokens": u.cache_creation_input_tokens,
                                                "audio_tokens": u.unit("input_audio_tokens"),
                                                "image_tokens": u.unit("input_image_tokens")},
                      "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens,
                                                    "audio_tokens": u.unit("output_audio_tokens"),
                                                    "image_tokens": u.unit("output_image_tokens")}}}


def _traffic(tier: str | None) -> dict[str, str]:
    """The tier a Gemini usage was served at as Vertex AI's ``usageMetadata.trafficType`` names it."""
    return next(({"trafficType": name} for name, value in TRAFFIC_TIERS.items() if value == tier), {})


def _ticks(u: Any) -> dict[str, int]:
    """xAI's ``cost_in_usd_ticks`` (1e-10 USD) of a usage that reported what it cost, as its
    Anthropic-compatible API names it."""
    return {} if u.reported_usd is None else {"cost_in_usd_ticks": int(u.reported_usd * 10**10)}


def _tool_models(u: Any) -> dict[str, Any]:
    """The Responses API's ``tool_usage.image_gen`` and its tool's model (the usage a tool ran on
    a model of its own: ``Usage.other_models``), as the Response object names them; Groq's
    ``usage_breakdown`` for a usage that is the sum of its models' (``Usage.by_parts``)."""
    if not u.other_models:
        return {}
    if u.by_parts:  # Groq's compound systems: the models that ran, whose counts are the usage's
        return {"usage_breakdown": {"models": [
            {"model": name, "usage": {"prompt_tokens": part.input_tokens, "completion_tokens": part.output_tokens,
                                      "total_tokens": part.total_tokens,
                                      "prompt_tokens_details": {"cached_tokens": part.cached_input_tokens},
                                      "completion_tokens_details": {"reasoning_tokens": part.reasoning_tokens}}}
            for name, part in u.other_models]}}
    model, part = u.other_models[0]
    return {"tools": [{"type": "image_generation", "model": model}], "tool_usage": {"image_gen": {
        "input_tokens": part.input_tokens, "output_tokens": part.output_tokens, "total_tokens": part.total_tokens,
        "input_tokens_details": {"cached_tokens": part.cached_input_tokens,
                                 "image_tokens": part.unit("input_image_tokens")},
        "output_tokens_details": {"image_tokens": part.unit("output_image_tokens")}}}}


_GEMINI_DETAILS = {"input": "promptTokensDetails", "cache": "cacheTokensDetails", "output": "candidatesTokensDetails"}


def _modalities(units: tuple[tuple[str, int], ...]) -> dict[str, list[dict[str, Any]]]:
    """Gemini's per-modality breakdowns of the audio, image and video counts of ``units``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, count in units:
        part, kind = name.split("_")[:2]
        if part in _GEMINI_DETAILS:
            out.setdefault(_GEMINI_DETAILS[part], []).append({"modality": kind.upper(), "tokenCount": count})
    return out
