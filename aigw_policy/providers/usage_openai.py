"""The usage objects of OpenAI's wire formats -> :class:`~.usage.Usage`: chat completions,
completions, embeddings, the Responses API, images and audio, and what OpenAI-compatible
servers (DeepSeek, Mistral, Perplexity, vLLM, SGLang...) add to them. Pure, as :mod:`.usage` is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .billed import audio_seconds, reported_cost
from .usage import NO_INPUT, Usage, _get, _list, _n, _opt, _units, _with_gap, _within, tok, with_units

__all__ = ["BESIDE", "IMAGE_DONE", "duration_usage", "image_usage", "images_answer", "message_texts", "openai_usage", "tool_calls"]


def openai_usage(u: object) -> Usage | None:
    """Chat completions, completions, embeddings (``prompt_tokens``) and responses
    (``input_tokens``) usage objects; also what vLLM and Ollama's OpenAI API send.

    Their details are parts of the totals: ``cached_tokens`` and ``cache_write_tokens`` (the
    cache reads and writes of models that bill writes) of the input (when no detail names
    them: DeepSeek's ``prompt_cache_hit_tokens``, Moonshot's top-level ``cached_tokens``),
    ``reasoning_tokens`` of the output, and the ``audio_tokens`` of either, billed at the audio
    price. Perplexity counts two parts beside the totals, at the top level (:data:`BESIDE`):
    ``citation_tokens`` are input (as Mistral's conversations' ``connector_tokens``), its top-level
    ``reasoning_tokens`` output (and reasoning), its ``num_search_queries`` web searches; SGLang's top-level
    ``reasoning_tokens`` are the reasoning detail of ``completion_tokens``."""
    if not isinstance(u, Mapping):
        return None
    if u.get("type") == "duration" and "input_tokens" not in u:  # whisper-1: billed by the audio's length
        return duration_usage(u.get("seconds"))
    if "input_tokens" in u or "output_tokens" in u:  # responses API (and images, audio)
        inp, out = tok(u.get("input_tokens")), _opt(u, "output_tokens")
        # the audio transcriptions' usage spells it `input_token_details`
        ins = "input_token_details" if "input_token_details" in u and "input_tokens_details" not in u \
            else "input_tokens_details"
        outs = "output_tokens_details"
    else:
        inp, out = tok(u.get("prompt_tokens")), _opt(u, "completion_tokens")
        ins, outs = "prompt_tokens_details", "completion_tokens_details"
    notes: list[str] = []
    if inp is None and out and u.get("input_tokens" if ins != "prompt_tokens_details" else "prompt_tokens") is None:
        inp = 0  # an output count and no input count at all: the request's estimate stands in
        notes.append(NO_INPUT)
    if inp is None or out is None:
        return None
    apart = thought = searches = 0
    if "citation_tokens" in u or "reasoning_tokens" in u or "num_search_queries" in u or "connector_tokens" in u:
        citations, top = _opt(u, "citation_tokens"), _opt(u, "reasoning_tokens")
        searches, read = _opt(u, "num_search_queries"), _opt(u, "connector_tokens")
        if citations is None or top is None or searches is None or read is None:
            return None
        if _get(u, outs, "reasoning_tokens") is None:  # else a copy of the detail
            thought = top
            if "citation_tokens" in u or "num_search_queries" in u:  # Perplexity's: apart from the totals
                apart = top
        inp, out = inp + citations + read, out + apart
    total = tok(u.get("total_tokens"))
    if u.get("prompt_audio_seconds") is not None and total is not None and total > inp + out:
        # Mistral's audio: its tokens are in the total alone, and they are input (billed by the minute)
        notes.append(f"total above input + output: {total - inp - out} audio input tokens")
        inp = total - out
    out = _with_gap(inp, out, total, notes)
    cached = _within(_n(u, ins, "cached_tokens") or _n(u, "prompt_cache_hit_tokens") or _n(u, "cached_tokens")
                     or _n(u, "num_cached_tokens") or _n(u, "prompt_token_details", "cached_tokens"),
                     inp, "cached_tokens", notes)
    written = _within(_n(u, ins, "cache_write_tokens"), inp - cached, "cache_write_tokens", notes)
    reasoning = _within(_n(u, outs, "reasoning_tokens") + thought, out, "reasoning_tokens", notes)
    units = _units((*_modal(u, ins, "input", inp, notes), *_modal(u, outs, "output", out, notes),
                    *(audio_seconds(u.get("prompt_audio_seconds")) or ()), ("web_searches", searches)))
    return Usage.of(inp, out, cached_input_tokens=cached, cache_creation_input_tokens=written,
                    reasoning_tokens=reasoning, notes=tuple(notes), units=units,
                    reported_usd=reported_cost(u) if "cost" in u or "cost_in_usd_ticks" in u else None)


def image_usage(u: object) -> Usage | None:
    """The usage of an image generation (the Images API's answer, its stream's last event, the
    Responses API's image tool): :func:`openai_usage`, its output image tokens (``output_image_tokens``)
    all of ``output_tokens`` but the text an ``output_tokens_details`` names (gpt-image-1.5's
    breakdown, read as it is when it names the image's). Image output is priced apart from text
    output (gpt-image-1.5: $32 against $10 per MTok); a model with one output price is unchanged."""
    usage = openai_usage(u)
    if usage is None or not usage.output_tokens or _get(u, "output_tokens_details", "image_tokens") is not None:
        return usage
    text = min(_n(u, "output_tokens_details", "text_tokens"), usage.output_tokens)
    return with_units(usage, (("output_image_tokens", usage.output_tokens - text),))


def images_answer(body: Mapping[str, Any]) -> bool:
    """Whether a JSON answer is the Images API's (``/images/generations``, ``/images/edits``:
    ``created``, ``data``, and no ``object``, which an embeddings list has)."""
    return "created" in body and type(body.get("data")) is list and "object" not in body


IMAGE_DONE = frozenset(("image_generation.completed", "image_edit.completed"))
"""The events that end a streamed image generation or edit, with its usage."""


def duration_usage(seconds: object) -> Usage | None:
    """A transcription billed by its audio's length (``usage: {type: duration, seconds}``,
    whisper-1): no tokens, its seconds as :func:`~.billed.audio_seconds` gives them; None for
    anything but a finite number >= 0."""
    units = audio_seconds(seconds)
    return Usage.of(0, 0, units=units) if units is not None else None


def _modal(u: Mapping[str, Any], details: str, part: str, whole: int, notes: list[str]) -> list[tuple[str, int]]:
    """The audio and image tokens of an OpenAI-shaped breakdown (``audio_tokens``, and
    ``image_tokens``: gpt-image-1's image input, $10 per MTok against $5 for text), by their
    :data:`PRICED_UNITS` names; left out, with a note, when together above their total."""
    audio, image = _n(u, details, "audio_tokens"), _n(u, details, "image_tokens")
    if audio + image > whole:
        if not image:
            return [(f"{part}_audio_tokens", _within(audio, whole, "audio_tokens", notes))]
        notes.append(f"{details} above their total: priced as text")
        return []
    return [(f"{part}_audio_tokens", audio), (f"{part}_image_tokens", image)]


BESIDE = frozenset(("prompt_cache_hit_tokens", "cached_tokens", "num_cached_tokens", "prompt_token_details",
                    "citation_tokens", "reasoning_tokens", "num_search_queries", "connector_tokens"))
"""The counts an OpenAI-shaped usage object may carry at its top level, beside the OpenAI ones:
DeepSeek's ``prompt_cache_hit_tokens``, Moonshot's ``cached_tokens`` and Mistral's
``num_cached_tokens`` or ``prompt_token_details.cached_tokens`` (so spelt; cache reads, a part
of the prompt), Perplexity's ``citation_tokens`` (the search results it read: input, billed at
the input price, left out of ``prompt_tokens`` and ``total_tokens``) and its top-level
``reasoning_tokens`` (Deep Research's reasoning step, billed apart, left out of
``completion_tokens`` and ``total_tokens``: added to the output; told from SGLang's, a part of
``completion_tokens``, by the ``citation_tokens`` or ``num_search_queries`` beside them); Mistral's
conversations' ``connector_tokens`` (what its connectors, web search..., fed the model: input)."""

