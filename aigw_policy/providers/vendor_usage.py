"""Usage of the wire formats that are neither OpenAI's, Anthropic's nor Gemini's: Cohere's
native API, Amazon Bedrock's Converse and Ollama's native API; and the names Gemini's
Interactions API gives Gemini's counts. Pure, as :mod:`.usage`.

- **Cohere** (v2 ``/v2/chat``, ``/v2/embed``; v1 ``/v1/chat``, ``/v1/embed``): ``usage`` (v2
  chat, and a v2 stream's ``message-end`` event under ``delta``) or ``meta`` (v1, embed) holds
  ``billed_units`` (what Cohere bills) and ``tokens`` (everything the model read and wrote,
  its own prompt template included, which is not billed). The billed units are the usage;
  ``tokens`` only when no billed units are given. ``cached_tokens`` beside them (the prompt
  tokens that hit Cohere's inference cache) is the cached part of the input.
- **Bedrock Converse** (``/model/{id}/converse``, the ``metadata`` event of
  ``converse-stream``): ``usage.inputTokens`` leaves out the cache reads and writes
  (``cacheReadInputTokens``, ``cacheWriteInputTokens``), which ``totalTokens`` counts: they
  are added to the input, as Anthropic's are. A ``totalTokens`` equal to input plus output
  with the cache counts inside ``inputTokens`` says they are a part of it: not added.
  ``cacheDetails: [{ttl: "1h", inputTokens}]`` names the writes to the 1-hour cache.
- **Ollama** (``/api/chat``, ``/api/generate``, ``/api/embed``): ``prompt_eval_count`` and
  ``eval_count`` (:func:`ollama_usage`; :func:`ollama_output_only` when the first is missing).
- **Mistral's OCR** (``/v1/ocr``, Document AI): billed by the page, not the token:
  ``usage_info.pages_processed`` (:func:`ocr_usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .billed import searches_billed
from .usage import Usage, _get, _list, _n, _with_gap, _within, counts_of, tok, with_units
from .usage_gemini import gemini_fields, gemini_usage_from_fields

__all__ = ["bedrock_usage", "cohere_usage", "converse_text", "cohere_delta_text", "interaction_fields",
           "interaction_usage", "ocr_usage", "ollama_output_only", "ollama_usage"]

_COHERE_COUNTS = ("input_tokens", "output_tokens")


def cohere_usage(body: object) -> Usage | None:
    """The usage of a Cohere answer (a v2 chat body, a v2 stream's ``message-end`` delta, a
    v1 or embed body's ``meta``), or None."""
    if not isinstance(body, Mapping):
        return None
    for key in ("usage", "meta"):
        u = body.get(key)
        if not isinstance(u, Mapping):
            continue
        for part in ("billed_units", "tokens"):
            if u.get(part) is None:
                continue
            counts = counts_of(u[part], (*_COHERE_COUNTS, "search_units"))
            if "input_tokens" not in counts and counts.get("search_units") is not None:
                # a rerank: billed per search unit (a query over up to 100 documents), no tokens
                return Usage.of(0, 0, units=(("rerank_searches", counts["search_units"]),)
                                if counts["search_units"] else ())
            if "input_tokens" not in counts:
                return None  # a bad count, or none: not trusted at all (never `tokens` instead)
            return _with_cached(Usage.of(counts["input_tokens"], counts.get("output_tokens", 0)), u.get("cached_tokens"))
    return None


def _with_cached(usage: Usage, raw: object) -> Usage:
    """``usage`` with Cohere's ``cached_tokens`` (beside ``billed_units`` and ``tokens``: the
    prompt tokens that hit its inference cache, a part of the input) as its cached input."""
    if raw is None:
        return usage
    cached = tok(raw)
    notes: list[str] = []
    if cached is None:
        notes.append("cached_tokens is not a count: left out")
    cached = _within(cached or 0, usage.input_tokens, "cached_tokens", notes)
    return Usage.of(usage.input_tokens, usage.output_tokens, cached_input_tokens=cached, notes=tuple(notes))


def bedrock_usage(u: object) -> Usage | None:
    """Bedrock Converse's ``usage`` (``TokenUsage``), or None."""
    counts = counts_of(u, ("inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens",
                           "cacheWriteInputTokens"))
    if "inputTokens" not in counts or not isinstance(u, Mapping):
        return None
    inp, out = counts["inputTokens"], counts.get("outputTokens", 0)
    read, write = counts.get("cacheReadInputTokens", 0), counts.get("cacheWriteInputTokens", 0)
    total = counts.get("totalTokens")
    notes: list[str] = []
    if not (read or write) or not (total is not None and total == inp + out and read + write <= inp):
        inp += read + write  # reported apart from inputTokens: the input is all three
    one_hour = 0
    details = u.get("cacheDetails")
    if isinstance(details, list):
        for entry in details:
            if isinstance(entry, Mapping) and entry.get("ttl") == "1h":
                n = tok(entry.get("inputTokens"))
                if n is None:
                    return None
                one_hour += n
    read = _within(read, inp, "cacheReadInputTokens", notes)
    write = _within(write, inp - read, "cacheWriteInputTokens", notes)
    one_hour = _within(one_hour, write, "cacheDetails 1h", notes)
    out = _with_gap(inp, out, total, notes)
    return Usage.of(inp, out, cached_input_tokens=read, cache_creation_input_tokens=write,
                    cache_creation_1h_input_tokens=one_hour, notes=tuple(notes))


def converse_text(body: object) -> list[str]:
    """The generated text of a Converse answer (for estimates): text, reasoning and tool
    calls' input."""
    import json  # noqa: PLC0415 - estimates only

    out: list[str] = []
    content = _get(body, "output", "message", "content")
    for block in content if isinstance(content, list) else ():
        if isinstance(_get(block, "text"), str):
            out.append(block["text"])
        text = _get(block, "reasoningContent", "reasoningText", "text")
        if isinstance(text, str):
            out.append(text)
        if isinstance(_get(block, "toolUse", "input"), Mapping):
            try:
                out.append(json.dumps(block["toolUse"]["input"], ensure_ascii=False))
            except (TypeError, ValueError, RecursionError):
                pass
    return out


def cohere_delta_text(obj: Mapping[str, Any]) -> list[str]:
    """The text of a Cohere v2 stream event (``content-delta``: text or thinking,
    ``tool-call-delta``: arguments), of a whole v2 chat answer's ``message``, of a v1 chat
    answer (``text``) or a v1 generate answer (``generations[].text``)."""
    message = _get(obj, "delta", "message") if "delta" in obj else obj.get("message")
    if not isinstance(message, Mapping):
        v1 = [obj["text"]] if isinstance(obj.get("text"), str) else []
        generations = obj.get("generations")
        for g in generations if isinstance(generations, list) else ():
            if isinstance(_get(g, "text"), str):
                v1.append(g["text"])
        return v1
    out: list[str] = []
    content = message.get("content")
    for block in content if isinstance(content, list) else (content,):
        for key in ("text", "thinking"):
            if isinstance(_get(block, key), str):
                out.append(block[key])
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else (calls,):
        if isinstance(_get(call, "function", "arguments"), str):
            out.append(call["function"]["arguments"])
    if isinstance(message.get("tool_plan"), str):
        out.append(message["tool_plan"])
    return out


_INTERACTION_NAMES = (("total_input_tokens", "promptTokenCount"), ("total_output_tokens", "candidatesTokenCount"),
                      ("total_cached_tokens", "cachedContentTokenCount"), ("total_thought_tokens", "thoughtsTokenCount"),
                      ("total_tool_use_tokens", "toolUsePromptTokenCount"), ("total_tokens", "totalTokenCount"),
                      ("input_tokens_by_modality", "promptTokensDetails"),
                      ("tool_use_tokens_by_modality", "toolUsePromptTokensDetails"),
                      ("cached_tokens_by_modality", "cacheTokensDetails"),
                      ("output_tokens_by_modality", "candidatesTokensDetails"))


def interaction_fields(u: object) -> dict[str, int]:
    """:func:`gemini_fields` of the ``usage`` of Gemini's Interactions API (``total_input_tokens``
    ... ``total_tokens``, ``input_tokens_by_modality: [{modality: "text", tokens}]``...), the
    same counts under other names: thoughts and tool-use prompts apart, as in ``usageMetadata``."""
    if not isinstance(u, Mapping):
        return {}
    m: dict[str, Any] = {}
    for name, gemini in _INTERACTION_NAMES:
        value = u.get(name)
        if type(value) is list:
            value = [{"modality": e.get("modality", "").upper() if isinstance(e.get("modality"), str) else None,
                      "tokenCount": e.get("tokens")} for e in value if isinstance(e, Mapping)]
        if value is not None:
            m[gemini] = value
    return gemini_fields(m)


def interaction_usage(interaction: object, model: str | None) -> Usage | None:
    """The usage of an Interactions API ``interaction`` (its ``usage``: :func:`interaction_fields`),
    with the Google searches its ``grounding_tool_count`` names (``[{type: google_search,
    count}]``) as ``web_searches`` (:func:`~.billed.searches_billed`, by ``model``); None
    without usable counts. A count that is not a count is noted, not billed."""
    u = _get(interaction, "usage")
    usage = gemini_usage_from_fields(interaction_fields(u))
    tools = _get(u, "grounding_tool_count")
    if usage is None or tools is None:
        return usage
    searches, bad = 0, False
    for entry in tools if isinstance(tools, list) else (tools,):
        if isinstance(entry, Mapping) and entry.get("type") == "google_search" and entry.get("count") is not None:
            n = tok(entry["count"])
            bad = bad or n is None
            searches += n or 0
        elif not isinstance(entry, Mapping):
            bad = True
    if bad:
        usage = replace(usage, notes=(*usage.notes, "grounding_tool_count is not a list of counts: left out"))
    return with_units(usage, searches_billed(searches, model))


def ollama_usage(obj: object) -> Usage | None:
    """Ollama's native API (``/api/chat``, ``/api/generate``, ``/api/embed``).
    ``prompt_eval_count`` includes the prompt tokens read from Ollama's KV cache, which newer
    versions report as ``prompt_eval_cached_count``."""
    if not isinstance(obj, Mapping):
        return None
    prompt = tok(obj.get("prompt_eval_count"))
    if prompt is None:
        return None
    notes: list[str] = []
    cached = _within(_n(obj, "prompt_eval_cached_count"), prompt, "prompt_eval_cached_count", notes)
    return Usage.of(prompt, _n(obj, "eval_count"), cached_input_tokens=cached, notes=tuple(notes))


def ollama_output_only(obj: object, input_estimate: int) -> Usage | None:
    """A finished Ollama answer with ``eval_count`` but no ``prompt_eval_count``: Ollama
    (versions before mid-2024) left it out when the whole prompt came from its cache. The output is the
    server's count; the input is the request's estimate, so the usage is an estimate."""
    if not isinstance(obj, Mapping) or obj.get("prompt_eval_count") is not None:
        return None
    out = tok(obj.get("eval_count"))
    if out is None:
        return None
    return Usage.of(input_estimate, out, source="estimate",
                    notes=("no prompt_eval_count (prompt cached?): input estimated",))


def ocr_usage(body: object) -> Usage | None:
    """The usage of a Mistral OCR answer (``usage_info: {pages_processed, doc_size_bytes}``): no
    tokens, its pages billed apart (``input_document_pages``, genai-prices' unit), and, when it
    carries annotations (``document_annotation``, an image's ``image_annotation``: asked for by
    ``document_annotation_format`` / ``bbox_annotation_format``), the same pages as annotated
    ones (``input_annotated_document_pages``, their own price), as genai-prices' ``ocr_annotated``
    reading of it; None for any other body (a bad count too: the answer is then estimated)."""
    pages = tok(_get(body, "usage_info", "pages_processed"))
    if pages is None:
        return None
    annotated = _get(body, "document_annotation") is not None or any(
        _get(image, "image_annotation") is not None
        for page in _list(_get(body, "pages")) for image in _list(_get(page, "images")))
    units = (("input_document_pages", pages),) + ((("input_annotated_document_pages", pages),) if annotated else ())
    return Usage.of(0, 0, units=units)