def tool_calls(output: object) -> tuple[tuple[str, int], ...]:
    """The searches billed per call among a Responses API answer's ``output`` items: each
    ``web_search_call`` whose action is a search (``open_page`` and ``find_in_page`` are not
    billed; an item without an action is one, as older answers wrote them), each
    ``file_search_call``."""
    web = files = 0
    for item in _list(output):
        kind = _get(item, "type")
        if kind == "web_search_call":
            action = _get(item, "action", "type")
            web += action is None or action == "search"
        elif kind == "file_search_call":
            files += 1
    return _units((("web_searches", web), ("storage_searches", files)))


_MESSAGE_TEXTS = ("content", "reasoning_content", "reasoning", "refusal")
_OTHER_TEXTS = (("function_call", "arguments"), ("audio", "transcript"))
"""Fields beside those whose text the model writes: the deprecated ``function_call``'s
arguments, an audio answer's transcript (its ``data`` is audio, not text)."""


def message_texts(message: Mapping[str, Any], out: list[str]) -> None:
    """The text a model wrote in a chat message or a streamed delta, in ``out``: its content
    (a string, or Mistral's list of chunks, Magistral's ``thinking`` ones too), its reasoning
    (DeepSeek's ``reasoning_content``, OpenRouter's and vLLM's ``reasoning``), a refusal, its
    tool calls' arguments, the deprecated ``function_call``'s and an audio answer's transcript."""
    for key in _MESSAGE_TEXTS:
        value = message.get(key)
        if isinstance(value, str):
            out.append(value)
        elif type(value) is list:
            _chunk_texts(value, out, 2)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for c in calls:
            fn = c.get("function") if type(c) is dict or isinstance(c, Mapping) else None
            if (type(fn) is dict or isinstance(fn, Mapping)) and isinstance(fn.get("arguments"), str):
                out.append(fn["arguments"])
    for key, field in _OTHER_TEXTS:
        value = message.get(key)
        if value is not None and (type(value) is dict or isinstance(value, Mapping)) and isinstance(value.get(field), str):
            out.append(value[field])


def _chunk_texts(chunks: list[Any], out: list[str], depth: int) -> None:
    """The text of a list of content chunks (``{type: text, text}``; Magistral's ``{type:
    thinking, thinking: [chunks]}``, ``depth`` levels down)."""
    for chunk in chunks:
        if type(chunk) is dict or isinstance(chunk, Mapping):
            text = chunk.get("text")
            if isinstance(text, str):
                out.append(text)
            inner = chunk.get("thinking")
            if isinstance(inner, str):
                out.append(inner)
            elif type(inner) is list and depth > 1:
                _chunk_texts(inner, out, depth - 1)
